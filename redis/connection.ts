import type { FastifyInstance } from 'fastify'
import type { Redis } from 'ioredis'

/**
 * The one Redis connection of a replica (REDIS_URL): the DPoP replay cache, the nonce
 * secret and the rate limit share it. Decorated as `fastify.redis` by @fastify/redis,
 * connected before this resolves, and closed with the server.
 */
export async function connectRedis (fastify: FastifyInstance, url: string): Promise<Redis> {
  // Loaded only when used: ioredis and @fastify/redis hold tens of MB the service otherwise never needs.
  const [{ Redis }, { default: fastifyRedis }] = await Promise.all([import('ioredis'), import('@fastify/redis')])
  // No offline queue: with Redis unreachable a command fails at once (DPoP: 503; rate limit: uncounted) instead of waiting.
  const client = new Redis(url, { enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: 2000 })
  // Ours to close: QUIT cannot be sent while Redis is down, and shutting down then must not fail.
  fastify.addHook('onClose', async () => {
    if (client.status === 'ready') await client.quit().catch(() => client.disconnect())
    else client.disconnect()
  })
  await fastify.register(fastifyRedis, { client, closeClient: false })
  return client
}
