import { request as httpRequest } from 'node:http'
import type { AddressInfo } from 'node:net'
import Fastify from 'fastify'
import { exportJWK, SignJWT } from 'jose'
import t, { type Test } from 'tap'
import auth, { type AuthOptions, type DpopOptions } from '../../src/index.js'
import { bearer, buildBare, idpFor } from '../helper.js'
import { ath, createHolder, createMirrorHolder, dpop, makeProof } from './holder.js'

// Requests through inject name host localhost:80; the app is told its origin, never reads Host.
const ORIGIN = 'http://localhost'
const ME = `${ORIGIN}/me`

async function setup (t: Test, dpopOptions: DpopOptions = {}, options: Partial<AuthOptions> = {}) {
  const idp = await idpFor(t)
  const app = await buildBare(t, idp, { ...options, dpop: { mode: 'allowed', origin: ORIGIN, ...dpopOptions } })
  const holder = await createHolder()
  const token = idp.sign({ sub: 'alice', cnf: { jkt: holder.jkt } })
  return { idp, app, holder, token }
}

// Under Fastify's default error handler the body is { statusCode, code, error, message }: the message is the description.
const description = (res: { json: () => unknown }) => (res.json() as { message?: string }).message

t.test('a DPoP-bound token with a fresh proof for this method and URL is accepted', async t => {
  const { app, holder, token } = await setup(t)
  const res = await app.inject({ url: '/me', headers: dpop(token, await makeProof(holder, { htu: ME, token })) })
  t.equal(res.statusCode, 200)
  t.same(res.json(), { sub: 'alice' })
})

t.test('a replayed proof is refused: each proof is accepted once', async t => {
  const { app, holder, token } = await setup(t)
  const proof = await makeProof(holder, { htu: ME, token })
  t.equal((await app.inject({ url: '/me', headers: dpop(token, proof) })).statusCode, 200)
  const replay = await app.inject({ url: '/me', headers: dpop(token, proof) })
  t.equal(replay.statusCode, 401)
  t.match(replay.headers['www-authenticate'], /DPoP realm="api", error="invalid_dpop_proof", error_description="The DPoP proof was already used"/)
  t.match(replay.json(), { code: 'FST_AUTH_INVALID_DPOP_PROOF' })
})

t.test('the proof is checked on every request, though the token\'s own check is cached', async t => {
  const { app, holder, token } = await setup(t)
  t.equal((await app.inject({ url: '/me', headers: dpop(token, await makeProof(holder, { htu: ME, token })) })).statusCode, 200)
  const noProof = await app.inject({ url: '/me', headers: { authorization: `DPoP ${token}` } })
  t.equal(noProof.statusCode, 401)
  t.equal(description(noProof), 'A DPoP proof is required with the DPoP scheme')
})

t.test('a proof made for another method is refused', async t => {
  const { app, holder, token } = await setup(t)
  const res = await app.inject({ url: '/me', headers: dpop(token, await makeProof(holder, { htm: 'POST', htu: ME, token })) })
  t.equal(res.statusCode, 401)
  t.equal(description(res), 'The DPoP proof htm does not match the request method')
})

t.test('a proof made for another URL is refused', async t => {
  const { app, holder, token } = await setup(t)
  for (const htu of [`${ORIGIN}/admin`, 'https://localhost/me', 'http://localhost:8080/me', 'http://other.example/me']) {
    const res = await app.inject({ url: '/me', headers: dpop(token, await makeProof(holder, { htu, token })) })
    t.equal(res.statusCode, 401, htu)
    t.equal(description(res), 'The DPoP proof htu does not match the request URL', htu)
  }
})

t.test('htu is compared normalised, without query or fragment (RFC 3986 §6)', async t => {
  const { app, holder, token } = await setup(t)
  for (const htu of ['HTTP://LocalHost:80/me', 'http://localhost/me?x=1#f', 'http://localhost/me']) {
    const res = await app.inject({ url: '/me?page=2', headers: dpop(token, await makeProof(holder, { htu, token })) })
    t.equal(res.statusCode, 200, htu)
  }
})

t.test('with several origins, a proof may name any of them, and no other', async t => {
  const idp = await idpFor(t)
  const app = await buildBare(t, idp, { dpop: { mode: 'allowed', origin: ['https://api.example.com', ORIGIN, 'http://127.0.0.1:8080'] } })
  const holder = await createHolder()
  const token = idp.sign({ sub: 'alice', cnf: { jkt: holder.jkt } })
  for (const htu of ['https://api.example.com/me', ME, 'http://127.0.0.1:8080/me', 'HTTPS://API.example.com:443/me?x=1']) {
    const res = await app.inject({ url: '/me?page=2', headers: dpop(token, await makeProof(holder, { htu, token })) })
    t.equal(res.statusCode, 200, htu)
  }
  for (const htu of ['https://api.example.org/me', 'http://api.example.com/me', 'http://127.0.0.1:8081/me', 'https://api.example.com/you']) {
    const res = await app.inject({ url: '/me', headers: dpop(token, await makeProof(holder, { htu, token })) })
    t.equal(res.statusCode, 401, htu)
    t.equal(description(res), 'The DPoP proof htu does not match the request URL', htu)
  }
})

t.test('a forged Host header does not make a proof for another host pass: htu is checked against the configured origin', async t => {
  const { app, holder, token } = await setup(t)
  const res = await app.inject({
    url: '/me',
    headers: { host: 'evil.example', ...dpop(token, await makeProof(holder, { htu: 'http://evil.example/me', token })) }
  })
  t.equal(res.statusCode, 401)
  t.equal(description(res), 'The DPoP proof htu does not match the request URL')
  const forwarded = await app.inject({
    url: '/me',
    headers: { 'x-forwarded-host': 'evil.example', ...dpop(token, await makeProof(holder, { htu: 'http://evil.example/me', token })) }
  })
  t.equal(forwarded.statusCode, 401)
})

t.test('a proof signed by another key than the one the token is bound to is refused', async t => {
  const { app, token } = await setup(t)
  const thief = await createHolder()
  const res = await app.inject({ url: '/me', headers: dpop(token, await makeProof(thief, { htu: ME, token })) })
  t.equal(res.statusCode, 401)
  t.equal(description(res), 'The DPoP proof key is not the one the access token is bound to')
})

t.test('a proof whose signature is not made by its embedded jwk is refused', async t => {
  const { app, holder, token } = await setup(t)
  const other = await createHolder()
  const res = await app.inject({ url: '/me', headers: dpop(token, await makeProof(holder, { htu: ME, token, signWith: other.privateKey })) })
  t.equal(res.statusCode, 401)
  t.equal(description(res), 'The DPoP proof signature is invalid')
})

t.test('a proof with the exact header of a key already accepted, signed by another key, is refused', async t => {
  const { app, holder, token } = await setup(t)
  const accepted = await makeProof(holder, { htu: ME, token })
  t.equal((await app.inject({ url: '/me', headers: dpop(token, accepted) })).statusCode, 200)
  const thief = await createHolder()
  const forged = await makeProof(holder, { htu: ME, token, signWith: thief.privateKey })
  t.equal(forged.split('.')[0], accepted.split('.')[0], 'the same header as the accepted proof')
  const res = await app.inject({ url: '/me', headers: dpop(token, forged) })
  t.equal(res.statusCode, 401)
  t.equal(description(res), 'The DPoP proof signature is invalid')
  t.equal((await app.inject({ url: '/me', headers: dpop(token, await makeProof(holder, { htu: ME, token })) })).statusCode, 200)
})

t.test('a key with the bound key\'s x and another y, or its kid, is not taken for the bound key', async t => {
  const { app, idp, holder, token } = await setup(t)
  t.equal((await app.inject({ url: '/me', headers: dpop(token, await makeProof(holder, { htu: ME, token })) })).statusCode, 200)
  const mirror = await createMirrorHolder(holder)
  const own = await app.inject({ url: '/me', headers: dpop(token, await makeProof(mirror, { htu: ME, token })) })
  t.equal(own.statusCode, 401)
  t.equal(description(own), 'The DPoP proof key is not the one the access token is bound to')
  const namingHolder = await app.inject({ url: '/me', headers: dpop(token, await makeProof(holder, { htu: ME, token, signWith: mirror.privateKey })) })
  t.equal(namingHolder.statusCode, 401)
  t.equal(description(namingHolder), 'The DPoP proof signature is invalid')
  // The mirror is a real key: a token bound to it works with its proofs.
  const mirrorToken = idp.sign({ sub: 'mallory', cnf: { jkt: mirror.jkt } })
  t.equal((await app.inject({ url: '/me', headers: dpop(mirrorToken, await makeProof(mirror, { htu: ME, token: mirrorToken })) })).statusCode, 200)

  const kid = 'shared-kid'
  const kidded = { ...holder, jwk: { ...holder.jwk, kid } }
  t.equal((await app.inject({ url: '/me', headers: dpop(token, await makeProof(kidded, { htu: ME, token })) })).statusCode, 200)
  const thief = await createHolder()
  const sameKid = await app.inject({ url: '/me', headers: dpop(token, await makeProof({ ...thief, jwk: { ...thief.jwk, kid } }, { htu: ME, token })) })
  t.equal(sameKid.statusCode, 401)
  t.equal(description(sameKid), 'The DPoP proof key is not the one the access token is bound to')
})

t.test('a proof without ath, or with the hash of another token, is refused', async t => {
  const { app, holder, token } = await setup(t)
  const missing = await app.inject({ url: '/me', headers: dpop(token, await makeProof(holder, { htu: ME })) })
  t.equal(missing.statusCode, 401)
  t.equal(description(missing), 'The DPoP proof ath does not match the access token')
  const wrong = await app.inject({ url: '/me', headers: dpop(token, await makeProof(holder, { htu: ME, claims: { ath: ath('another token') } })) })
  t.equal(wrong.statusCode, 401)
  t.equal(description(wrong), 'The DPoP proof ath does not match the access token')
})

t.test('a proof older than maxAge, or issued in the future past the tolerance, is refused', async t => {
  const { app, holder, token } = await setup(t, { maxAge: 60, clockTolerance: 5 })
  const now = Math.floor(Date.now() / 1000)
  const stale = await app.inject({ url: '/me', headers: dpop(token, await makeProof(holder, { htu: ME, token, claims: { iat: now - 120 } })) })
  t.equal(stale.statusCode, 401)
  t.equal(description(stale), 'The DPoP proof is too old')
  const future = await app.inject({ url: '/me', headers: dpop(token, await makeProof(holder, { htu: ME, token, claims: { iat: now + 60 } })) })
  t.equal(future.statusCode, 401)
  t.equal(description(future), 'The DPoP proof was issued in the future')
  const withinTolerance = await app.inject({ url: '/me', headers: dpop(token, await makeProof(holder, { htu: ME, token, claims: { iat: now + 2 } })) })
  t.equal(withinTolerance.statusCode, 200)
})

t.test('a proof without jti, htm, htu or iat is refused', async t => {
  const { app, holder, token } = await setup(t)
  for (const claim of ['jti', 'htm', 'htu', 'iat']) {
    const res = await app.inject({ url: '/me', headers: dpop(token, await makeProof(holder, { htu: ME, token, claims: { [claim]: undefined } })) })
    t.equal(res.statusCode, 401, claim)
    t.match(description(res), /^The DPoP proof/, claim)
  }
})

t.test('a DPoP-bound token sent as Bearer is refused, in every mode', async t => {
  for (const mode of ['allowed', 'off'] as const) {
    const idp = await idpFor(t)
    const app = await buildBare(t, idp, { dpop: { mode, origin: ORIGIN } })
    const holder = await createHolder()
    const res = await app.inject({ url: '/me', headers: bearer(idp.sign({ cnf: { jkt: holder.jkt } })) })
    t.equal(res.statusCode, 401, mode)
    t.match(res.headers['www-authenticate'], /^Bearer realm="api", error="invalid_token", error_description="The access token is DPoP-bound: send it with the DPoP scheme and a proof"/, mode)
  }
})

t.test('an unbound token sent with the DPoP scheme is refused', async t => {
  const { app, idp, holder } = await setup(t)
  const token = idp.sign()
  const res = await app.inject({ url: '/me', headers: dpop(token, await makeProof(holder, { htu: ME, token })) })
  t.equal(res.statusCode, 401)
  t.match(res.headers['www-authenticate'], /DPoP realm="api", error="invalid_token", error_description="The access token is not DPoP-bound"/)
})

t.test('two DPoP proof headers are refused, even when each is valid', async t => {
  const { app, holder, token } = await setup(t)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as AddressInfo
  const first = await makeProof(holder, { htu: ME, token })
  const second = await makeProof(holder, { htu: ME, token })
  const res = await new Promise<{ status: number, body: string }>((resolve, reject) => {
    const req = httpRequest({ port, host: '127.0.0.1', path: '/me', headers: { host: 'localhost', authorization: `DPoP ${token}`, dpop: [first, second] } }, response => {
      let body = ''
      response.on('data', chunk => { body += chunk })
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }))
    })
    req.on('error', reject)
    req.end()
  })
  t.equal(res.status, 401)
  t.equal(JSON.parse(res.body).message, 'Send exactly one DPoP proof header')
})

t.test('a proof whose jwk carries the private key is refused', async t => {
  const { app, holder, token } = await setup(t)
  const privateJwk = await exportJWK(holder.privateKey)
  const res = await app.inject({ url: '/me', headers: dpop(token, await makeProof(holder, { htu: ME, token, header: { jwk: privateJwk } })) })
  t.equal(res.statusCode, 401)
  t.equal(description(res), 'The DPoP proof jwk must be a public key')
})

t.test('a proof whose typ is not dpop+jwt is refused', async t => {
  const { app, holder, token } = await setup(t)
  for (const typ of ['JWT', 'at+jwt', undefined]) {
    const res = await app.inject({ url: '/me', headers: dpop(token, await makeProof(holder, { htu: ME, token, header: { typ } })) })
    t.equal(res.statusCode, 401, String(typ))
    t.equal(description(res), 'The DPoP proof typ must be dpop+jwt', String(typ))
  }
})

t.test('a proof with a symmetric (HS256) or none alg, or one off the allowlist, is refused', async t => {
  const { app, idp, holder, token } = await setup(t, { algorithms: ['ES256'] })
  const secret = new TextEncoder().encode('a shared secret of thirty-two bytes!')
  const hs = await new SignJWT({ jti: 'x', htm: 'GET', htu: ME, iat: Math.floor(Date.now() / 1000), ath: ath(token) })
    .setProtectedHeader({ typ: 'dpop+jwt', alg: 'HS256', jwk: holder.jwk })
    .sign(secret)
  const hsRes = await app.inject({ url: '/me', headers: dpop(token, hs) })
  t.equal(hsRes.statusCode, 401)
  t.equal(description(hsRes), 'The DPoP proof algorithm is not accepted')

  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')
  const none = `${part({ typ: 'dpop+jwt', alg: 'none', jwk: holder.jwk })}.${part({ jti: 'y', htm: 'GET', htu: ME, iat: Math.floor(Date.now() / 1000), ath: ath(token) })}.`
  const noneRes = await app.inject({ url: '/me', headers: dpop(token, none) })
  t.equal(noneRes.statusCode, 401)
  t.match(description(noneRes), /^The DPoP proof (algorithm is not accepted|is malformed)$/)

  // An asymmetric algorithm, but off this app's allowlist.
  const ed = await createHolder('EdDSA')
  const edToken = idp.sign({ cnf: { jkt: ed.jkt } })
  const edRes = await app.inject({ url: '/me', headers: dpop(edToken, await makeProof(ed, { htu: ME, token: edToken })) })
  t.equal(edRes.statusCode, 401)
  t.equal(description(edRes), 'The DPoP proof algorithm is not accepted')
})

t.test('when the replay cache is full, new proofs are refused with 503 and Retry-After (fail closed)', async t => {
  const { app, holder, token } = await setup(t, { replayCacheSize: 1 })
  t.equal((await app.inject({ url: '/me', headers: dpop(token, await makeProof(holder, { htu: ME, token })) })).statusCode, 200)
  const full = await app.inject({ url: '/me', headers: dpop(token, await makeProof(holder, { htu: ME, token })) })
  t.equal(full.statusCode, 503)
  t.equal(full.headers['retry-after'], '1')
  t.match(full.json(), { code: 'FST_AUTH_REPLAY_CACHE_UNAVAILABLE' })
})

t.test('a replay cache that throws or never answers refuses the request with 503, never accepts it', async t => {
  const { app, holder, token } = await setup(t, { replayCache: { remember: () => Promise.reject(new Error('down')) } })
  const res = await app.inject({ url: '/me', headers: dpop(token, await makeProof(holder, { htu: ME, token })) })
  t.equal(res.statusCode, 503)
  t.equal(res.headers['retry-after'], '1')
})

t.test('mode allowed: challenges name both schemes, the error on the one the client used', async t => {
  const { app, holder, token } = await setup(t, { algorithms: ['ES256', 'PS256'] })
  const missing = await app.inject('/me')
  t.equal(missing.headers['www-authenticate'], 'Bearer realm="api", DPoP realm="api", algs="ES256 PS256"')
  const badBearer = await app.inject({ url: '/me', headers: bearer('x.y.z') })
  t.match(badBearer.headers['www-authenticate'], /^Bearer realm="api", error="invalid_token", error_description="[^"]+", DPoP realm="api", algs="ES256 PS256"$/)
  const badProof = await app.inject({ url: '/me', headers: dpop(token, 'x.y.z') })
  t.equal(badProof.headers['www-authenticate'], 'Bearer realm="api", DPoP realm="api", error="invalid_dpop_proof", error_description="The DPoP proof is malformed", algs="ES256 PS256"')
  const badToken = await app.inject({ url: '/me', headers: dpop('x.y.z', await makeProof(holder, { htu: ME, token })) })
  t.match(badToken.headers['www-authenticate'], /^Bearer realm="api", DPoP realm="api", error="invalid_token", error_description="[^"]+", algs="ES256 PS256"$/)
  const ok = await app.inject({ url: '/me', headers: bearer((await setup(t)).idp.sign()) })
  t.equal(ok.statusCode, 401, 'a token from another issuer is still refused')
})

t.test('mode allowed: an unbound token as Bearer still works, and 403 scope answers are unchanged', async t => {
  const { app, idp, holder } = await setup(t)
  t.equal((await app.inject({ url: '/me', headers: bearer(idp.sign()) })).statusCode, 200)
  const token = idp.sign({ cnf: { jkt: holder.jkt } })
  const forbidden = await app.inject({ url: '/admin', headers: dpop(token, await makeProof(holder, { htu: `${ORIGIN}/admin`, token })) })
  t.equal(forbidden.statusCode, 403)
  t.match(forbidden.headers['www-authenticate'], /^Bearer realm="api", error="insufficient_scope"/)
})

t.test('mode required: Bearer is refused with a DPoP challenge; DPoP works', async t => {
  const { app, idp, holder, token } = await setup(t, { mode: 'required', algorithms: ['ES256'] })
  const res = await app.inject({ url: '/me', headers: bearer(idp.sign()) })
  t.equal(res.statusCode, 401)
  t.equal(res.headers['www-authenticate'], 'DPoP realm="api", algs="ES256"')
  t.match(res.json(), { code: 'FST_AUTH_DPOP_REQUIRED' })
  t.equal((await app.inject('/me')).headers['www-authenticate'], 'DPoP realm="api", algs="ES256"')
  const badProof = await app.inject({ url: '/me', headers: dpop(token, 'x.y.z') })
  t.equal(badProof.headers['www-authenticate'], 'DPoP realm="api", error="invalid_dpop_proof", error_description="The DPoP proof is malformed", algs="ES256"')
  t.equal((await app.inject({ url: '/me', headers: dpop(token, await makeProof(holder, { htu: ME, token })) })).statusCode, 200)
})

t.test('mode off: the DPoP scheme is not understood and challenges are Bearer only', async t => {
  const idp = await idpFor(t)
  const app = await buildBare(t, idp)
  const holder = await createHolder()
  const token = idp.sign({ cnf: { jkt: holder.jkt } })
  const res = await app.inject({ url: '/me', headers: dpop(token, await makeProof(holder, { htu: ME, token })) })
  t.equal(res.statusCode, 401)
  t.equal(res.headers['www-authenticate'], 'Bearer realm="api"')
})

t.test('a route\'s config.dpop overrides the plugin\'s mode', async t => {
  const idp = await idpFor(t)
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(auth, { issuer: idp.issuer, audience: idp.audience, dpop: { mode: 'allowed', origin: ORIGIN } })
  app.get('/strict', { onRequest: app.authenticate, config: { dpop: 'required' } }, async () => ({ ok: true }))
  app.get('/legacy', { onRequest: app.authenticate, config: { dpop: 'off' } }, async () => ({ ok: true }))
  app.get('/default', { onRequest: app.authenticate }, async () => ({ ok: true }))
  await app.ready()
  const holder = await createHolder()
  const unbound = idp.sign()
  const bound = idp.sign({ cnf: { jkt: holder.jkt } })
  t.equal((await app.inject({ url: '/strict', headers: bearer(unbound) })).statusCode, 401)
  t.equal((await app.inject({ url: '/strict', headers: dpop(bound, await makeProof(holder, { htu: `${ORIGIN}/strict`, token: bound })) })).statusCode, 200)
  t.equal((await app.inject({ url: '/default', headers: bearer(unbound) })).statusCode, 200)
  const legacy = await app.inject({ url: '/legacy', headers: dpop(bound, await makeProof(holder, { htu: `${ORIGIN}/legacy`, token: bound })) })
  t.equal(legacy.statusCode, 401)
  t.equal(legacy.headers['www-authenticate'], 'Bearer realm="api"')
})

t.test('a route asking for DPoP when the plugin has no dpop.origin, or naming an unknown mode, fails at start', async t => {
  const idp = await idpFor(t)
  for (const [dpopOptions, mode, message] of [
    [undefined, 'allowed', /accepts DPoP but the plugin has no dpop.origin/],
    [{ mode: 'allowed', origin: ORIGIN }, 'sometimes', /config.dpop "sometimes"/]
  ] as const) {
    const app = Fastify()
    t.teardown(() => app.close())
    await app.register(auth, { issuer: idp.issuer, audience: idp.audience, dpop: dpopOptions })
    t.throws(() => app.get('/x', { onRequest: app.authenticate, config: { dpop: mode as 'allowed' } }, async () => ({})), message)
  }
})

t.test('with nonces on, a proof without the current nonce gets use_dpop_nonce and a DPoP-Nonce to retry with', async t => {
  const { app, holder, token } = await setup(t, { nonce: true })
  const first = await app.inject({ url: '/me', headers: dpop(token, await makeProof(holder, { htu: ME, token })) })
  t.equal(first.statusCode, 401)
  t.match(first.headers['www-authenticate'], /DPoP realm="api", error="use_dpop_nonce"/)
  const nonce = first.headers['dpop-nonce'] as string
  t.match(nonce, /^[A-Za-z0-9_-]{20,}$/)
  const wrong = await app.inject({ url: '/me', headers: dpop(token, await makeProof(holder, { htu: ME, token, claims: { nonce: 'made-up' } })) })
  t.equal(wrong.statusCode, 401)
  const retry = await app.inject({ url: '/me', headers: dpop(token, await makeProof(holder, { htu: ME, token, claims: { nonce } })) })
  t.equal(retry.statusCode, 200)
  t.equal(retry.headers['dpop-nonce'], nonce)
})

for (const fastifyTrustProxy of [false, true]) {
  t.test(`origin 'forwarded' takes the origin a trusted proxy forwards, never a client's own Host or X-Forwarded-Host (Fastify trustProxy ${fastifyTrustProxy})`, async t => {
    const idp = await idpFor(t)
    // Fastify's own setting does not matter: the plugin decides by dpop.trustProxy alone.
    const app = Fastify({ trustProxy: fastifyTrustProxy })
    t.teardown(() => app.close())
    await app.register(auth, { issuer: idp.issuer, audience: idp.audience, dpop: { mode: 'allowed', origin: ['http://127.0.0.1:8080', 'forwarded'], trustProxy: '10.0.0.0/8' } })
    app.get('/me', { onRequest: app.authenticate }, async () => ({ ok: true }))
    await app.ready()
    const holder = await createHolder()
    const token = idp.sign({ cnf: { jkt: holder.jkt } })
    const send = async (htu: string, headers: Record<string, string>, remoteAddress: string) =>
      (await app.inject({ url: '/me', remoteAddress, headers: { ...headers, ...dpop(token, await makeProof(holder, { htu, token })) } })).statusCode
    const proxied = { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'api.example.com' }

    t.equal(await send('https://api.example.com/me', proxied, '10.1.2.3'), 200, 'through the trusted proxy')
    t.equal(await send('https://API.example.com:443/me', proxied, '10.1.2.3'), 200, 'compared normalised')
    t.equal(await send('http://localhost/me', proxied, '10.1.2.3'), 401, 'through the proxy, another origin')
    t.equal(await send('http://127.0.0.1:8080/me', {}, '127.0.0.1'), 200, 'a direct client naming the configured origin')
    // The attacks: a client that is not the proxy names its own origin.
    t.equal(await send('http://evil.example/me', { host: 'evil.example' }, '127.0.0.1'), 401, 'a direct client\'s Host')
    t.equal(await send('https://evil.example/me', { host: 'evil.example', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'evil.example' }, '127.0.0.1'), 401, 'a direct client\'s X-Forwarded-*')
    t.equal(await send('https://api.example.com/me', proxied, '127.0.0.1'), 401, 'the proxy\'s values, sent by someone else')
    // From the proxy, the origin is its X-Forwarded-Host only, never the Host it passed on.
    t.equal(await send('http://evil.example/me', { host: 'evil.example' }, '10.1.2.3'), 401, 'the proxy without X-Forwarded-Host')
    t.equal(await send('https://evil.example/me', { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'evil.example/me?' }, '10.1.2.3'), 401, 'a forwarded host that is not a host')
  })
}

t.test('origin \'forwarded\' with trustProxy true, a list or a function: the same peer test', async t => {
  const idp = await idpFor(t)
  const holder = await createHolder()
  const token = idp.sign({ cnf: { jkt: holder.jkt } })
  const settings: Array<DpopOptions['trustProxy']> = [true, ['10.0.0.0/8'], (address: string) => address.startsWith('10.')]
  for (const trustProxy of settings) {
    const app = Fastify()
    t.teardown(() => app.close())
    await app.register(auth, { issuer: idp.issuer, audience: idp.audience, dpop: { mode: 'allowed', origin: 'forwarded', trustProxy } })
    app.get('/me', { onRequest: app.authenticate }, async () => ({ ok: true }))
    const res = await app.inject({ url: '/me', remoteAddress: '10.0.0.1', headers: { 'x-forwarded-host': 'api.example.com', ...dpop(token, await makeProof(holder, { htu: 'http://api.example.com/me', token })) } })
    t.equal(res.statusCode, 200, String(trustProxy))
  }
})

t.test('one key that has used its share of the replay cache gets 429; every other key\'s proofs are still accepted', async t => {
  const { app, idp, holder, token } = await setup(t, { replayCacheSize: 50 })
  const statuses: number[] = []
  for (let i = 0; i < 50; i++) statuses.push((await app.inject({ url: '/me', headers: dpop(token, await makeProof(holder, { htu: ME, token })) })).statusCode)
  t.same(statuses, [...Array(5).fill(200), ...Array(45).fill(429)], 'a tenth of 50, then refused')
  const refused = await app.inject({ url: '/me', headers: dpop(token, await makeProof(holder, { htu: ME, token })) })
  t.equal(refused.headers['retry-after'], '1')
  t.match(refused.json(), { code: 'FST_AUTH_TOO_MANY_DPOP_PROOFS' })
  for (let i = 0; i < 9; i++) {
    const other = await createHolder()
    const otherToken = idp.sign({ sub: `client-${i}`, cnf: { jkt: other.jkt } })
    t.equal((await app.inject({ url: '/me', headers: dpop(otherToken, await makeProof(other, { htu: ME, token: otherToken })) })).statusCode, 200, `client ${i}`)
  }
})

t.test('replayCachePerKey sets one key\'s share', async t => {
  const { app, holder, token } = await setup(t, { replayCacheSize: 50, replayCachePerKey: 2 })
  const statuses: number[] = []
  for (let i = 0; i < 3; i++) statuses.push((await app.inject({ url: '/me', headers: dpop(token, await makeProof(holder, { htu: ME, token })) })).statusCode)
  t.same(statuses, [200, 200, 429])
})

t.test('a replay cache that answers reset refuses the proof with 503 and a Retry-After past the clock tolerance', async t => {
  const { app, holder, token } = await setup(t, { clockTolerance: 5, replayCache: { remember: async () => 'reset' as const } })
  const res = await app.inject({ url: '/me', headers: dpop(token, await makeProof(holder, { htu: ME, token })) })
  t.equal(res.statusCode, 503)
  t.equal(res.headers['retry-after'], '6')
})

t.test('the replay cache is told the proof\'s key and the earliest moment it could have been accepted', async t => {
  const calls: unknown[][] = []
  const { app, holder, token } = await setup(t, { clockTolerance: 5, replayCache: { remember: (...args) => { calls.push(args); return 'fresh' } } })
  const iat = Math.floor(Date.now() / 1000)
  t.equal((await app.inject({ url: '/me', headers: dpop(token, await makeProof(holder, { htu: ME, token, claims: { iat } })) })).statusCode, 200)
  t.equal(calls.length, 1)
  t.match(calls[0], [String, Number, holder.jkt, iat * 1000 - 5000])
})

t.test('a nonce secret given as a function is read on every use: a new secret takes effect at once', async t => {
  let secret = 'the first secret, sixteen+'
  const { app, holder, token } = await setup(t, { nonce: { secret: () => secret } })
  const nonceOf = async () => (await app.inject({ url: '/me', headers: dpop(token, await makeProof(holder, { htu: ME, token })) })).headers['dpop-nonce'] as string
  const first = await nonceOf()
  t.equal((await app.inject({ url: '/me', headers: dpop(token, await makeProof(holder, { htu: ME, token, claims: { nonce: first } })) })).statusCode, 200)
  secret = 'another secret, sixteen+'
  const second = await nonceOf()
  t.not(second, first)
  t.equal((await app.inject({ url: '/me', headers: dpop(token, await makeProof(holder, { htu: ME, token, claims: { nonce: first } })) })).statusCode, 401, 'the old secret\'s nonce')
  t.equal((await app.inject({ url: '/me', headers: dpop(token, await makeProof(holder, { htu: ME, token, claims: { nonce: second } })) })).statusCode, 200)
})

t.test('RFC 9728 metadata announces DPoP algorithms and whether bound tokens are required', async t => {
  const { app } = await setup(t, { mode: 'required', algorithms: ['ES256', 'EdDSA'] }, { resourceMetadata: true })
  const res = await app.inject('/.well-known/oauth-protected-resource')
  t.match(res.json(), { dpop_signing_alg_values_supported: ['ES256', 'EdDSA'], dpop_bound_access_tokens_required: true })
})

t.test('bad dpop options stop registration with a message naming the option', async t => {
  const idp = await idpFor(t)
  const cases: Array<[DpopOptions, RegExp]> = [
    [{ mode: 'allowed' }, /option dpop.origin is required/],
    [{ mode: 'sometimes' as 'allowed', origin: ORIGIN }, /option dpop.mode must be one of off, allowed, required/],
    [{ mode: 'allowed', origin: 'https://api.example.com/v1' }, /option dpop.origin must be origins/],
    [{ mode: 'allowed', origin: ORIGIN, algorithms: ['HS256' as 'ES256'] }, /option dpop.algorithms has "HS256"/],
    [{ mode: 'allowed', origin: ORIGIN, maxAge: 60_000 }, /option dpop.maxAge is in seconds: at most 600, got 60000 \(in ms\? then write 60\)/],
    [{ mode: 'allowed', origin: ORIGIN, replayCacheSize: 0 }, /option dpop.replayCacheSize/],
    [{ mode: 'allowed', origin: ORIGIN, replayCacheSize: 10, replayCachePerKey: 11 }, /option dpop.replayCachePerKey must be an integer from 1 to replayCacheSize \(10\)/],
    [{ mode: 'allowed', origin: 'forwarded' }, /option dpop.origin 'forwarded' needs dpop.trustProxy/],
    [{ mode: 'allowed', origin: [ORIGIN, 'forwarded'] }, /option dpop.origin 'forwarded' needs dpop.trustProxy/],
    [{ mode: 'allowed', origin: ORIGIN, trustProxy: true }, /option dpop.trustProxy is only used with origin 'forwarded'/],
    [{ mode: 'allowed', origin: 'forwarded', trustProxy: 1 as unknown as true }, /option dpop.trustProxy must be true, addresses\/CIDRs .*a hop count cannot tell a proxy from a client/],
    [{ mode: 'allowed', origin: 'forwarded', trustProxy: 'not an address' }, /option dpop.trustProxy has an address proxy-addr cannot read/],
    [{ mode: 'allowed', origin: ORIGIN, nonce: { secret: 'short' } }, /option dpop.nonce.secret/]
  ]
  for (const [dpopOptions, message] of cases) {
    const app = Fastify()
    t.teardown(() => app.close())
    await t.rejects(async () => { await app.register(auth, { issuer: idp.issuer, audience: idp.audience, dpop: dpopOptions }) }, message)
  }
})
