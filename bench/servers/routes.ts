import type { FastifyInstance, onRequestHookHandler } from 'fastify'
import { Messages } from '../../routes/messages.js'
import { MessageSchema } from '../../routes/schemas.js'

const response = { 200: MessageSchema }

/**
 * The service's public and protected message routes, with the same payloads and
 * response schema, for the bench's bare apps; `protect` guards the protected one.
 * `/health/ready` answers 200 once `ready()` says so (the bench waits for it).
 */
export function addMessageRoutes (fastify: FastifyInstance, protect: onRequestHookHandler | undefined, ready: () => boolean = () => true) {
  fastify.get('/api/messages/public', { schema: { response } }, async () => ({ message: Messages.public }))
  if (protect !== undefined) fastify.get('/api/messages/protected', { schema: { response }, onRequest: protect }, async () => ({ message: Messages.protected }))
  fastify.get('/health/ready', async (request, reply) => reply.code(ready() ? 200 : 503).send())
}

/** Listens on 127.0.0.1; SIGTERM closes the app and exits (so that `node --cpu-prof` writes its profile). */
export async function serve (fastify: FastifyInstance, port: number) {
  process.once('SIGTERM', () => { fastify.close().then(() => process.exit(0), () => process.exit(1)) })
  await fastify.listen({ port, host: '127.0.0.1' })
}

/** The port and the issuer a bench app is started with. */
export function benchEnv (): { port: number, issuer: string, audience: string } {
  const { PORT, BENCH_ISSUER, BENCH_AUDIENCE } = process.env
  if (PORT === undefined || BENCH_ISSUER === undefined || BENCH_AUDIENCE === undefined) {
    throw new Error('A bench app needs PORT, BENCH_ISSUER and BENCH_AUDIENCE (bench/run.ts sets them)')
  }
  return { port: Number(PORT), issuer: BENCH_ISSUER, audience: BENCH_AUDIENCE }
}

/** The bench's step-up route requirement; its token is minted with this acr and a fresh auth_time. */
export const BENCH_STEP_UP = { acrValues: ['urn:bench:acr:mfa'], maxAge: 3600 } as const
