import Fastify, { type FastifyInstance } from 'fastify'
import { startIdp, type Idp, type KeyPair } from 'fastify-oauth-resource-server/testing'
import type { Test } from 'tap'
import app from '../app.js'

export type Env = Record<string, string | undefined>

/** The app, ready, on the given environment only; closed when the test ends. */
export async function build (t: Test, env: Env): Promise<FastifyInstance> {
  const server = Fastify()
  t.teardown(() => server.close())
  await server.register(app, { env })
  await server.ready()
  return server
}

/** A loopback identity provider, closed when the test ends. */
export async function idpFor (t: Test, options: { keys?: KeyPair[], audience?: string } = {}): Promise<Idp> {
  const idp = await startIdp(options)
  t.teardown(() => idp.close())
  return idp
}

export function envFor (idp: Idp, extra: Env = {}): Env {
  return { ISSUER_BASE_URL: idp.issuer, AUDIENCE: idp.audience, ...extra }
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` })

/** The RFC 9728 challenge parameter the app adds, as seen through inject (host localhost:80). */
export const RESOURCE_METADATA = 'resource_metadata="http://localhost:80/.well-known/oauth-protected-resource"'

/** The DPoP challenge every 401 also carries under the default DPOP=allowed (RFC 9449 §7.1). */
export const DPOP_CHALLENGE = 'DPoP realm="api", algs="ES256 EdDSA Ed25519 RS256 PS256"'

/** Environment for a child process that runs TypeScript through tap's loader, with tap's settings. */
export const TS_LOADER_ENV = Object.fromEntries(Object.entries(process.env).filter(([name]) => name.startsWith('TS_NODE_')))
