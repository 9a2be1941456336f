import type { FastifyInstance } from 'fastify'
import { Redis } from 'ioredis'
import t, { type Test } from 'tap'
import { createDpopHolder as createHolder, dpopHeaders as dpop, createDpopProof as makeProof } from 'fastify-oauth-resource-server/testing'
import { requires } from './fixtures/requires.js'
import { startRedis, untilAccepted, type RedisServer } from './fixtures/redis.js'
import { build, envFor, idpFor } from './helper.js'

// Two replicas (two instances of the app) share one redis-server started without persistence.
const PUBLIC_URL = 'http://localhost'
const PROTECTED = `${PUBLIC_URL}/api/messages/protected`

async function replicas (t: Test) {
  const idp = await idpFor(t)
  const redis = await startRedis(t)
  const env = envFor(idp, { PUBLIC_URL, REDIS_URL: redis.url })
  const [a, b] = [await build(t, env), await build(t, env)] as [FastifyInstance, FastifyInstance]
  const holder = await createHolder()
  const token = idp.sign({ cnf: { jkt: holder.jkt } })
  const fresh = () => makeProof(holder, { htu: PROTECTED, token })
  const send = (app: FastifyInstance, proof: string) => app.inject({ url: '/api/messages/protected', headers: dpop(token, proof) })
  // A new Redis: proofs made before the replicas first found it empty wait for the tolerance.
  await untilAccepted(async () => (await send(a, await fresh())).statusCode)
  return { redis, a, b, fresh, send }
}

/**
 * Until B takes new proofs again, `proof` (accepted at A before Redis forgot) is sent
 * to B beside each new one: it must never be accepted. Returns its statuses.
 */
async function replayedWhileRecovering (t: Test, { b, fresh, send }: Awaited<ReturnType<typeof replicas>>, proof: string) {
  const statuses: number[] = []
  await untilAccepted(async () => {
    const replay = await send(b, proof)
    statuses.push(replay.statusCode)
    if (replay.statusCode === 200) t.fail('the replay was accepted')
    return (await send(b, await fresh())).statusCode
  })
  return statuses
}

async function flushAll (redis: RedisServer) {
  const client = new Redis(redis.url, { lazyConnect: true })
  await client.connect()
  await client.flushall()
  client.disconnect()
}

t.test('a proof accepted at one replica, Redis restarted empty, the same proof at the other replica: refused (503, Retry-After 6), never accepted', requires('redis-server'), async t => {
  const context = await replicas(t)
  const { redis, a, b, send, fresh } = context
  const proof = await fresh()
  t.equal((await send(a, proof)).statusCode, 200, 'accepted at A')
  t.equal((await send(b, proof)).statusCode, 401, 'a replay at B while Redis remembers')

  await redis.kill()
  await redis.restart()
  const statuses = await replayedWhileRecovering(t, context, proof)
  t.ok(statuses.every(status => status === 503), `503 while B reconnects and after (${statuses.join(' ')})`)
  // Redis is back and takes new proofs; the proof from before the restart is still refused, at either replica.
  for (const [name, app] of [['B', b], ['A', a]] as const) {
    const replay = await send(app, proof)
    t.equal(replay.statusCode, 503, `the replay at ${name}`)
    t.equal(replay.headers['retry-after'], '6', 'past the moment it was noticed plus the clock tolerance')
  }
  const again = await fresh()
  t.equal((await send(b, again)).statusCode, 200)
  t.equal((await send(a, again)).statusCode, 401, 'replays are refused as such again')
})

t.test('after FLUSHALL, a proof accepted before it is refused at every replica; new proofs are taken after the tolerance', requires('redis-server'), async t => {
  const context = await replicas(t)
  const { redis, a, b, send, fresh } = context
  const proof = await fresh()
  t.equal((await send(a, proof)).statusCode, 200, 'accepted at A')
  await flushAll(redis)
  const first = await send(b, proof)
  t.equal(first.statusCode, 503, 'the replay at B, at once')
  t.equal(first.headers['retry-after'], '6')
  const statuses = await replayedWhileRecovering(t, context, proof)
  t.ok(statuses.every(status => status === 503), statuses.join(' '))
  t.equal((await send(a, proof)).statusCode, 503, 'and at A')
})
