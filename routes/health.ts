import type { FastifyPluginAsyncJsonSchemaToTs } from '@fastify/type-provider-json-schema-to-ts'

const StatusSchema = { type: 'object', properties: { status: { type: 'string' } }, required: ['status'] } as const
/** Readiness, with each trusted issuer's state: `ok` or `keys not loaded`. */
const ReadySchema = {
  type: 'object',
  properties: { status: { type: 'string' }, issuers: { type: 'object', properties: {}, additionalProperties: { type: 'string' } } },
  required: ['status', 'issuers']
} as const

/** Probes for orchestrators: unauthenticated, cheap, kept out of the request log. */
const health: FastifyPluginAsyncJsonSchemaToTs = async (fastify) => {
  fastify.get('/live', {
    logLevel: 'silent',
    schema: { response: { 200: StatusSchema } }
  }, async () => ({ status: 'ok' }))

  fastify.get('/ready', {
    logLevel: 'silent',
    schema: { response: { 200: ReadySchema, 503: ReadySchema } }
  }, async (request, reply) => {
    const status = fastify.authStatus().issuers
    const issuers = Object.fromEntries(status.map(each => [each.issuer, each.keysLoaded ? 'ok' : 'keys not loaded']))
    const loaded = status.filter(each => each.keysLoaded).length
    if (loaded === status.length) return { status: 'ok', issuers }
    // One issuer down leaves the others' tokens working: taking the instance out of
    // rotation would refuse them too, and every instance would be out alike.
    if (loaded > 0) return { status: 'degraded', issuers }
    return reply.code(503).send({ status: 'identity provider keys not loaded', issuers })
  })
}

export default health
