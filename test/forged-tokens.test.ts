import { createHmac, createPublicKey, type JsonWebKey } from 'node:crypto'
import t, { type Test } from 'tap'
import { Rejections } from 'fastify-oauth-resource-server'
import { forgeToken, signRaw, createTestIssuer } from 'fastify-oauth-resource-server/testing'
import { bearer, build, envFor, idpFor, testKeyPair } from './helper.js'

const PROTECTED = '/api/messages/protected'
const ADMIN = '/api/messages/admin'

async function setup (t: Test) {
  const idp = await idpFor(t)
  const app = await build(t, envFor(idp))
  const now = Math.floor(Date.now() / 1000)
  const claims = { iss: idp.issuer, aud: idp.audience, sub: 'attacker', iat: now, exp: now + 3600, permissions: ['read:admin-messages'] }
  const expectRejected = async (token: string, description: string, url = ADMIN) => {
    const res = await app.inject({ url, headers: bearer(token) })
    t.equal(res.statusCode, 401, `${description}: status`)
    t.equal(res.json().error, 'invalid_token', `${description}: error code`)
    return res
  }
  return { idp, app, claims, expectRejected }
}

t.test('alg "none" in any case is rejected before any key is used', async t => {
  const { idp, claims, expectRejected } = await setup(t)
  for (const alg of ['none', 'None', 'NONE', 'nOnE']) {
    for (const signature of ['', 'c2lnbmF0dXJl']) {
      const res = await expectRejected(forgeToken({ alg, kid: 'key-1', typ: 'JWT' }, claims, signature), `alg ${alg}`)
      t.equal(res.json().error_description, Rejections.algorithm)
    }
  }
  t.equal(idp.requests.jwks, 1, 'no key fetch beyond start-up')
})

t.test('RS256→HS256 confusion: HMAC keyed with the public key is rejected', async t => {
  const { idp, claims, expectRejected } = await setup(t)
  const publicPem = createPublicPem(idp.signingKey.jwk)
  for (const secret of [publicPem, publicPem.trim(), JSON.stringify(idp.signingKey.jwk)]) {
    const unsigned = forgeToken({ alg: 'HS256', kid: 'key-1', typ: 'JWT' }, claims).slice(0, -1)
    const signature = createHmac('sha256', secret).update(unsigned).digest('base64url')
    const res = await expectRejected(`${unsigned}.${signature}`, 'HS256 with the public key')
    t.equal(res.json().error_description, Rejections.algorithm)
  }
})

t.test('a stripped signature is rejected', async t => {
  const { idp, claims, expectRejected } = await setup(t)
  const token = idp.sign(claims)
  const [header, payload] = token.split('.')
  await expectRejected(`${header}.${payload}.`, 'empty signature')
  await expectRejected(`${header}.${payload}`, 'two segments')
})

t.test('a foreign signature under our kid is rejected', async t => {
  const { idp, claims, expectRejected } = await setup(t)
  const impostor = testKeyPair('key-1')
  const res = await expectRejected(idp.sign(claims, { key: impostor }), 'signed by another key with our kid')
  t.equal(res.json().error_description, Rejections.signature)
})

t.test('a tampered payload under a real signature is rejected', async t => {
  const { idp, expectRejected } = await setup(t)
  const [header, , signature] = idp.sign({ permissions: [] }).split('.')
  const now = Math.floor(Date.now() / 1000)
  const payload = Buffer.from(JSON.stringify({ iss: idp.issuer, aud: idp.audience, exp: now + 3600, permissions: ['read:admin-messages'] })).toString('base64url')
  const res = await expectRejected(`${header}.${payload}.${signature}`, 'payload swapped')
  t.equal(res.json().error_description, Rejections.signature)
})

t.test('a signature by the right key over another header is rejected', async t => {
  const { idp, claims, expectRejected } = await setup(t)
  const [, payload, signature] = idp.sign(claims).split('.')
  const header = Buffer.from(JSON.stringify({ alg: 'RS256', kid: 'key-1', typ: 'at+jwt' })).toString('base64url')
  await expectRejected(`${header}.${payload}.${signature}`, 'header swapped')
})

t.test('an embedded jwk, jku or x5u is never trusted nor fetched', async t => {
  const { idp, claims, expectRejected } = await setup(t)
  const attacker = await createTestIssuer({ audience: idp.audience })
  t.teardown(() => attacker.close())
  const attackerKey = attacker.signingKey
  const headers = [
    { jwk: attackerKey.jwk },
    { jku: attacker.jwksUri },
    { x5u: `${attacker.issuer}cert.pem` },
    { jku: attacker.jwksUri, jwk: attackerKey.jwk, x5u: `${attacker.issuer}cert.pem` }
  ]
  for (const header of headers) {
    // under the attacker's kid, and under ours
    await expectRejected(attacker.sign(claims, { key: attackerKey, header }), `attacker kid + ${Object.keys(header).join(',')}`)
    await expectRejected(attacker.sign(claims, { key: attackerKey, header: { ...header, kid: 'key-1' } }), `our kid + ${Object.keys(header).join(',')}`)
  }
  t.equal(attacker.totalRequests(), 0, 'nothing was fetched from the attacker')
  t.ok(idp.requests.jwks <= 2, `our JWKS fetched at most once more (${idp.requests.jwks})`)
})

t.test('kid tricks are rejected without a fetch storm', async t => {
  const { idp, claims, expectRejected } = await setup(t)
  const kids: unknown[] = [undefined, '', 42, ['key-1'], { kid: 'key-1' }, null, true, 'x'.repeat(257),
    '../../../../etc/passwd', '__proto__', 'constructor', 'toString', 'key-1\u0000', 'KEY-1', ' key-1']
  for (const kid of kids) {
    const res = await expectRejected(signRaw({ kid }, claims, idp.signingKey), `kid ${JSON.stringify(kid)?.slice(0, 30)}`)
    t.match(res.json().error_description, new RegExp(`^(${Rejections.kid}|${Rejections.unknownKey})$`))
  }
  t.ok(idp.requests.jwks <= 2, `JWKS fetched at most once after start-up (${idp.requests.jwks})`)
})

t.test('a forged token never reaches the handler and never answers 500', async t => {
  const { idp, app } = await setup(t)
  const junk = ['a.b.c', '...', 'e30.e30.e30', 'eyJhbGciOiJSUzI1NiJ9', `${'A'.repeat(5000)}.e30.sig`,
    forgeToken('not json', {}), forgeToken({ alg: 'RS256', kid: 'key-1' }, 'not json'),
    forgeToken([1, 2], { a: 1 }), forgeToken({ alg: 'RS256', kid: 'key-1' }, [1, 2], 'c2ln'),
    idp.sign().replace(/\.[^.]+$/, '.!!!!')]
  for (const token of junk) {
    const res = await app.inject({ url: PROTECTED, headers: { authorization: `Bearer ${token}` } })
    t.ok(res.statusCode === 400 || res.statusCode === 401, `${token.slice(0, 24)} → ${res.statusCode}`)
  }
})

t.test('a header shared with valid tokens carries no verdict to a token that is not a JWS', async t => {
  const { idp, app, claims, expectRejected } = await setup(t)
  const token = idp.sign(claims)
  const [header, payload, signature] = token.split('.')
  const notJws = [`${header}`, `${header}.${payload}`, `${header}.${payload}.${signature}.${signature}`, `${header}..`]
  // Malformed first, so that nothing a bad token leaves behind can be read by a good one…
  for (const bad of notJws) await expectRejected(bad, `${bad.split('.').length} segments before a valid token`, PROTECTED)
  t.equal((await app.inject({ url: ADMIN, headers: bearer(token) })).statusCode, 200, 'the valid token after them')
  // …and after, so that a header read for a good token does not vouch for a bad one.
  for (const bad of notJws) {
    const res = await expectRejected(bad, `${bad.split('.').length} segments after a valid token`, PROTECTED)
    t.equal(res.json().error_description, Rejections.malformed)
  }
})

t.test('a flood of distinct headers neither fetches keys nor stops valid tokens', async t => {
  const { idp, app, claims } = await setup(t)
  const token = idp.sign(claims)
  const impostor = testKeyPair('key-1')
  const verdicts = new Map<string, number>()
  for (let i = 0; i < 200; i++) {
    const res = await app.inject({ url: ADMIN, headers: bearer(signRaw({ typ: 'at+jwt', nonce: i }, claims, impostor)) })
    const verdict = `${res.statusCode} ${res.json().error_description}`
    verdicts.set(verdict, (verdicts.get(verdict) ?? 0) + 1)
    if (i % 50 === 49) t.equal((await app.inject({ url: ADMIN, headers: bearer(token) })).statusCode, 200, `a valid token after ${i + 1} distinct headers`)
  }
  t.same(Object.fromEntries(verdicts), { [`401 ${Rejections.signature}`]: 200 }, 'every forged header rejected for its signature')
  t.equal(idp.requests.jwks, 1, 'no key fetch beyond start-up')
})

function createPublicPem (jwk: JsonWebKey): string {
  return createPublicKey({ key: jwk, format: 'jwk' }).export({ type: 'spki', format: 'pem' }) as string
}
