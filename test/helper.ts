import Fastify, { type FastifyInstance } from 'fastify'
import type { Test } from 'tap'
import app from '../app.js'
import auth, { type AuthOptions } from '../plugins/auth/index.js'
import { startIdp, type Idp, type KeyPair } from './fixtures/idp.js'

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

/** The auth plugin alone on a bare Fastify app, with one protected route, under Fastify's default error handler. */
export async function buildBare (t: Test, idp: Idp, options: Partial<AuthOptions> = {}): Promise<FastifyInstance> {
  const server = Fastify()
  t.teardown(() => server.close())
  await server.register(auth, { issuer: idp.issuer, audience: idp.audience, ...options })
  server.get('/me', { onRequest: server.authenticate }, async request => ({ sub: request.user?.sub }))
  server.get('/admin', { onRequest: server.authenticate, preHandler: server.requireScopes('read:admin-messages') }, async () => ({ ok: true }))
  server.get('/any', { onRequest: server.authenticate, preHandler: server.requireAnyScope('a:x', 'b:y') }, async () => ({ ok: true }))
  await server.ready()
  return server
}
