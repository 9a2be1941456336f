import Fastify, { type FastifyInstance } from 'fastify'
import t, { type Test } from 'tap'
import auth, { channels, type AuthContextRequirement, type AuthDecisionMessage, type AuthOptions } from '../../src/index.js'
import { startIntrospectionServer, type TestIssuer } from '../../src/testing/index.js'
import { bearer, idpFor, type LogRecord } from '../helper.js'
import { createHolder, dpop, makeProof } from '../dpop/holder.js'

// RFC 9470: a route that needs a kind of sign-in (acr) or a recent one (auth_time within max_age).

const GOLD = 'urn:example:acr:mfa'
const SILVER = 'urn:example:acr:password'
const now = () => Math.floor(Date.now() / 1000)

/**
 * The plugin on a bare Fastify app: /mfa wants acr GOLD, /recent auth_time within 300 s,
 * /both the two; `logs` collects its log at debug level.
 */
async function build (t: Test, idp: TestIssuer, options: Partial<AuthOptions> = {}, logs?: LogRecord[]): Promise<FastifyInstance> {
  const app = Fastify(logs === undefined ? {} : { logger: { level: 'debug', stream: { write: (line: string) => logs.push(JSON.parse(line)) } } })
  t.teardown(() => app.close())
  await app.register(auth, { issuer: idp.issuer, audience: idp.audience, keys: { fetchTimeout: 60 }, ...options })
  const route = (url: string, requirement: AuthContextRequirement) =>
    app.get(url, { onRequest: app.authenticate, preHandler: app.requireAuthContext(requirement) }, async request => ({ sub: request.claims?.sub }))
  route('/mfa', { acrValues: [GOLD] })
  route('/recent', { maxAge: 300 })
  route('/both', { acrValues: [GOLD, 'urn:example:acr:hwk'], maxAge: 300 })
  await app.ready()
  return app
}

const get = (app: FastifyInstance, url: string, token: string) => app.inject({ url, headers: bearer(token) })

t.test('a token whose acr is among acrValues passes; another acr, or none, is 401 insufficient_user_authentication with acr_values', async t => {
  const idp = await idpFor(t)
  const app = await build(t, idp)
  t.equal((await get(app, '/mfa', idp.token({ acr: GOLD }))).statusCode, 200)
  for (const token of [idp.token({ acr: SILVER }), idp.token()]) {
    const res = await get(app, '/mfa', token)
    t.equal(res.statusCode, 401)
    t.equal(res.headers['www-authenticate'], `Bearer realm="api", error="insufficient_user_authentication", error_description="A different authentication level is required", acr_values="${GOLD}"`)
    t.match(res.json(), { code: 'FST_AUTH_INSUFFICIENT_USER_AUTHENTICATION', message: 'A different authentication level is required' })
  }
})

t.test('acr is compared exactly: a prefix, another case or a list that contains it does not pass', async t => {
  const idp = await idpFor(t)
  const app = await build(t, idp)
  for (const acr of ['urn:example:acr', GOLD.toUpperCase(), `${GOLD} other`, `${GOLD}x`]) {
    t.equal((await get(app, '/mfa', idp.token({ acr }))).statusCode, 401, acr)
  }
})

t.test('an auth_time within maxAge passes; a stale or missing one is 401 with max_age', async t => {
  const idp = await idpFor(t)
  const app = await build(t, idp)
  t.equal((await get(app, '/recent', idp.token({ authAge: 10 }))).statusCode, 200)
  for (const token of [idp.token({ authAge: 3600 }), idp.token()]) {
    const res = await get(app, '/recent', token)
    t.equal(res.statusCode, 401)
    t.equal(res.headers['www-authenticate'], 'Bearer realm="api", error="insufficient_user_authentication", error_description="More recent authentication is required", max_age="300"')
  }
})

t.test('an auth_time in the future past the clock tolerance falls short; within it, it counts as now', async t => {
  const idp = await idpFor(t)
  const app = await build(t, idp, { clockTolerance: 60 })
  t.equal((await get(app, '/recent', idp.token({ authAge: -3600 }))).statusCode, 401)
  t.equal((await get(app, '/recent', idp.token({ authAge: -1 }))).statusCode, 200)
})

t.test('with both, each must hold; the challenge asks for the whole requirement', async t => {
  const idp = await idpFor(t)
  const app = await build(t, idp)
  t.equal((await get(app, '/both', idp.token({ acr: 'urn:example:acr:hwk', authAge: 10 }))).statusCode, 200)
  const stale = await get(app, '/both', idp.token({ acr: GOLD, authAge: 3600 }))
  t.equal(stale.statusCode, 401)
  t.equal(stale.headers['www-authenticate'], `Bearer realm="api", error="insufficient_user_authentication", error_description="More recent authentication is required", acr_values="${GOLD} urn:example:acr:hwk", max_age="300"`)
  const weak = await get(app, '/both', idp.token({ acr: SILVER, authAge: 10 }))
  t.match(weak.headers['www-authenticate'], 'error_description="A different authentication level is required"')
  const neither = await get(app, '/both', idp.token({ acr: SILVER }))
  t.match(neither.headers['www-authenticate'], 'error_description="A different authentication level and more recent authentication are required"')
})

t.test('an acr or auth_time of the wrong type is never coerced into passing, and never a 500', async t => {
  const idp = await idpFor(t)
  const app = await build(t, idp)
  const cases: Array<[string, Record<string, unknown>]> = [
    ['/mfa', { acr: [GOLD] }],
    ['/mfa', { acr: { toString: GOLD } }],
    ['/recent', { auth_time: String(now()) }],
    ['/recent', { auth_time: [now()] }],
    ['/recent', { auth_time: null }],
    ['/recent', { auth_time: true }]
  ]
  for (const [url, claims] of cases) {
    const res = await get(app, url, idp.sign(claims))
    t.equal(res.statusCode, 401, JSON.stringify(claims))
  }
})

t.test('a DPoP-bound token that falls short gets the challenge in the DPoP scheme', async t => {
  const idp = await idpFor(t)
  const app = await build(t, idp, { dpop: { mode: 'required', origin: 'http://localhost' } })
  const holder = await createHolder()
  const call = async (claims: Record<string, unknown>) => {
    const token = idp.sign({ cnf: { jkt: holder.jkt }, ...claims })
    return app.inject({ url: '/mfa', headers: dpop(token, await makeProof(holder, { htu: 'http://localhost/mfa', token })) })
  }
  t.equal((await call({ acr: GOLD })).statusCode, 200)
  const res = await call({ acr: SILVER })
  t.equal(res.statusCode, 401)
  t.equal(res.headers['www-authenticate'], `DPoP realm="api", error="insufficient_user_authentication", error_description="A different authentication level is required", acr_values="${GOLD}", algs="ES256 EdDSA RS256 PS256"`)
})

t.test('where both schemes are taken, a DPoP client is challenged in DPoP and a Bearer client in Bearer', async t => {
  const idp = await idpFor(t)
  const app = await build(t, idp, { dpop: { mode: 'allowed', origin: 'http://localhost' } })
  const holder = await createHolder()
  const token = idp.sign({ cnf: { jkt: holder.jkt }, acr: SILVER })
  const res = await app.inject({ url: '/mfa', headers: dpop(token, await makeProof(holder, { htu: 'http://localhost/mfa', token })) })
  t.match(res.headers['www-authenticate'], /^Bearer realm="api", DPoP realm="api", error="insufficient_user_authentication", .*acr_values=".*", algs="[^"]+"$/)
  const plain = await get(app, '/mfa', idp.token({ acr: SILVER }))
  t.match(plain.headers['www-authenticate'], /^Bearer realm="api", error="insufficient_user_authentication", .*, DPoP realm="api", algs="[^"]+"$/)
})

t.test('an introspected (opaque) token is held to the same context', async t => {
  const idp = await idpFor(t)
  const as = await startIntrospectionServer({ issuer: idp.issuer, audience: idp.audience })
  t.teardown(() => as.close())
  const app = await build(t, idp, { introspection: { endpoint: as.endpoint, clientId: as.clientId, clientSecret: as.clientSecret } })
  t.equal((await get(app, '/both', as.issue({ acr: GOLD, auth_time: now() - 10 }))).statusCode, 200)
  const weak = await get(app, '/both', as.issue({ acr: SILVER, auth_time: now() - 10 }))
  t.equal(weak.statusCode, 401)
  t.match(weak.headers['www-authenticate'], 'error="insufficient_user_authentication"')
  t.equal((await get(app, '/both', as.issue({ acr: GOLD, auth_time: now() - 3600 }))).statusCode, 401)
  t.equal((await get(app, '/both', as.issue({ acr: GOLD }))).statusCode, 401, 'no auth_time')
  t.equal((await get(app, '/both', as.issue({ acr: GOLD, auth_time: String(now()) }))).statusCode, 401, 'auth_time of the wrong type')
})

t.test('a refusal is published and logged with its own reason, insufficient_user_authentication', async t => {
  const idp = await idpFor(t)
  const logs: LogRecord[] = []
  const app = await build(t, idp, {}, logs)
  const decisions: AuthDecisionMessage[] = []
  const onMessage = (message: AuthDecisionMessage) => { decisions.push(message) }
  channels.authDecision.subscribe(onMessage)
  t.teardown(() => { channels.authDecision.unsubscribe(onMessage) })
  await get(app, '/mfa', idp.token({ acr: SILVER }))
  t.same(decisions, [{ outcome: 'accepted', reason: 'valid' }, { outcome: 'refused', reason: 'insufficient_user_authentication' }])
  t.ok(logs.some(line => line.reason === 'insufficient_user_authentication' && line.msg === 'access token refused'))
  t.notOk(logs.some(line => JSON.stringify(line).includes(SILVER)), 'never the claims')
})

t.test('the guard without authenticate fails closed', async t => {
  const idp = await idpFor(t)
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(auth, { issuer: idp.issuer, audience: idp.audience })
  app.get('/forgot', { preHandler: app.requireAuthContext({ acrValues: [GOLD] }) }, async () => ({ ok: true }))
  t.equal((await get(app, '/forgot', idp.token({ acr: GOLD }))).statusCode, 401)
})

t.test('requireAuthContext refuses a bad requirement at registration, naming the option', async t => {
  const idp = await idpFor(t)
  const app = await build(t, idp)
  const requireAuthContext = app.requireAuthContext as (requirement: unknown) => unknown
  t.throws(() => requireAuthContext({}), /^requireAuthContext: option acrValues or maxAge is required$/)
  t.throws(() => requireAuthContext(undefined), /option acrValues or maxAge is required/)
  t.throws(() => requireAuthContext({ acrValues: [] }), /option acrValues must be a non-empty array/)
  t.throws(() => requireAuthContext({ acrValues: 'gold' }), /option acrValues must be/)
  t.throws(() => requireAuthContext({ acrValues: ['a b'] }), /option acrValues must be/)
  t.throws(() => requireAuthContext({ acrValues: ['a"b'] }), /option acrValues must be/)
  t.throws(() => requireAuthContext({ maxAge: '300' }), /option maxAge must be a whole number of seconds/)
  t.throws(() => requireAuthContext({ maxAge: 1.5 }), /option maxAge must be a whole number/)
  t.throws(() => requireAuthContext({ maxAge: -1 }), /option maxAge must be a number ≥ 0/)
  t.throws(() => requireAuthContext({ maxAge: 300_000_000 }), /option maxAge is in seconds/)
})
