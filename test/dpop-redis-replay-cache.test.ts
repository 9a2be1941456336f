import { createRedisReplayCache } from 'fastify-oauth-resource-server'
import { Redis } from 'ioredis'
import t, { type Test } from 'tap'
import { startRedis } from './fixtures/redis.js'
import { requires } from './fixtures/requires.js'

// The Redis replay cache against a real redis-server, through ioredis set up as the service does.
async function clientFor (t: Test) {
  const redis = await startRedis(t)
  const client = new Redis(redis.url, { enableOfflineQueue: false, maxRetriesPerRequest: 1, lazyConnect: true })
  await client.connect()
  t.teardown(() => client.disconnect())
  return { redis, client }
}

t.test('one SET PX NX per proof: fresh once, replayed after, and the key expires with the proof', requires('redis-server'), async t => {
  const { client } = await clientFor(t)
  const cache = createRedisReplayCache(client, { prefix: 'test:' })
  t.equal(await cache.remember('a', 60_000), 'fresh')
  t.equal(await cache.remember('a', 60_000), 'replayed')
  const ttl = await client.pttl('test:a')
  t.ok(ttl > 59_000 && ttl <= 60_000, `ttl ${ttl} ms`)
})

t.test('concurrent remembers of one id: exactly one is fresh', requires('redis-server'), async t => {
  const { client } = await clientFor(t)
  const cache = createRedisReplayCache(client)
  const verdicts = await Promise.all(Array.from({ length: 50 }, () => cache.remember('same', 60_000)))
  t.equal(verdicts.filter(v => v === 'fresh').length, 1)
  t.equal(verdicts.filter(v => v === 'replayed').length, 49)
})

t.test('Redis not answering within the timeout is unavailable, never fresh', requires('redis-server'), async t => {
  const { client } = await clientFor(t)
  const cache = createRedisReplayCache(client, { timeout: 0.05 })
  // Writes from every client wait while Redis is paused: far longer than the timeout, however
  // loaded the machine (the pause ends with this test's redis-server).
  await client.client('PAUSE', 60_000, 'WRITE')
  t.equal(await cache.remember('slow', 60_000), 'unavailable')
})

t.test('Redis gone is unavailable, at once with no offline queue', requires('redis-server'), async t => {
  const { client, redis } = await clientFor(t)
  const cache = createRedisReplayCache(client, { timeout: 2 })
  await redis.kill()
  t.equal(await cache.remember('gone', 60_000), 'unavailable')
})

t.test('a timeout in ms, or a client without set, is refused with the unit or the reason', async t => {
  t.throws(() => createRedisReplayCache({ set: async () => 'OK' }, { timeout: 500 }), /timeout is in seconds: at most 10, got 500 \(in ms\? then write 0.5\)/)
  t.throws(() => createRedisReplayCache({} as never), /ioredis-compatible client/)
})
