import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import Fastify, { type FastifyInstance } from 'fastify'
import type { TestIssuer } from 'fastify-oauth-resource-server/testing'
import type { Test } from 'tap'
import app, { type AppOptions } from '../app.js'
import { loadConfig } from '../config/index.js'

export type Env = Record<string, string | undefined>

/**
 * Fastify options for a test's server: no plugin start-up limit. Fastify's 10 s default
 * measures the machine (the app loads prom-client and oidc-provider, makes keys and hashes
 * passwords) more than the code; a start that never ends is still stopped by tap's timeout.
 */
export const TEST_SERVER = { pluginTimeout: 0 } as const

/** The app, ready, on the given environment only; closed when the test ends. */
export async function build (t: Test, env: Env, options: Omit<AppOptions, 'config'> = {}): Promise<FastifyInstance> {
  const config = loadConfig(env)
  const server = Fastify(TEST_SERVER)
  t.teardown(() => server.close())
  // Key fetches get the longest timeout allowed unless the test sets one: a loaded machine can
  // hold a loopback answer for seconds.
  const keys = { fetchTimeout: 60, ...options.authOptions?.keys }
  await server.register(app, { ...options, authOptions: { ...options.authOptions, keys }, config })
  await server.ready()
  return server
}

export { idpFor, testKeyPair } from './fixtures/idp.js'

/**
 * `node <args>` for a child process, run as a user runs it. tap's process-info hook
 * rewrites every child's NODE_OPTIONS to load itself, even under an explicit `env`,
 * which doubles a child's start-up; `env -u NODE_OPTIONS` execs node without it, in
 * the same process (the PID a test stops is node's).
 */
export const plainNode = (args: string[]): [string, string[]] => ['env', ['-u', 'NODE_OPTIONS', process.execPath, ...args]]

export function envFor (idp: TestIssuer, extra: Env = {}): Env {
  return { ISSUER_BASE_URL: idp.issuer, AUDIENCE: idp.audience, ...extra }
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` })

/** The RFC 9728 challenge parameter the app adds, as seen through inject (host localhost:80). */
export const RESOURCE_METADATA = 'resource_metadata="http://localhost:80/.well-known/oauth-protected-resource"'

/** The DPoP challenge every 401 also carries under the default DPOP=allowed (RFC 9449 §7.1). */
export const DPOP_CHALLENGE = 'DPoP realm="api", algs="ES256 EdDSA RS256 PS256"'

/**
 * The compiled file of an entry point (`'server'`, `'scripts/token'`) for a child process.
 * The tests themselves run compiled (`npm test` compiles the sources and the tests to
 * dist-test/ first), so the entry point is the file beside this one's folder: a child
 * starts in a fraction of a second instead of compiling TypeScript again.
 */
export function compiled (entry: string): string {
  const file = fileURLToPath(new URL(`../${entry}.js`, import.meta.url))
  if (!existsSync(file)) throw new Error(`${file} is missing: run npm test, which compiles the sources and tests to dist-test/`)
  return file
}

/** A file of the repository (README.md, .env.example), from the compiled tests in dist-test/test/. */
export const repositoryFile = (path: string): string => fileURLToPath(new URL(`../../${path}`, import.meta.url))
