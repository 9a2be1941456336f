import { existsSync, statSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import Fastify, { type FastifyInstance } from 'fastify'
import { createTestIssuer, type TestIssuer, type KeyPair } from 'fastify-oauth-resource-server/testing'
import type { Test } from 'tap'
import app, { type AppOptions } from '../app.js'

export type Env = Record<string, string | undefined>

/** The app, ready, on the given environment only; closed when the test ends. */
export async function build (t: Test, env: Env, options: Omit<AppOptions, 'env'> = {}): Promise<FastifyInstance> {
  const server = Fastify()
  t.teardown(() => server.close())
  await server.register(app, { ...options, env })
  await server.ready()
  return server
}

/** A loopback identity provider, closed when the test ends. */
export async function idpFor (t: Test, options: { keys?: KeyPair[], audience?: string } = {}): Promise<TestIssuer> {
  const idp = await createTestIssuer(options)
  t.teardown(() => idp.close())
  return idp
}

export function envFor (idp: TestIssuer, extra: Env = {}): Env {
  return { ISSUER_BASE_URL: idp.issuer, AUDIENCE: idp.audience, ...extra }
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` })

/** The RFC 9728 challenge parameter the app adds, as seen through inject (host localhost:80). */
export const RESOURCE_METADATA = 'resource_metadata="http://localhost:80/.well-known/oauth-protected-resource"'

/** The DPoP challenge every 401 also carries under the default DPOP=allowed (RFC 9449 §7.1). */
export const DPOP_CHALLENGE = 'DPoP realm="api", algs="ES256 EdDSA RS256 PS256"'

/**
 * The compiled file of an entry point (`'server'`, `'scripts/token'`) for a child process:
 * `npm test` builds first, so a child starts in a fraction of a second instead of
 * compiling TypeScript again. A missing or older build is an error saying what to run.
 */
export function compiled (entry: string): string {
  const file = fileURLToPath(new URL(`../dist/${entry}.js`, import.meta.url))
  const source = fileURLToPath(new URL(`../${entry}.ts`, import.meta.url))
  if (!existsSync(file) || statSync(file).mtimeMs < statSync(source).mtimeMs) {
    throw new Error(`dist/${entry}.js is missing or older than ${entry}.ts: run npm run build (npm test does)`)
  }
  return file
}
