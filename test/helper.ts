import Fastify, { type FastifyInstance } from 'fastify'
import type { Test } from 'tap'
import app from '../app.js'
import auth, { type AuthOptions } from '../plugins/auth/index.js'
import health from '../routes/health.js'
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

/** The auth plugin alone on a bare Fastify app, with one protected route, under Fastify's default error handler; `logs` collects its log at debug level. */
export async function buildBare (t: Test, idp: Idp, options: Partial<AuthOptions> = {}, logs?: LogRecord[]): Promise<FastifyInstance> {
  const server = Fastify(logs === undefined ? {} : { logger: { level: 'debug', stream: { write: (line: string) => logs.push(JSON.parse(line)) } } })
  t.teardown(() => server.close())
  await server.register(auth, { issuer: idp.issuer, audience: idp.audience, ...options })
  await server.register(health, { prefix: '/health' })
  server.get('/me', { onRequest: server.authenticate }, async request => ({ sub: request.user?.sub }))
  server.get('/admin', { onRequest: server.authenticate, preHandler: server.requireScopes('read:admin-messages') }, async () => ({ ok: true }))
  server.get('/any', { onRequest: server.authenticate, preHandler: server.requireAnyScope('a:x', 'b:y') }, async () => ({ ok: true }))
  await server.ready()
  return server
}

export interface LogRecord {
  level: number
  msg: string
  [key: string]: unknown
}

export const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms))

/** Polls until the condition holds, at most `limit` times `every` ms apart. */
export async function until (condition: () => boolean | Promise<boolean>, { every = 20, limit = 250 } = {}): Promise<boolean> {
  for (let i = 0; i < limit; i++) {
    if (await condition()) return true
    await sleep(every)
  }
  return false
}

/** The RFC 9728 challenge parameter the app adds, as seen through inject (host localhost:80). */
export const RESOURCE_METADATA = 'resource_metadata="http://localhost:80/.well-known/oauth-protected-resource"'

/** Environment for a child process that runs TypeScript through tap's loader, with tap's settings. */
export const TS_LOADER_ENV = Object.fromEntries(Object.entries(process.env).filter(([name]) => name.startsWith('TS_NODE_')))
