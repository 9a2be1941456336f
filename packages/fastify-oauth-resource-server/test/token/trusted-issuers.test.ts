import { randomUUID } from 'node:crypto'
import Fastify, { type FastifyInstance } from 'fastify'
import type { Test } from 'tap'
import t from 'tap'
import auth, { type AuthOptions, type IssuerOptions } from '../../src/index.js'
import { resolveOptions } from '../../src/options.js'
import { Rejections } from '../../src/claims/rejections.js'
import { createTrustedIssuers } from '../../src/token/trusted-issuers.js'
import { createKeyPair, forgeToken, type TestIssuer } from '../../src/testing/index.js'
import { bearer, idpFor, testKeyPair } from '../helper.js'

// Several trusted issuers: a token's iss only selects among them, each has its own keys and audience.

const A_AUDIENCE = 'https://api-a.example.com'
const B_AUDIENCE = 'https://api-b.example.com'

/** Two issuers on a bare app: /me answers the verifying issuer; /staff takes tokens from `a` only. */
async function buildTwo (t: Test, a: TestIssuer, b: TestIssuer, options: Partial<AuthOptions> = {}, entries: Partial<IssuerOptions>[] = []): Promise<FastifyInstance> {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(auth, {
    issuers: [
      { issuer: a.issuer, audience: a.audience, ...entries[0] },
      { issuer: b.issuer, audience: b.audience, ...entries[1] }
    ],
    ...options
  })
  app.get('/me', { onRequest: app.authenticate }, async request => ({ iss: request.claims?.iss, sub: request.claims?.sub }))
  app.get('/staff', { onRequest: app.authenticate, preHandler: app.requireIssuer(a.issuer) }, async () => ({ ok: true }))
  app.get('/open-staff', { preHandler: app.requireIssuer(a.issuer) }, async () => ({ ok: true }))
  await app.ready()
  return app
}

const pair = async (t: Test, keys?: { a?: string, b?: string }) => [
  await idpFor(t, { audience: A_AUDIENCE, ...(keys?.a === undefined ? {} : { keys: [testKeyPair(keys.a)] }) }),
  await idpFor(t, { audience: B_AUDIENCE, ...(keys?.b === undefined ? {} : { keys: [testKeyPair(keys.b)] }) })
] as const

const reason = (res: { headers: Record<string, unknown> }) => String(res.headers['www-authenticate'])

t.test('a token from either issuer is accepted, and the handler sees which issuer verified it', async t => {
  const [a, b] = await pair(t)
  const app = await buildTwo(t, a, b)
  t.same((await app.inject({ url: '/me', headers: bearer(a.sign({ sub: 'alice' })) })).json(), { iss: a.issuer, sub: 'alice' })
  t.same((await app.inject({ url: '/me', headers: bearer(b.sign({ sub: 'bob' })) })).json(), { iss: b.issuer, sub: 'bob' })
})

t.test('an unknown iss is 401, and a flood naming random issuers makes no outbound request', async t => {
  const [a, b] = await pair(t)
  const evil = await idpFor(t, { audience: A_AUDIENCE })
  // No cooldown: a fetch for an unknown kid would happen on every request if the iss reached a key store.
  const app = await buildTwo(t, a, b, { keys: { cooldown: 0 } })
  const before = a.totalRequests() + b.totalRequests()

  const res = await app.inject({ url: '/me', headers: bearer(evil.sign()) })
  t.equal(res.statusCode, 401)
  t.match(reason(res), Rejections.issuer)

  const exp = Math.floor(Date.now() / 1000) + 600
  const flood = await Promise.all(Array.from({ length: 500 }, (_, i) => app.inject({
    url: '/me',
    headers: bearer(forgeToken({ alg: 'RS256', kid: randomUUID() }, { iss: i % 2 === 0 ? `https://${randomUUID()}.example.com/` : evil.issuer, aud: A_AUDIENCE, exp }, 'c2ln'))
  })))
  t.same([...new Set(flood.map(r => r.statusCode))], [401])
  t.equal(a.totalRequests() + b.totalRequests(), before, 'no request to either trusted issuer')
  t.equal(evil.totalRequests(), 0, 'nothing fetched from the issuer the tokens name')
})

t.test('kid collision: each issuer verifies its own tokens, and a key of one never verifies a token claiming the other', async t => {
  const [a, b] = await pair(t, { a: 'shared', b: 'shared' })
  const app = await buildTwo(t, a, b)
  t.equal((await app.inject({ url: '/me', headers: bearer(a.sign()) })).statusCode, 200, "a's token, kid shared")
  t.equal((await app.inject({ url: '/me', headers: bearer(b.sign()) })).statusCode, 200, "b's token, kid shared")

  // Signed by b's key with the shared kid, claiming a (and a's audience).
  const crossed = await app.inject({ url: '/me', headers: bearer(b.sign({ iss: a.issuer, aud: A_AUDIENCE })) })
  t.equal(crossed.statusCode, 401)
  t.match(reason(crossed), Rejections.signature)

  // A kid only b publishes, claiming a: looked up among a's keys only.
  const bOnly = testKeyPair('b-only')
  b.published = [...b.published, bOnly]
  const unknown = await app.inject({ url: '/me', headers: bearer(b.sign({ iss: a.issuer, aud: A_AUDIENCE }, { key: bOnly })) })
  t.equal(unknown.statusCode, 401)
})

t.test('iss is matched exactly: arrays, other types, prefixes and slash variants select nothing', async t => {
  const options = resolveOptions({ issuers: [{ issuer: 'https://a.example.com/', audience: 'x' }, { issuer: 'https://b.example.com/tenant', audience: 'y' }] })
  const issuers = createTrustedIssuers(options, () => {}, Fastify().log)
  t.teardown(() => issuers.close())
  const [a, b] = issuers.list
  t.equal(issuers.select('https://a.example.com/'), a)
  t.equal(issuers.select('https://a.example.com'), a, 'the one trailing-slash variant selects (the verifier then wants the spelling discovery gives)')
  t.equal(issuers.select('https://b.example.com/tenant'), b)
  for (const iss of [
    ['https://a.example.com/'], ['https://b.example.com/tenant', 'https://a.example.com/'], { toString: () => 'https://a.example.com/' },
    'https://a.example.com//', 'https://a.example.com/x', 'https://a.example.co', 'https://b.example.com/', 'https://b.example.com/tenant/x',
    'https://b.example.com/tenantx', 'HTTPS://A.EXAMPLE.COM/', ' https://a.example.com/', 42, null, undefined
  ]) {
    t.equal(issuers.select(iss), undefined, JSON.stringify(iss) ?? String(iss))
  }
})

t.test('iss as an array naming a trusted issuer, or the slash variant discovery does not give, is 401', async t => {
  const [a, b] = await pair(t)
  const app = await buildTwo(t, a, b)
  for (const iss of [[a.issuer], [b.issuer, a.issuer], a.issuer.slice(0, -1), `${a.issuer}/`]) {
    const res = await app.inject({ url: '/me', headers: bearer(a.sign({ iss })) })
    t.equal(res.statusCode, 401, JSON.stringify(iss))
    t.match(reason(res), Rejections.issuer)
  }
})

t.test('an issuer configured without its trailing slash still wants the exact iss discovery names', async t => {
  const [a, b] = await pair(t)
  const app = await buildTwo(t, a, b, {}, [{ issuer: a.issuer.slice(0, -1) }])
  t.equal((await app.inject({ url: '/me', headers: bearer(a.sign()) })).statusCode, 200)
  const bare = await app.inject({ url: '/me', headers: bearer(a.sign({ iss: a.issuer.slice(0, -1) })) })
  t.equal(bare.statusCode, 401)
})

t.test("a token for the other issuer's audience is refused: each issuer has its own audience", async t => {
  const [a, b] = await pair(t)
  const app = await buildTwo(t, a, b)
  for (const aud of [B_AUDIENCE, [B_AUDIENCE]]) {
    const res = await app.inject({ url: '/me', headers: bearer(a.sign({ aud })) })
    t.equal(res.statusCode, 401, JSON.stringify(aud))
    t.match(reason(res), Rejections.audience)
  }
  t.equal((await app.inject({ url: '/me', headers: bearer(a.sign({ aud: [B_AUDIENCE, A_AUDIENCE] })) })).statusCode, 200)
})

t.test('each issuer has its own algorithms', async t => {
  const a = await idpFor(t, { audience: A_AUDIENCE })
  const b = await idpFor(t, { audience: B_AUDIENCE, keys: [createKeyPair('ec', 'ES256')] })
  const app = await buildTwo(t, a, b, {}, [{ algorithms: ['RS256'] }, { algorithms: ['ES256'] }])
  t.equal((await app.inject({ url: '/me', headers: bearer(b.sign()) })).statusCode, 200)
  // An ES256 header claiming a, whose algorithms are RS256 only.
  const res = await app.inject({ url: '/me', headers: bearer(b.sign({ iss: a.issuer, aud: A_AUDIENCE })) })
  t.equal(res.statusCode, 401)
  t.match(reason(res), Rejections.algorithm)
})

t.test("one issuer's outage does not touch the other's tokens; authStatus reports each", async t => {
  const [a, b] = await pair(t)
  b.fault = 'down'
  const app = await buildTwo(t, a, b, { keys: { cooldown: 0.1 } })
  t.equal((await app.inject({ url: '/me', headers: bearer(a.sign()) })).statusCode, 200)
  const down = await app.inject({ url: '/me', headers: bearer(b.sign()) })
  t.equal(down.statusCode, 503)
  t.ok(down.headers['retry-after'])
  const status = app.authStatus()
  t.equal(status.keysLoaded, false, 'not every issuer is loaded')
  t.same(status.issuers.map(each => [each.issuer, each.keysLoaded]), [[a.issuer, true], [b.issuer, false]])
})

t.test('requireIssuer: a route takes tokens from the listed issuers only, and fails closed', async t => {
  const [a, b] = await pair(t)
  const app = await buildTwo(t, a, b)
  t.equal((await app.inject({ url: '/staff', headers: bearer(a.sign()) })).statusCode, 200)
  const other = await app.inject({ url: '/staff', headers: bearer(b.sign()) })
  t.equal(other.statusCode, 401)
  t.match(reason(other), Rejections.issuerNotAllowed)
  t.match(other.json(), { code: 'FST_AUTH_INVALID_TOKEN' })
  t.equal((await app.inject({ url: '/open-staff', headers: bearer(a.sign()) })).statusCode, 401, 'without authenticate, no claims: refused')
  t.throws(() => app.requireIssuer('https://typo.example.com/'), /is not a configured issuer/)
  t.throws(() => app.requireIssuer(), /at least one issuer/)
})

t.test('bad issuers options stop registration with a message naming the option', async t => {
  const cases: Array<[AuthOptions, RegExp]> = [
    [{ issuers: [] }, /option issuers must be a non-empty array/],
    [{ issuers: [{ issuer: 'https://a.example.com/', audience: 'x' }], issuer: 'https://a.example.com/' }, /option issuer goes inside each entry of issuers/],
    [{ issuers: [{ issuer: 'https://a.example.com/', audience: '' }] }, /option issuers\[0\]\.audience is required/],
    [{ issuers: [{ issuer: 'https://a.example.com/', audience: 'x' }, { issuer: 'http://b.example.com/', audience: 'y' }] }, /option issuers\[1\]\.issuer must use https:/],
    [{ issuers: [{ issuer: 'https://a.example.com/', audience: 'x' }, { issuer: 'https://a.example.com', audience: 'y' }] }, /option issuers\[1\]\.issuer is issuers\[0\]\.issuer again/],
    [{ issuers: [{ issuer: 'https://a.example.com/', audience: 'x', algorithms: ['HS256' as 'RS256'] }] }, /option issuers\[0\]\.algorithms has "HS256"/]
  ]
  for (const [options, message] of cases) {
    const app = Fastify()
    await t.rejects(async () => { await app.register(auth, options).ready() }, message)
    await app.close()
  }
})
