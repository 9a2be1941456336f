import Fastify from 'fastify'
import t from 'tap'
import auth, { type AuthOptions } from '../src/index.js'
import { bearer, buildBare, idpFor, type LogRecord } from './helper.js'

t.test('under Fastify\'s default error handler the plugin still answers per RFC 6750', async t => {
  const idp = await idpFor(t)
  const app = await buildBare(t, idp)

  const missing = await app.inject('/me')
  t.equal(missing.statusCode, 401)
  t.equal(missing.headers['www-authenticate'], 'Bearer realm="api"')
  t.match(missing.json(), { statusCode: 401, code: 'FST_AUTH_NO_TOKEN' })

  const malformed = await app.inject({ url: '/me', headers: { authorization: 'Bearer a b' } })
  t.equal(malformed.statusCode, 400)
  t.match(malformed.headers['www-authenticate'], 'error="invalid_request"')

  const invalid = await app.inject({ url: '/me', headers: bearer(idp.sign({ aud: 'other' })) })
  t.equal(invalid.statusCode, 401)
  t.match(invalid.headers['www-authenticate'], 'error="invalid_token"')
  t.match(invalid.json(), { code: 'FST_AUTH_INVALID_TOKEN', message: 'The access token is not meant for this API' })

  const forbidden = await app.inject({ url: '/admin', headers: bearer(idp.sign()) })
  t.equal(forbidden.statusCode, 403)
  t.match(forbidden.headers['www-authenticate'], 'error="insufficient_scope", error_description="The access token does not grant the required permission", scope="read:admin-messages"')

  const ok = await app.inject({ url: '/me', headers: bearer(idp.sign({ sub: 'alice' })) })
  t.same(ok.json(), { sub: 'alice' })
})

t.test('the realm option names the realm of every challenge', async t => {
  const idp = await idpFor(t)
  const app = await buildBare(t, idp, { realm: 'hello-world' })
  const res = await app.inject('/me')
  t.equal(res.headers['www-authenticate'], 'Bearer realm="hello-world"')
})

t.test('request.claims is null on routes without authenticate', async t => {
  const idp = await idpFor(t)
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(auth, { issuer: idp.issuer, audience: idp.audience })
  app.get('/open', async request => ({ claims: request.claims }))
  const res = await app.inject({ url: '/open', headers: bearer(idp.sign()) })
  t.same(res.json(), { claims: null })
})

t.test('bad options stop registration with a message naming the option', async t => {
  const idp = await idpFor(t)
  const cases: Array<[Partial<AuthOptions>, RegExp]> = [
    [{ issuer: undefined }, /option issuer is required/],
    [{ issuer: 'not a url' }, /option issuer must be an absolute URL/],
    [{ issuer: 'http://idp.example.com/' }, /option issuer must use https:/],
    [{ issuer: 'ftp://127.0.0.1/' }, /option issuer must be an http\(s\) URL/],
    [{ audience: undefined }, /option audience is required/],
    [{ audience: '' }, /option audience is required/],
    [{ audience: [] }, /option audience is required/],
    [{ jwksUri: 'http://keys.example.com/jwks' }, /option jwksUri must use https:/],
    [{ realm: 'a"b' }, /option realm/],
    [{ clockTolerance: -1 }, /option clockTolerance/],
    [{ keys: { cooldown: Number.NaN } }, /option keys.cooldown/],
    [{ keys: { maxAge: 600_000 } }, /option keys.maxAge is in seconds: at most 86400, got 600000 \(in ms\? then write 600\)/],
    [{ keys: { fetchTimeout: 5000 } }, /option keys.fetchTimeout is in seconds.*write 5\)/],
    [{ clockTolerance: 5000 } as never, /option clockTolerance is in seconds/],
    [{ keys: { maxResponseBytes: 10 } }, /option keys.maxResponseBytes/],
    [{ tokenCacheSize: -5 }, /option tokenCacheSize/]
  ]
  for (const [options, message] of cases) {
    const app = Fastify()
    t.teardown(() => app.close())
    await t.rejects(async () => {
      await app.register(auth, { issuer: idp.issuer, audience: idp.audience, ...options } as AuthOptions)
      await app.ready()
    }, message, JSON.stringify(options))
  }
})

t.test('an issuer whose discovery names another issuer stops start-up', async t => {
  const idp = await idpFor(t)
  idp.discoveryIssuer = 'https://evil.example/'
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(auth, { issuer: idp.issuer, audience: idp.audience })
  await t.rejects(async () => { await app.ready() }, /names issuer "https:\/\/evil.example\/", not the configured/)
})

t.test('a configured issuer with or without its trailing slash matches discovery; iss must match discovery exactly', async t => {
  const idp = await idpFor(t)
  const app = await buildBare(t, idp, { issuer: idp.issuer.slice(0, -1) })
  t.equal((await app.inject({ url: '/me', headers: bearer(idp.sign()) })).statusCode, 200)
  t.equal((await app.inject({ url: '/me', headers: bearer(idp.sign({ iss: idp.issuer.slice(0, -1) })) })).statusCode, 401)
})

t.test('with jwksUri, discovery is skipped and iss must equal the configured issuer', async t => {
  const idp = await idpFor(t)
  const app = await buildBare(t, idp, { jwksUri: idp.jwksUri })
  t.equal(idp.requests.discovery, 0, 'no discovery request')
  t.equal((await app.inject({ url: '/me', headers: bearer(idp.sign()) })).statusCode, 200)
})

t.test('why a token was refused is logged at debug as a reason code, never the token', async t => {
  const idp = await idpFor(t)
  const logs: LogRecord[] = []
  const app = await buildBare(t, idp, {}, logs)
  const cases: Array<[string, string, number]> = [
    [idp.sign({ aud: 'https://other.example' }), 'audience', 401],
    [idp.sign({ exp: Math.floor(Date.now() / 1000) - 60 }), 'expired', 401],
    [idp.sign({ iss: 'https://evil.example/' }), 'issuer', 401],
    ['not-a-jwt', 'malformed', 401]
  ]
  for (const [token, reason, status] of cases) {
    t.equal((await app.inject({ url: '/me', headers: bearer(token) })).statusCode, status, reason)
    const refused = logs.filter(l => l.msg === 'access token refused').at(-1)
    t.equal(refused?.reason, reason, `the ${reason} rejection is logged`)
    t.equal(refused?.level, 20, 'at debug')
  }
  t.equal((await app.inject({ url: '/admin', headers: bearer(idp.sign()) })).statusCode, 403)
  t.equal(logs.filter(l => l.msg === 'access token refused').at(-1)?.reason, 'insufficient_scope')
  const signatures = cases.map(([token]) => token.split('.')[2]).filter(s => s !== undefined && s.length > 0) as string[]
  t.notOk(logs.some(l => signatures.some(s => JSON.stringify(l).includes(s))), 'no token in the log')
})
