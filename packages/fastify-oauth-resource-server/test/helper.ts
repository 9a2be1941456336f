import Fastify, { type FastifyInstance } from 'fastify'
import type { Test } from 'tap'
import auth, { type AuthOptions } from '../src/index.js'
import { createTestIssuer, type TestIssuer, type KeyPair } from '../src/testing/index.js'
import { testKeyPair } from './key-pool.js'

// An RSA key costs about 100 ms of CPU to generate, and the suite starts hundreds of
// issuers. An issuer started without keys of its own gets the key of one already
// closed in this process, never of one still open, or else a new one (key-pool.ts):
// issuers that meet in one test (two issuers, an attacker's) always hold different keys.
const closedIssuerKeys: KeyPair[] = []

/** A loopback identity provider, closed when the test ends. */
export async function idpFor (t: Test, options: { keys?: KeyPair[], audience?: string, path?: string, jwksPath?: string } = {}): Promise<TestIssuer> {
  const leased = options.keys === undefined ? closedIssuerKeys.pop() ?? testKeyPair('key-1') : undefined
  const idp = await createTestIssuer(leased === undefined ? options : { ...options, keys: [leased] })
  t.teardown(async () => {
    await idp.close()
    if (leased !== undefined) closedIssuerKeys.push(leased)
  })
  return idp
}

export { testKeyPair }

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` })

/**
 * The plugin alone on a bare Fastify app, under Fastify's default error handler,
 * with `/me` (authenticate), `/admin` (read:admin-messages) and `/any` (a:x or b:y);
 * `logs` collects its log at debug level.
 */
export async function buildBare (t: Test, idp: TestIssuer, options: Partial<AuthOptions> = {}, logs?: LogRecord[]): Promise<FastifyInstance> {
  // No plugin start-up limit: Fastify's 10 s measures a loaded machine; tap's timeout still stops a hang.
  const server = Fastify({ pluginTimeout: 0, ...(logs === undefined ? {} : { logger: { level: 'debug', stream: { write: (line: string) => logs.push(JSON.parse(line)) } } }) })
  t.teardown(() => server.close())
  // Key fetches get the longest timeout allowed unless the test sets one: a loaded machine can
  // hold a loopback answer for seconds, and only a test of the timeout wants it short.
  await server.register(auth, { issuer: idp.issuer, audience: idp.audience, ...options, keys: { fetchTimeout: 60, ...options.keys } })
  server.get('/health/ready', async (request, reply) => reply.code(server.authStatus().keysLoaded ? 200 : 503).send())
  server.get('/me', { onRequest: server.authenticate }, async request => ({ sub: request.claims?.sub }))
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

/**
 * `node <args>` for a child process, run as a user runs it. tap's process-info hook
 * rewrites every child's NODE_OPTIONS to load itself, even under an explicit `env`,
 * which doubles a child's start-up; `env -u NODE_OPTIONS` execs node without it, in
 * the same process (the PID a test stops is node's).
 */
export const plainNode = (args: string[]): [string, string[]] => ['env', ['-u', 'NODE_OPTIONS', process.execPath, ...args]]

export const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms))

/**
 * Polls until the condition holds, at most `limit` times `every` ms apart. The default bound
 * (a minute at least) is for a loaded machine: a condition that holds ends the wait at once.
 */
export async function until (condition: () => boolean | Promise<boolean>, { every = 20, limit = 3000 } = {}): Promise<boolean> {
  for (let i = 0; i < limit; i++) {
    if (await condition()) return true
    await sleep(every)
  }
  return false
}
