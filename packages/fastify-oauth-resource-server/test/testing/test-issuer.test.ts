import { createServer } from 'node:http'
import { createDecoder } from 'fast-jwt'
import t from 'tap'
import { createTestIssuer, startIntrospectionServer } from '../../src/testing/index.js'
import { bearer, buildBare, idpFor, type LogRecord } from '../helper.js'

const decode = createDecoder({ complete: true }) as (token: string) => { header: Record<string, unknown>, payload: Record<string, unknown> }
const now = () => Math.floor(Date.now() / 1000)

t.test('token() mints the claims asked for, for this issuer and audience', async t => {
  const idp = await idpFor(t)
  const { header, payload } = decode(idp.token({
    sub: 'alice',
    scope: ['read:orders', 'write:orders'],
    permissions: ['read:admin-messages'],
    expiresIn: 120,
    notBefore: -10,
    claims: { tenant: 'acme', iat: undefined }
  }))
  t.equal(header.kid, 'key-1')
  t.equal(header.alg, 'RS256')
  t.match(payload, { iss: idp.issuer, aud: idp.audience, sub: 'alice', scope: 'read:orders write:orders', permissions: ['read:admin-messages'], tenant: 'acme' })
  t.ok(Math.abs((payload.exp as number) - (now() + 120)) <= 1, 'exp is expiresIn seconds away')
  t.ok(Math.abs((payload.nbf as number) - (now() - 10)) <= 1, 'nbf is notBefore seconds away')
  t.notOk('iat' in payload, 'an undefined claim is dropped')
  t.equal(decode(idp.token()).payload.sub, 'user-1', 'sub defaults to user-1')
})

t.test('token() signs with the key of a chosen kid, or a key of a chosen algorithm, published on first use', async t => {
  const idp = await idpFor(t)
  const app = await buildBare(t, idp, { algorithms: ['RS256', 'ES256', 'EdDSA'], keys: { cooldown: 0 } })
  for (const algorithm of ['ES256', 'EdDSA'] as const) {
    const token = idp.token({ algorithm })
    t.equal(decode(token).header.alg, algorithm)
    t.equal((await app.inject({ url: '/me', headers: bearer(token) })).statusCode, 200, `${algorithm} verifies`)
  }
  t.equal(idp.published.length, 3, 'one key published per new algorithm')
  t.equal(decode(idp.token({ kid: 'key-1' })).header.kid, 'key-1')
  t.throws(() => idp.token({ kid: 'key-9' }), /no published key has kid "key-9"/)
})

t.test('unknownKey names a new, never published kid each time; badSignature keeps the real kid and still fails', async t => {
  const idp = await idpFor(t)
  const app = await buildBare(t, idp, { keys: { cooldown: 0 } })
  const kids = [idp.badToken('unknownKey'), idp.badToken('unknownKey')].map(token => decode(token).header.kid)
  t.not(kids[0], kids[1])
  t.notOk(idp.published.some(key => kids.includes(key.kid)), 'neither kid is published')
  const forged = idp.badToken('badSignature')
  t.equal(decode(forged).header.kid, idp.signingKey.kid)
  t.not(forged.split('.')[2], idp.token().split('.')[2])
  for (const token of [forged, idp.badToken('badSignature')]) {
    t.equal((await app.inject({ url: '/me', headers: bearer(token) })).statusCode, 401, 'a second forgery is refused too')
  }
})

t.test('each bad token is refused by the plugin for the reason its name gives', async t => {
  const idp = await idpFor(t)
  const logs: LogRecord[] = []
  const app = await buildBare(t, idp, { keys: { cooldown: 0 } }, logs)
  const expected = {
    expired: 'expired',
    notYetValid: 'notYetValid',
    wrongAudience: 'audience',
    wrongIssuer: 'issuer',
    unknownKey: 'unknownKey',
    badSignature: 'signature'
  } as const
  for (const [kind, reason] of Object.entries(expected)) {
    logs.length = 0
    const res = await app.inject({ url: '/me', headers: bearer(idp.badToken(kind as keyof typeof expected)) })
    t.equal(res.statusCode, 401, kind)
    t.same(logs.filter(line => line.msg === 'access token refused').map(line => line.reason), [reason], kind)
  }
  t.throws(() => idp.badToken('stale' as never), /unknown bad token "stale"/)
})

t.test('rotateKey() publishes a new signing key; removeKey() withdraws one', async t => {
  const idp = await idpFor(t)
  const app = await buildBare(t, idp, { keys: { cooldown: 0 } })
  const old = idp.token()
  const next = idp.rotateKey()
  t.equal(next.kid, 'key-2')
  const fresh = idp.token()
  t.equal(decode(fresh).header.kid, 'key-2')
  t.equal((await app.inject({ url: '/me', headers: bearer(fresh) })).statusCode, 200, 'the new key is fetched and verifies')
  t.equal((await app.inject({ url: '/me', headers: bearer(old) })).statusCode, 200, 'the old key stays published')
  idp.removeKey('key-1')
  t.same(idp.published.map(key => key.kid), ['key-2'])
  // Any unknown kid makes the store refetch (no cooldown here), which drops key-1.
  await app.inject({ url: '/me', headers: bearer(idp.badToken('unknownKey')) })
  t.equal((await app.inject({ url: '/me', headers: bearer(old) })).statusCode, 401, 'a token of the removed key is refused')
  t.equal((await app.inject({ url: '/me', headers: bearer(fresh) })).statusCode, 200)
})

t.test('outage() makes discovery and JWKS fail until restore()', async t => {
  const idp = await idpFor(t)
  const app = await buildBare(t, idp, { keys: { cooldown: 0 } })
  idp.outage()
  idp.rotateKey()
  const during = await app.inject({ url: '/me', headers: bearer(idp.token()) })
  t.equal(during.statusCode, 503, 'a new key that cannot be fetched: 503')
  t.ok(during.headers['retry-after'])
  idp.restore()
  t.equal(idp.fault, 'none')
  const after = await app.inject({ url: '/me', headers: bearer(idp.token({ sub: 'back' })) })
  t.equal(after.statusCode, 200, 'fetched once the issuer is back')
})

t.test('close() frees the port', async t => {
  const idp = await createTestIssuer()
  const { port } = new URL(idp.issuer)
  await idp.close()
  const server = createServer()
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(Number(port), '127.0.0.1', resolve))
  t.pass(`port ${port} can be taken again`)
  await new Promise(resolve => server.close(resolve))
})

t.test('the test kit refuses to start under NODE_ENV=production, saying what it is for', async t => {
  const saved = process.env.NODE_ENV
  t.teardown(() => {
    if (saved === undefined) delete process.env.NODE_ENV
    else process.env.NODE_ENV = saved
  })
  for (const value of ['production', ' Production ']) {
    process.env.NODE_ENV = value
    await t.rejects(createTestIssuer(), {
      message: 'createTestIssuer() is the test kit of fastify-oauth-resource-server, for tests and benchmarks: anyone can mint the tokens it serves keys for, ' +
        'so it refuses to start under NODE_ENV=production. In production, trust a real issuer.'
    }, JSON.stringify(value))
    await t.rejects(startIntrospectionServer({ issuer: 'http://127.0.0.1:1/', audience: 'https://api.example.com' }), {
      message: /^startIntrospectionServer\(\) is the test kit of fastify-oauth-resource-server, for tests and benchmarks: .* refuses to start under NODE_ENV=production/
    }, JSON.stringify(value))
  }
  process.env.NODE_ENV = 'test'
  const idp = await createTestIssuer()
  t.match(idp.issuer, /^http:\/\/127\.0\.0\.1:\d+\/$/, 'any other NODE_ENV: it starts')
  await idp.close()
})
