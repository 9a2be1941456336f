import { createRedisReplayCache, type RedisScriptClient } from 'fastify-oauth-resource-server'
import { Cluster, Redis } from 'ioredis'
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

// What the plugin passes: the key's thumbprint, and when the proof could first have been accepted.
const JKT = 'key-one'
const SINCE_START = () => Date.now() - 1000
/** A store the cache has seen before: its memory is not new, so proofs made before now are not in question. */
async function used (client: Redis, prefix = '{dpop}:') {
  await client.set(`${prefix}since`, '0')
}

t.test('ioredis\'s client and Cluster are clients the cache takes', async t => {
  const asClient = (client: Redis | Cluster): RedisScriptClient => client
  t.type(asClient, 'function')
})

t.test('one script per proof: fresh once, replayed after, and the id expires with the proof', requires('redis-server'), async t => {
  const { client } = await clientFor(t)
  await used(client, 'test:')
  const cache = createRedisReplayCache(client, { prefix: 'test:' })
  t.equal(await cache.remember('a', 60_000, JKT, Date.now()), 'fresh')
  t.equal(await cache.remember('a', 60_000, JKT, Date.now()), 'replayed')
  const ttl = await client.pttl('test:jti:a')
  t.ok(ttl > 59_000 && ttl <= 60_000, `ttl ${ttl} ms`)
})

t.test('every key the script touches shares one Cluster hash slot by default ({dpop})', requires('redis-server'), async t => {
  const { client } = await clientFor(t)
  await used(client)
  const cache = createRedisReplayCache(client)
  t.equal(await cache.remember('a', 60_000, JKT, Date.now()), 'fresh')
  const keys = (await client.keys('*')).sort()
  t.same(keys, ['{dpop}:jti:a', `{dpop}:key:${JKT}`, '{dpop}:since'])
})

t.test('concurrent remembers of one id: exactly one is fresh', requires('redis-server'), async t => {
  const { client } = await clientFor(t)
  await used(client)
  const cache = createRedisReplayCache(client)
  const verdicts = await Promise.all(Array.from({ length: 50 }, () => cache.remember('same', 60_000, JKT, Date.now())))
  t.equal(verdicts.filter(v => v === 'fresh').length, 1)
  t.equal(verdicts.filter(v => v === 'replayed').length, 49)
})

t.test('one key cannot fill Redis: past perKey proofs in its window only that key is refused', requires('redis-server'), async t => {
  const { client } = await clientFor(t)
  await used(client)
  const cache = createRedisReplayCache(client, { perKey: 5 })
  const verdicts = []
  for (let i = 0; i < 20; i++) verdicts.push(await cache.remember(`greedy-${i}`, 60_000, 'greedy', Date.now()))
  t.same(verdicts, [...Array(5).fill('fresh'), ...Array(15).fill('keyFull')])
  t.equal(await client.exists('{dpop}:jti:greedy-5'), 0, 'a refused proof is not stored')
  t.equal(await cache.remember('other', 60_000, 'another key', Date.now()), 'fresh')
})

t.test('a key\'s count starts again with its window (the first proof\'s ttl)', requires('redis-server'), async t => {
  const { client } = await clientFor(t)
  await used(client)
  const cache = createRedisReplayCache(client, { perKey: 2 })
  t.equal(await cache.remember('w1', 1500, JKT, Date.now()), 'fresh')
  t.equal(await cache.remember('w2', 1500, JKT, Date.now()), 'fresh')
  t.equal(await cache.remember('w3', 1500, JKT, Date.now()), 'keyFull')
  // A window of 1.5 s, which three round trips on a loaded machine stay well within; bounded
  // (20 s): the counter's PEXPIRE has run out once its key is gone.
  for (let i = 0; i < 400 && await client.exists(`{dpop}:key:${JKT}`) === 1; i++) await new Promise(resolve => setTimeout(resolve, 50))
  t.equal(await cache.remember('w3', 1500, JKT, Date.now()), 'fresh')
})

t.test('an empty Redis, first used, cannot tell it never held a proof: one from before is refused (reset), a new one taken', requires('redis-server'), async t => {
  const { client } = await clientFor(t)
  const cache = createRedisReplayCache(client)
  t.equal(await cache.remember('a', 60_000, JKT, SINCE_START()), 'reset')
  const noticed = Number(await client.get('{dpop}:since'))
  t.equal(await cache.remember('b', 60_000, JKT, noticed + 1), 'fresh')
})

t.test('ready(), as the server starts, notices an empty Redis then, and leaves a known one as it is', requires('redis-server'), async t => {
  const { client } = await clientFor(t)
  const cache = createRedisReplayCache(client)
  const before = Date.now()
  await cache.ready?.()
  const noticed = Number(await client.get('{dpop}:since'))
  t.ok(noticed >= before, 'noticed at start')
  await cache.ready?.()
  t.equal(Number(await client.get('{dpop}:since')), noticed, 'not moved by a second start')
  t.equal(await cache.remember('a', 60_000, JKT, noticed + 1), 'fresh')
})

t.test('ready() with Redis gone settles without an error', requires('redis-server'), async t => {
  const { client, redis } = await clientFor(t)
  await redis.kill()
  await t.resolves(async () => { await createRedisReplayCache(client, { timeout: 0.05 }).ready?.() })
})

t.test('after FLUSHALL, every proof that could have been accepted before it is refused (reset); a new one is taken', requires('redis-server'), async t => {
  const { client } = await clientFor(t)
  await used(client)
  const cache = createRedisReplayCache(client)
  const before = SINCE_START()
  t.equal(await cache.remember('p', 60_000, JKT, before), 'fresh')
  await client.flushall()
  t.equal(await cache.remember('p', 60_000, JKT, before), 'reset', 'the same proof again: not fresh')
  t.equal(await cache.remember('q', 60_000, JKT, before), 'reset', 'any proof from before the flush')
  const noticed = Number(await client.get('{dpop}:since'))
  t.ok(noticed >= before, 'the moment it was noticed is stored for every replica')
  t.equal(await cache.remember('p', 60_000, JKT, noticed), 'reset', 'acceptable from that very moment: still in question')
  t.equal(await cache.remember('r', 60_000, JKT, noticed + 1), 'fresh', 'a proof made after it')
})

t.test('after a restart without persistence, a proof from before is refused (reset), whichever client asks', requires('redis-server'), async t => {
  const { client, redis } = await clientFor(t)
  await used(client)
  const cache = createRedisReplayCache(client)
  const before = SINCE_START()
  t.equal(await cache.remember('p', 60_000, JKT, before), 'fresh')
  await redis.kill()
  await redis.restart()
  // Another replica's client, connected to the new, empty Redis.
  const other = new Redis(redis.url, { enableOfflineQueue: false, maxRetriesPerRequest: 1, lazyConnect: true })
  await other.connect()
  t.teardown(() => other.disconnect())
  t.equal(await createRedisReplayCache(other).remember('p', 60_000, JKT, before), 'reset')
})

t.test('Redis not answering within the timeout is unavailable, never fresh', requires('redis-server'), async t => {
  const { client } = await clientFor(t)
  const cache = createRedisReplayCache(client, { timeout: 0.05 })
  // Writes from every client wait while Redis is paused: far longer than the timeout, however
  // loaded the machine (the pause ends with this test's redis-server).
  await client.client('PAUSE', 60_000, 'WRITE')
  t.equal(await cache.remember('slow', 60_000, JKT, Date.now()), 'unavailable')
})

t.test('Redis gone is unavailable, at once with no offline queue', requires('redis-server'), async t => {
  const { client, redis } = await clientFor(t)
  const cache = createRedisReplayCache(client, { timeout: 2 })
  await redis.kill()
  t.equal(await cache.remember('gone', 60_000, JKT, Date.now()), 'unavailable')
})

t.test('a full Redis under noeviction refuses writes: unavailable, never fresh', requires('redis-server'), async t => {
  const { client } = await clientFor(t)
  await used(client)
  await client.config('SET', 'maxmemory-policy', 'noeviction')
  await client.config('SET', 'maxmemory', '1')
  t.equal(await createRedisReplayCache(client).remember('oom', 60_000, JKT, Date.now()), 'unavailable')
})

t.test('a timeout in ms, a bad perKey, or a client without eval, is refused with the unit or the reason', async t => {
  const client = { eval: async () => 1 }
  t.throws(() => createRedisReplayCache(client, { timeout: 500 }), /timeout is in seconds: at most 10, got 500 \(in ms\? then write 0.5\)/)
  t.throws(() => createRedisReplayCache(client, { perKey: 0 }), /perKey must be an integer ≥ 1/)
  t.throws(() => createRedisReplayCache({ set: async () => 'OK' } as never), /ioredis-compatible client \(with eval\)/)
})
