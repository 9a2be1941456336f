import Fastify, { type FastifyInstance } from 'fastify'
import type { Test } from 'tap'
import app from '../app.js'
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
