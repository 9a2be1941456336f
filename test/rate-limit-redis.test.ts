import Fastify, { type FastifyInstance, type LightMyRequestResponse } from 'fastify'
import { Redis } from 'ioredis'
import t, { type Test } from 'tap'
import { requires } from './fixtures/requires.js'
import { startRedis } from './fixtures/redis.js'
import app from '../app.js'
import { loadConfig } from '../config/index.js'
import { bearer, build, envFor, idpFor, TEST_SERVER } from './helper.js'

// Two replicas (two instances of the app) share one redis-server, as behind a load
// balancer. A window of an hour: no budget refills while a test runs, however slow the machine.
const WINDOW_SECONDS = 3600
const BUDGET = 4
const PROTECTED = '/api/messages/protected'
const PUBLIC = '/api/messages/public'

async function replicas (t: Test) {
  const idp = await idpFor(t)
  const redis = await startRedis(t)
  const env = envFor(idp, { REDIS_URL: redis.url, RATE_LIMIT_PER_MINUTE: String(BUDGET) })
  const options = { rateLimitOptions: { windowSeconds: WINDOW_SECONDS } }
  const [a, b] = [await build(t, env, options), await build(t, env, options)] as [FastifyInstance, FastifyInstance]
  return { idp, redis, a, b }
}

const get = (app: FastifyInstance, url: string, token?: string, from = '127.0.0.1') =>
  app.inject({ url, headers: token === undefined ? {} : bearer(token), remoteAddress: from })

const remaining = (res: LightMyRequestResponse) => res.headers['ratelimit-remaining'] === undefined ? undefined : Number(res.headers['ratelimit-remaining'])

/** Sends until a response carries RateLimit-Remaining (the replica's Redis answers again), and returns the statuses before it. Bounded: 120 tries, 250 ms apart. */
async function untilCounted (send: () => Promise<LightMyRequestResponse>): Promise<number[]> {
  const before: number[] = []
  for (let i = 0; i < 120; i++) {
    const res = await send()
    if (remaining(res) !== undefined) return before
    before.push(res.statusCode)
    await new Promise(resolve => setTimeout(resolve, 250))
  }
  throw new Error(`still uncounted after ${before.length} requests: ${[...new Set(before)].join(', ')}`)
}

t.test('one subject over its budget across two replicas sharing Redis gets 429 at both, while another subject gets 200', requires('redis-server'), async t => {
  const { idp, a, b } = await replicas(t)
  const alice = idp.sign({ sub: 'alice' })
  const seen: Array<[number, number | undefined]> = []
  for (const app of [a, b, a, b]) {
    const res = await get(app, PROTECTED, alice)
    seen.push([res.statusCode, remaining(res)])
  }
  t.same(seen, [[200, 3], [200, 2], [200, 1], [200, 0]], 'one count for both replicas')
  for (const [name, app] of [['A', a], ['B', b]] as const) {
    const res = await get(app, PROTECTED, alice)
    t.equal(res.statusCode, 429, `alice at ${name}`)
    t.match(res.json(), { message: /^Too many requests/ })
    const retryAfter = Number(res.headers['retry-after'])
    t.ok(retryAfter >= 1 && retryAfter <= WINDOW_SECONDS, `Retry-After ${res.headers['retry-after']}`)
    t.equal(res.headers['ratelimit-limit'], String(BUDGET))
  }
  const bob = idp.sign({ sub: 'bob' })
  for (const [name, app] of [['A', a], ['B', b]] as const) t.equal((await get(app, PROTECTED, bob)).statusCode, 200, `bob at ${name}`)
})

t.test('forged tokens sent to both replicas never spend the subject they name; they spend their address\'s, shared too', requires('redis-server'), async t => {
  const { idp, a, b } = await replicas(t)
  const attacker = '203.0.113.66'
  const statuses: number[] = []
  for (let i = 0; i < 10; i++) statuses.push((await get(i % 2 === 0 ? a : b, PROTECTED, idp.badToken('badSignature', { claims: { sub: 'victim' } }), attacker)).statusCode)
  t.same(statuses, [401, 401, 401, 401, 429, 429, 429, 429, 429, 429], 'the address\'s budget, counted across both')
  const victim = idp.sign({ sub: 'victim' })
  const res = await get(b, PROTECTED, victim, attacker)
  t.equal(res.statusCode, 200, 'the victim, even from the attacker\'s address')
  t.equal(remaining(res), BUDGET - 1)
})

t.test('budget keys in Redis have a fixed length whatever the subject, and hold no subject', requires('redis-server'), async t => {
  const { idp, redis, a } = await replicas(t)
  const long = 'x'.repeat(16_000)
  t.equal((await get(a, PROTECTED, idp.sign({ sub: long }))).statusCode, 200)
  t.equal((await get(a, PROTECTED, idp.sign({ sub: 'alice@example.com' }))).statusCode, 200)
  t.equal((await get(a, PUBLIC, undefined, '2001:db8::1')).statusCode, 200)
  // TRUST_PROXY=true takes the client address from X-Forwarded-For, which any client writes.
  const config = loadConfig(envFor(idp, { REDIS_URL: redis.url, RATE_LIMIT_PER_MINUTE: String(BUDGET), TRUST_PROXY: 'true' }))
  const proxied = Fastify({ ...TEST_SERVER, trustProxy: config.trustProxy })
  t.teardown(() => proxied.close())
  await proxied.register(app, { config })
  t.equal((await proxied.inject({ url: PUBLIC, headers: { 'x-forwarded-for': 'y'.repeat(8000) } })).statusCode, 200)
  const client = new Redis(redis.url)
  t.teardown(() => client.disconnect())
  const keys = (await client.keys('rate-limit:*')).sort()
  t.equal(keys.length, 4)
  t.ok(keys.filter(key => key.startsWith('rate-limit:s:')).every(key => key.length === 'rate-limit:s:'.length + 22), `key lengths ${keys.map(key => key.length).join(' ')}`)
  t.ok(keys.some(key => /^rate-limit:a:#[\w-]{22}$/.test(key)), 'an address that is none, hashed')
  t.ok(keys.every(key => key.length <= 'rate-limit:a:'.length + 39), `no key longer than an IPv6 address's (${keys.map(key => key.length).join(' ')})`)
  t.ok(keys.every(key => !key.includes('alice') && !key.includes('xxxx') && !key.includes('yyyy')), 'no subject in a key')
  t.ok(keys.includes('rate-limit:a:2001:db8::'), 'an IPv6 address by its /64')
  const ttl = await client.pttl(keys.find(key => key.startsWith('rate-limit:s:'))!)
  t.ok(ttl > 0 && ttl <= WINDOW_SECONDS * 1000, `each expires with its window (${ttl} ms)`)
})

t.test('Redis killed: requests go through uncounted (fail open), authentication still refuses, never a 500; restarted: limited again', requires('redis-server'), async t => {
  const { idp, redis, a, b } = await replicas(t)
  const alice = idp.sign({ sub: 'alice' })
  for (let i = 0; i < BUDGET; i++) await get(a, PROTECTED, alice)
  t.equal((await get(b, PROTECTED, alice)).statusCode, 429, 'over budget before')

  await redis.kill()
  for (const app of [a, b]) {
    for (let i = 0; i < BUDGET + 2; i++) {
      const res = await get(app, PROTECTED, alice)
      t.equal(res.statusCode, 200, 'a verified token goes through')
      t.equal(res.headers['ratelimit-remaining'], undefined, 'uncounted: no RateLimit-* header')
    }
    const forged = await get(app, PROTECTED, idp.badToken('badSignature', { claims: { sub: 'alice' } }))
    t.equal(forged.statusCode, 401, 'a forged token is still refused (authentication never fails open)')
    t.equal((await get(app, PROTECTED)).statusCode, 401, 'no token: still refused')
    t.equal((await get(app, PUBLIC)).statusCode, 200)
  }

  await redis.restart()
  // Each replica reconnects on its own; until then it lets requests through.
  for (const app of [a, b]) {
    const before = await untilCounted(() => get(app, PROTECTED, alice))
    t.ok(before.every(status => status === 200), `200 until reconnected (${before.join(' ')})`)
  }
  // Redis came back empty: alice has spent 2 of a new budget, one at each replica.
  const statuses: number[] = []
  for (let i = 0; i < BUDGET; i++) statuses.push((await get(i % 2 === 0 ? a : b, PROTECTED, alice)).statusCode)
  t.same(statuses, [200, 200, 429, 429], 'limited again, across both')
})

t.test('Redis that stops answering: the request goes through after the command timeout, uncounted; counted again once it answers', requires('redis-server'), async t => {
  const { idp, redis, a } = await replicas(t)
  const alice = idp.sign({ sub: 'alice' })
  t.equal(remaining(await get(a, PROTECTED, alice)), BUDGET - 1)
  redis.pause()
  t.teardown(() => redis.resume())
  const res = await get(a, PROTECTED, alice)
  t.equal(res.statusCode, 200, 'not held: through, uncounted')
  t.equal(res.headers['ratelimit-remaining'], undefined)
  redis.resume()
  await untilCounted(() => get(a, PROTECTED, alice))
  t.pass('counted again')
})
