import { spawn } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { createDpopHolder as createHolder, createDpopProof as makeProof } from 'fastify-oauth-resource-server/testing'
import { freePort } from './fixtures/net.js'
import { Redis } from 'ioredis'
import { startRedis, untilAccepted } from './fixtures/redis.js'
import { requires } from './fixtures/requires.js'
import { build, compiled, envFor, idpFor, plainNode } from './helper.js'

// Two replicas: the compiled server.ts in two child processes, one Redis.
const SERVER = compiled('server')
// Both replicas sit behind one public address, as behind a load balancer.
const PUBLIC_URL = 'https://api.example.com'

async function startReplica (t: Test, env: Record<string, string>): Promise<string> {
  const port = await freePort()
  const child = spawn(...plainNode([SERVER]), {
    cwd: mkdtempSync(join(tmpdir(), 'replica-test-')),
    env: { PATH: process.env.PATH ?? '', ...env, PORT: String(port), HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  const exited = new Promise<void>(resolve => child.on('exit', () => resolve()))
  t.teardown(async () => {
    if (child.exitCode === null && child.pid !== undefined) process.kill(child.pid, 'SIGTERM')
    await exited
  })
  let output = ''
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', chunk => {
      output += chunk
      if (/Server listening at http:\/\/127\.0\.0\.1:\d+/.test(output)) resolve()
    })
    child.stderr.on('data', chunk => { output += chunk })
    child.on('exit', code => reject(new Error(`replica exited ${code}: ${output}`)))
  })
  return `http://127.0.0.1:${port}`
}

t.test('two server processes sharing one Redis: the same proof sent to both at once is accepted exactly once', requires('redis-server'), async t => {
  const idp = await idpFor(t)
  const redis = await startRedis(t)
  const env = { ISSUER_BASE_URL: idp.issuer, AUDIENCE: idp.audience, REDIS_URL: redis.url, PUBLIC_URL, DPOP: 'allowed' }
  const replicas = await Promise.all([startReplica(t, env), startReplica(t, env)])

  const holder = await createHolder()
  const token = idp.sign({ cnf: { jkt: holder.jkt } })
  const htu = `${PUBLIC_URL}/api/messages/protected`
  const send = (base: string, proof: string) => fetch(`${base}/api/messages/protected`, { headers: { authorization: `DPoP ${token}`, dpop: proof } }).then(res => res.status)

  // Each replica accepts a proof of its own: both work, both see the token (once the new
  // Redis takes proofs: those made before it was first found empty wait for the tolerance).
  for (const base of replicas) await untilAccepted(async () => send(base, await makeProof(holder, { htu, token })))

  const rounds = 20
  let acceptedOnce = 0
  for (let i = 0; i < rounds; i++) {
    const proof = await makeProof(holder, { htu, token })
    const statuses = (await Promise.all(replicas.map(base => send(base, proof)))).sort()
    if (statuses[0] === 200 && statuses[1] === 401) acceptedOnce++
    else t.fail(`round ${i}: ${statuses.join(', ')}`)
  }
  t.equal(acceptedOnce, rounds, `each of ${rounds} proofs sent to both replicas at once: one 200 and one 401`)
})

t.test('with REDIS_URL and DPOP_NONCE=on, a nonce one replica hands out is accepted by the other, with no other setting', requires('redis-server'), async t => {
  const idp = await idpFor(t)
  const redis = await startRedis(t)
  const env = envFor(idp, { PUBLIC_URL: 'http://localhost', REDIS_URL: redis.url, DPOP_NONCE: 'on' })
  const [a, b] = [await build(t, env), await build(t, env)]
  const holder = await createHolder()
  const token = idp.sign({ cnf: { jkt: holder.jkt } })
  const htu = 'http://localhost/api/messages/protected'
  const send = async (app: typeof a, nonce?: string) =>
    app.inject({ url: '/api/messages/protected', headers: { authorization: `DPoP ${token}`, dpop: await makeProof(holder, { htu, token, claims: { nonce } }) } })
  const nonceFrom = async (app: typeof a) => {
    const res = await send(app)
    t.equal(res.statusCode, 401)
    return res.headers['dpop-nonce'] as string
  }

  const fromA = await nonceFrom(a)
  t.equal(await nonceFrom(b), fromA, 'both hand out the same nonce')
  await untilAccepted(async () => (await send(b, fromA)).statusCode)
  t.equal((await send(a, await nonceFrom(b))).statusCode, 200, 'and the other way round')

  // Redis loses the secret; a replica started after that agrees with the others again.
  const client = new Redis(redis.url, { lazyConnect: true })
  await client.connect()
  await client.flushall()
  client.disconnect()
  const c = await build(t, env)
  const fromC = await nonceFrom(c)
  await untilAccepted(async () => (await send(a, fromC)).statusCode)
  t.equal(await nonceFrom(a), await nonceFrom(c), 'one nonce again')
})
