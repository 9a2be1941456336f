import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'

const StatusSchema = Type.Object({ status: Type.String() })

/** Probes for orchestrators: unauthenticated, cheap, kept out of the request log. */
const health: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get('/live', {
    logLevel: 'silent',
    schema: { response: { 200: StatusSchema } }
  }, async () => ({ status: 'ok' }))

  fastify.get('/ready', {
    logLevel: 'silent',
    schema: { response: { 200: StatusSchema, 503: StatusSchema } }
  }, async (request, reply) => {
    if (fastify.authStatus().keysLoaded) return { status: 'ok' }
    return reply.code(503).send({ status: 'identity provider keys not loaded' })
  })
}

export default health
