import Fastify, { type FastifyInstance } from 'fastify'
import type { Test } from 'tap'
import auth, { type AuthOptions } from '../../src/index.js'

/**
 * The plugin on a bare app, for one provider's tokens: `/me` answers the verified claims.
 * Key fetches get the longest timeout allowed: a loaded machine can hold a loopback answer for seconds.
 */
export async function buildFor (t: Test, options: AuthOptions): Promise<FastifyInstance> {
  const app = Fastify({ pluginTimeout: 0 })
  t.teardown(() => app.close())
  await app.register(auth, { ...options, keys: { fetchTimeout: 60, ...options.keys } })
  app.get('/me', { onRequest: app.authenticate }, async request => request.claims)
  await app.ready()
  return app
}

/** The `WWW-Authenticate` challenge, which carries the refusal's description. */
export const challenge = (res: { headers: Record<string, unknown> }) => String(res.headers['www-authenticate'])

/** Registration (option checks, then discovery on ready) fails with this message. */
export async function startFails (t: Test, options: AuthOptions, message: RegExp): Promise<void> {
  const app = Fastify({ pluginTimeout: 0 })
  t.teardown(() => app.close())
  await t.rejects(async () => {
    await app.register(auth, { ...options, keys: { fetchTimeout: 60, ...options.keys } })
    await app.ready()
  }, message)
}
