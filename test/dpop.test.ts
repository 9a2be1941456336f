import Fastify from 'fastify'
import t, { type Test } from 'tap'
import app from '../app.js'
import { loadConfig, parseTrustProxy } from '../config/index.js'
import { Messages } from '../routes/messages.js'
import { accessTokenHash as ath, createDpopHolder as createHolder, dpopHeaders as dpop, createDpopProof as makeProof } from 'fastify-oauth-resource-server/testing'
import { startRedis, untilAccepted } from './fixtures/redis.js'
import { requires } from './fixtures/requires.js'
import { bearer, build, envFor, idpFor } from './helper.js'

// inject's requests name host localhost:80; PUBLIC_URL tells the app the origin clients call.
const PUBLIC_URL = 'http://localhost'
const PROTECTED = `${PUBLIC_URL}/api/messages/protected`

async function setup (t: Test, extra: Record<string, string> = {}) {
  const idp = await idpFor(t)
  const app = await build(t, envFor(idp, { PUBLIC_URL, ...extra }))
  const holder = await createHolder()
  const token = idp.sign({ cnf: { jkt: holder.jkt } })
  const call = async (proof?: string) => app.inject({ url: '/api/messages/protected', headers: dpop(token, proof ?? await makeProof(holder, { htu: PROTECTED, token })) })
  return { idp, app, holder, token, call }
}

t.test('by default (DPOP=allowed) a DPoP-bound token with its proof and a plain bearer token both reach /api/messages/protected', async t => {
  const { idp, app, call } = await setup(t)
  const res = await call()
  t.equal(res.statusCode, 200)
  t.same(res.json(), { message: Messages.protected })
  t.equal((await app.inject({ url: '/api/messages/protected', headers: bearer(idp.sign()) })).statusCode, 200)
  const missing = await app.inject('/api/messages/protected')
  t.match(missing.headers['www-authenticate'], /^Bearer realm="api", resource_metadata="[^"]+", DPoP realm="api", algs="ES256 EdDSA RS256 PS256"$/)
})

t.test('a DPoP refusal has the API\'s JSON body: message, error, error_description', async t => {
  const { call, holder, token } = await setup(t)
  const proof = await makeProof(holder, { htu: PROTECTED, token })
  t.equal((await call(proof)).statusCode, 200)
  const replay = await call(proof)
  t.equal(replay.statusCode, 401)
  t.same(replay.json(), { message: 'The DPoP proof was already used', error: 'invalid_dpop_proof', error_description: 'The DPoP proof was already used' })
})

t.test('DPOP=required refuses a bearer token; DPOP=off refuses the DPoP scheme', async t => {
  const required = await setup(t, { DPOP: 'required' })
  const res = await required.app.inject({ url: '/api/messages/protected', headers: bearer(required.idp.sign()) })
  t.equal(res.statusCode, 401)
  t.match(res.headers['www-authenticate'], /^DPoP realm="api", algs="[^"]+"/)
  t.equal((await required.call()).statusCode, 200)

  const off = await setup(t, { DPOP: 'off' })
  t.equal((await off.call()).statusCode, 401)
  t.equal((await off.app.inject({ url: '/api/messages/protected', headers: bearer(off.idp.sign()) })).statusCode, 200)
})

t.test('DPOP_NONCE=on asks for a server nonce first', async t => {
  const { call, holder, token } = await setup(t, { DPOP_NONCE: 'on' })
  const first = await call()
  t.equal(first.statusCode, 401)
  t.match(first.json(), { error: 'use_dpop_nonce' })
  const nonce = first.headers['dpop-nonce'] as string
  t.equal((await call(await makeProof(holder, { htu: PROTECTED, token, claims: { nonce } }))).statusCode, 200)
})

t.test('without PUBLIC_URL the origin is the one the server listens on, never the Host header', async t => {
  const idp = await idpFor(t)
  const app = await build(t, envFor(idp, { PORT: '6060' }))
  const holder = await createHolder()
  const token = idp.sign({ cnf: { jkt: holder.jkt } })
  const forged = await app.inject({ url: '/api/messages/protected', headers: { host: 'evil.example', ...dpop(token, await makeProof(holder, { htu: 'http://evil.example/api/messages/protected', token })) } })
  t.equal(forged.statusCode, 401)
  const local = await app.inject({ url: '/api/messages/protected', headers: { host: 'localhost:6060', ...dpop(token, await makeProof(holder, { htu: 'http://localhost:6060/api/messages/protected', token })) } })
  t.equal(local.statusCode, 200)
})

for (const serverTrustsProxy of [true, false]) {
  t.test(`with TRUST_PROXY and no PUBLIC_URL, htu is the trusted proxy's forwarded origin or the listening one, never a direct client's Host (Fastify trustProxy ${serverTrustsProxy})`, async t => {
    const idp = await idpFor(t)
    const env = envFor(idp, { PORT: '6060', TRUST_PROXY: '10.0.0.0/8' })
    // As server.ts builds it (Fastify's trustProxy from TRUST_PROXY), and without it: the DPoP check does not depend on it.
    const server = Fastify({ trustProxy: serverTrustsProxy ? parseTrustProxy(env.TRUST_PROXY) : false })
    t.teardown(() => server.close())
    await server.register(app, { config: loadConfig(env) })
    const holder = await createHolder()
    const token = idp.sign({ cnf: { jkt: holder.jkt } })
    const send = async (htu: string, headers: Record<string, string>, remoteAddress: string) =>
      (await server.inject({ url: '/api/messages/protected', remoteAddress, headers: { ...headers, ...dpop(token, await makeProof(holder, { htu, token })) } })).statusCode

    // The attack: a client on 127.0.0.1 (not a trusted proxy) names its own origin.
    t.equal(await send('http://evil.example/api/messages/protected', { host: 'evil.example' }, '127.0.0.1'), 401, 'its own Host')
    t.equal(await send('https://evil.example/api/messages/protected', { host: 'evil.example', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'evil.example' }, '127.0.0.1'), 401, 'its own X-Forwarded-*')
    // Direct local clients, as by default.
    t.equal(await send('http://localhost:6060/api/messages/protected', { host: 'localhost:6060' }, '127.0.0.1'), 200, 'localhost')
    t.equal(await send('http://127.0.0.1:6060/api/messages/protected', { host: '127.0.0.1:6060' }, '127.0.0.1'), 200, '127.0.0.1')
    // Through the trusted proxy, the origin it forwards.
    const proxied = { host: 'backend:6060', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'api.example.com' }
    t.equal(await send('https://api.example.com/api/messages/protected', proxied, '10.0.0.7'), 200, 'the proxy\'s forwarded origin')
    t.equal(await send('http://backend:6060/api/messages/protected', proxied, '10.0.0.7'), 401, 'the Host the proxy passed on')
  })
}

t.test('one client with one key cannot lock the others out of the replay cache: past its share (a tenth of DPOP_REPLAY_CACHE_SIZE) only its proofs get 429', async t => {
  const { idp, app, call } = await setup(t, { DPOP_REPLAY_CACHE_SIZE: '100' })
  const statuses: number[] = []
  for (let i = 0; i < 100; i++) statuses.push((await call()).statusCode)
  t.equal(statuses.filter(status => status === 200).length, 10, 'a tenth of 100')
  t.equal(statuses.filter(status => status === 429).length, 90)
  const other = await createHolder()
  const otherToken = idp.sign({ cnf: { jkt: other.jkt } })
  const res = await app.inject({ url: '/api/messages/protected', headers: dpop(otherToken, await makeProof(other, { htu: PROTECTED, token: otherToken })) })
  t.equal(res.statusCode, 200, 'another client\'s fresh proof')
})

t.test('RFC 9728 metadata and the OpenAPI document announce DPoP', async t => {
  const { app } = await setup(t, { DPOP: 'required' })
  const metadata = (await app.inject('/.well-known/oauth-protected-resource')).json()
  t.match(metadata, { dpop_signing_alg_values_supported: ['ES256', 'EdDSA', 'RS256', 'PS256'], dpop_bound_access_tokens_required: true })
  const openapi = (await app.inject('/docs/json')).json()
  t.match(openapi.components.securitySchemes.dpopAuth, { type: 'http', scheme: 'dpop' })
  t.same(openapi.paths['/api/messages/protected'].get.security, [{ bearerAuth: [] }, { dpopAuth: [] }])
})

t.test('bad DPoP settings stop start-up naming the variable', async t => {
  const idp = await idpFor(t)
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ DPOP: 'sometimes' }, /^DPOP must be equal to one of the allowed values/],
    [{ DPOP_NONCE: 'yes' }, /^DPOP_NONCE must be equal to one of the allowed values/],
    [{ REDIS_URL: 'http://127.0.0.1:6379' }, /^REDIS_URL must be a redis:\/\/ or rediss:\/\/ URL/],
    [{ REDIS_URL: 'redis://:hunter2@' }, /^REDIS_URL must be a redis:\/\/ or rediss:\/\/ URL[^2]*$/],
    [{ PUBLIC_URL: 'https://api.example.com/v1' }, /^PUBLIC_URL must be an origin/],
    [{ DPOP_REPLAY_CACHE_SIZE: 'lots' }, /^DPOP_REPLAY_CACHE_SIZE must be integer/],
    [{ DPOP_REPLAY_CACHE_SIZE: '5' }, /^DPOP_REPLAY_CACHE_SIZE must be >= 10/],
    [{ DPOP_REPLAY_CACHE_SIZE: '100000000' }, /^DPOP_REPLAY_CACHE_SIZE must be <= 10000000/]
  ]
  for (const [env, message] of cases) {
    await t.rejects(build(t, envFor(idp, env)), { name: 'ConfigError', message }, JSON.stringify(env))
  }
})

t.test('with REDIS_URL the replay cache is Redis: a proof is accepted once, and a killed Redis means 503 with Retry-After until it is back', requires('redis-server'), async t => {
  const redis = await startRedis(t)
  const { call, holder, token } = await setup(t, { REDIS_URL: redis.url })
  // A new Redis: proofs made before the server first found it empty wait for the tolerance.
  const waited = await untilAccepted(async () => (await call()).statusCode)
  t.ok(waited.every(status => status === 503), `only 503 while it waits (${waited.length})`)
  const proof = await makeProof(holder, { htu: PROTECTED, token })
  t.equal((await call(proof)).statusCode, 200)
  t.equal((await call(proof)).statusCode, 401, 'replayed')

  await redis.kill()
  const down = await call()
  t.equal(down.statusCode, 503)
  t.equal(down.headers['retry-after'], '1')
  t.same(down.json(), { message: 'DPoP proofs cannot be checked right now; try again later' })

  await redis.restart()
  // ioredis reconnects on its own (backoff up to 2 s), and the empty Redis takes only new
  // proofs after the tolerance: meanwhile every answer is a 503, never a 500.
  const reconnecting = await untilAccepted(async () => (await call()).statusCode)
  t.ok(reconnecting.every(status => status === 503), `only 503 until recovered (${reconnecting.length})`)
  const again = await makeProof(holder, { htu: PROTECTED, token, claims: { ath: ath(token) } })
  t.equal((await call(again)).statusCode, 200)
  t.equal((await call(again)).statusCode, 401, 'replays refused again')
})

t.test('with REDIS_URL, the server still closes cleanly while Redis is down', requires('redis-server'), async t => {
  const redis = await startRedis(t)
  const { app } = await setup(t, { REDIS_URL: redis.url })
  await redis.kill()
  await t.resolves(app.close())
})
