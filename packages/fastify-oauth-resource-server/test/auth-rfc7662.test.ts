import { randomBytes } from 'node:crypto'
import Fastify, { type FastifyInstance } from 'fastify'
import type { Test } from 'tap'
import t from 'tap'
import auth, { type AuthOptions, type IntrospectionOptions } from '../src/index.js'
import { Rejections } from '../src/claims/rejections.js'
import { startIntrospectionServer, type TestIssuer, type IntrospectionServer } from '../src/testing/index.js'
import { bearer, idpFor, sleep, until, type LogRecord } from './helper.js'

// RFC 7662: opaque access tokens checked by introspection at the issuer, as the plugin does it.

interface Setup { app: FastifyInstance, idp: TestIssuer, as: IntrospectionServer }

/** The plugin with introspection at a real loopback endpoint; /me answers the claims, /admin wants read:admin-messages; `logs` collects its log. */
async function buildOpaque (t: Test, introspection: Partial<IntrospectionOptions> = {}, options: Partial<AuthOptions> = {}, logs?: LogRecord[]): Promise<Setup> {
  const idp = await idpFor(t)
  const as = await startIntrospectionServer({ issuer: idp.issuer, audience: idp.audience })
  t.teardown(() => as.close())
  const app = Fastify(logs === undefined ? {} : { logger: { level: 'warn', stream: { write: (line: string) => logs.push(JSON.parse(line)) } } })
  t.teardown(() => app.close())
  await app.register(auth, {
    issuer: idp.issuer,
    audience: idp.audience,
    introspection: { endpoint: as.endpoint, clientId: as.clientId, clientSecret: as.clientSecret, ...introspection },
    ...options
  })
  app.get('/me', { onRequest: app.authenticate }, async request => ({ iss: request.claims?.iss, sub: request.claims?.sub, scope: request.claims?.scope }))
  app.get('/admin', { onRequest: app.authenticate, preHandler: app.requireScopes('read:admin-messages') }, async () => ({ ok: true }))
  app.get('/hello', { onRequest: app.authenticateOptional }, async request => ({ sub: request.claims?.sub ?? null }))
  await app.ready()
  return { app, idp, as }
}

const call = (app: FastifyInstance, token: string, url = '/me') => app.inject({ url, headers: bearer(token) })
const opaque = () => randomBytes(24).toString('base64url')

t.test('an active opaque token is accepted through introspection; its claims are the JWT-like ones, iss the issuer', async t => {
  const { app, idp, as } = await buildOpaque(t)
  const token = as.issue({ sub: 'alice', scope: 'read:admin-messages', iss: undefined })
  t.same((await call(app, token)).json(), { iss: idp.issuer, sub: 'alice', scope: 'read:admin-messages' })
  t.equal((await call(app, token, '/admin')).statusCode, 200, 'scope guards work the same')
  t.equal((await call(app, as.issue(), '/admin')).statusCode, 403)
  t.equal((await call(app, idp.sign({ sub: 'jwt' }))).statusCode, 200, 'JWTs still verify locally')
  t.equal(as.calls, 2, 'a JWT is never sent to introspection (and the first token came from the cache)')
})

t.test('optional authentication takes opaque tokens alike: an inactive one is 401, never anonymous', async t => {
  const { app, as } = await buildOpaque(t)
  t.same((await app.inject('/hello')).json(), { sub: null })
  t.same((await call(app, as.issue({ sub: 'alice' }), '/hello')).json(), { sub: 'alice' })
  t.equal((await call(app, opaque(), '/hello')).statusCode, 401)
})

t.test('client_secret_post works as well as client_secret_basic; wrong credentials are 503, not 401', async t => {
  const post = await buildOpaque(t, { clientAuthMethod: 'client_secret_post' })
  t.equal((await call(post.app, post.as.issue())).statusCode, 200)
  const wrong = await buildOpaque(t, { clientSecret: 'not-the-secret' })
  const res = await call(wrong.app, wrong.as.issue())
  t.equal(res.statusCode, 503, 'our own misconfiguration is not the client\'s fault')
  t.match(res.json(), { code: 'FST_AUTH_INTROSPECTION_UNAVAILABLE' })
})

t.test('refused API credentials are logged as such, in our words, for Basic (a challenge) and for the form (an error body)', async t => {
  for (const clientAuthMethod of ['client_secret_basic', 'client_secret_post'] as const) {
    const logs: LogRecord[] = []
    const { app, as } = await buildOpaque(t, { clientAuthMethod, clientSecret: 'not-the-secret' }, {}, logs)
    t.equal((await call(app, as.issue())).statusCode, 503, clientAuthMethod)
    const failures = logs.filter(line => line.msg.startsWith('token introspection failed'))
    t.equal(failures.length, 1, `${clientAuthMethod}: one line`)
    t.equal(failures[0]?.msg, "token introspection failed: the authorization server refused the API's own credentials (check introspection.clientId, clientSecret and clientAuthMethod)")
    t.equal(failures[0]?.status, 401)
    t.notMatch(JSON.stringify(logs), /WWW-Authenticate|challenge|not-the-secret/, `${clientAuthMethod}: neither the library's words nor the secret`)
  }
})

t.test('a cached result is reused: one call for repeated and for concurrent identical tokens', async t => {
  const { app, as } = await buildOpaque(t)
  const token = as.issue()
  for (let i = 0; i < 5; i++) t.equal((await call(app, token)).statusCode, 200)
  t.equal(as.calls, 1)

  as.slowMs = 100
  as.fault = 'slow'
  const fresh = as.issue()
  const results = await Promise.all(Array.from({ length: 20 }, () => call(app, fresh)))
  t.same([...new Set(results.map(r => r.statusCode))], [200])
  t.equal(as.calls, 2, 'twenty concurrent requests, one introspection call')
  t.same(app.authStatus().issuers[0]!.introspection, { cachedResults: 2, inFlight: 0, queued: 0 })
})

t.test('an inactive token is 401 and its result is cached briefly', async t => {
  const { app, as } = await buildOpaque(t, { inactiveCacheAge: 0.2 })
  const token = opaque()
  for (let i = 0; i < 3; i++) {
    const res = await call(app, token)
    t.equal(res.statusCode, 401)
    t.match(res.headers['www-authenticate'], Rejections.inactive)
  }
  t.equal(as.calls, 1)
  await sleep(250)
  await call(app, token)
  t.equal(as.calls, 2, 'asked again once the inactive result expired')
})

t.test('a revoked token is accepted from the cache for at most maxCacheAge', async t => {
  const { app, as } = await buildOpaque(t, { maxCacheAge: 0.3 })
  const token = as.issue()
  t.equal((await call(app, token)).statusCode, 200)
  as.revoke(token)
  await sleep(350)
  const res = await call(app, token)
  t.equal(res.statusCode, 401, 'refused once maxCacheAge has passed')
  t.match(res.headers['www-authenticate'], Rejections.inactive)
})

t.test("an active result is cached no longer than the token's exp", async t => {
  const { app, as } = await buildOpaque(t, { maxCacheAge: 600 }, { clockTolerance: 0 })
  // Valid for 1 to 2 s from now (never a few ms, as floor + 1 can be): time enough on a loaded machine.
  const exp = Math.ceil(Date.now() / 1000) + 1
  const token = as.issue({ exp })
  t.equal((await call(app, token)).statusCode, 200)
  await sleep(exp * 1000 - Date.now() + 100)
  const res = await call(app, token)
  t.equal(res.statusCode, 401)
  t.equal(as.calls, 2, 'asked again, not served from the cache')
})

t.test('an authorization server that says active is still held to aud, iss, exp, nbf, scope and token_type', async t => {
  const { app, idp, as } = await buildOpaque(t)
  const now = Math.floor(Date.now() / 1000)
  const cases: Array<[Record<string, unknown>, string]> = [
    [{ aud: 'https://other-api.example.com' }, Rejections.audience],
    [{ aud: ['https://other-api.example.com'] }, Rejections.audience],
    [{ aud: undefined }, Rejections.audience],
    [{ iss: 'https://other-issuer.example.com/' }, Rejections.issuer],
    [{ iss: idp.issuer.slice(0, -1) }, Rejections.issuer],
    [{ iss: [idp.issuer] }, Rejections.issuer],
    [{ exp: undefined }, Rejections.noExpiry],
    [{ exp: now - 60 }, Rejections.expired],
    [{ exp: String(now + 60) }, Rejections.claimType],
    [{ nbf: now + 600 }, Rejections.notYetValid],
    [{ iat: now + 600 }, Rejections.issuedInFuture],
    [{ scope: ['read:admin-messages'] }, Rejections.claimType],
    [{ token_type: 'DPoP' }, Rejections.type],
    [{ cnf: { jkt: 'abc' } }, Rejections.type],
    [{ active: 'true' }, 'introspection']
  ]
  for (const [lie, expected] of cases) {
    as.override = lie
    const res = await call(app, as.issue())
    if (expected === 'introspection') {
      t.equal(res.statusCode, 503, `${JSON.stringify(lie)}: not an introspection response`)
    } else {
      t.equal(res.statusCode, 401, JSON.stringify(lie))
      t.match(res.headers['www-authenticate'], expected)
    }
  }
})

t.test('an active answer whose claims the code reads are of the wrong type is refused as an invalid token', async t => {
  const { app, as } = await buildOpaque(t)
  const wrong: Array<[string, unknown]> = [
    ['sub', { a: '<b>' }], ['sub', 42], ['sub', null], ['sub', true], ['sub', ['alice']],
    ['client_id', 7], ['azp', ['app']], ['jti', 1], ['acr', 2], ['auth_time', '1700000000'],
    ['scope', null], ['permissions', 'read:admin-messages'], ['permissions', [1]]
  ]
  for (const [claim, value] of wrong) {
    as.override = { [claim]: value }
    const res = await call(app, as.issue())
    t.equal(res.statusCode, 401, `${claim}: ${JSON.stringify(value)}`)
    t.match(res.headers['www-authenticate'], Rejections.claimType)
  }
  as.override = undefined
  const res = await call(app, as.issue({ sub: 'alice', client_id: 'app', azp: 'app', jti: 'j', acr: '1', auth_time: 1_700_000_000, permissions: ['a'] }))
  t.equal(res.statusCode, 200, 'every claim of its type')
})

t.test('an endpoint that is down or errs is 503 with Retry-After, not cached: the token works once it is back', async t => {
  const { app, as } = await buildOpaque(t, { timeout: 2 })
  const token = as.issue()
  for (const fault of ['down', 'error'] as const) {
    as.fault = fault
    const res = await call(app, token)
    t.equal(res.statusCode, 503, fault)
    t.equal(res.headers['retry-after'], '2', 'the timeout, in seconds')
    t.match(res.json(), { code: 'FST_AUTH_INTROSPECTION_UNAVAILABLE' })
  }
  as.fault = 'none'
  t.equal((await call(app, token)).statusCode, 200)
})

t.test('a slow endpoint is 503 once the timeout passes', async t => {
  const { app, as } = await buildOpaque(t, { timeout: 0.2 })
  as.fault = 'slow'
  const res = await call(app, as.issue())
  t.equal(res.statusCode, 503)
  t.ok(Number(res.headers['retry-after']) >= 1)
})

t.test('a flood of random opaque tokens makes a bounded number of calls; the rest are 503 at once', async t => {
  const { app, as } = await buildOpaque(t, { concurrency: 4, queueLimit: 8, timeout: 3 })
  as.fault = 'slow'
  let settled = 0
  const flood = Array.from({ length: 300 }, () => call(app, opaque()).then(res => { settled++; return res }))
  // While the endpoint hangs: 4 calls in flight, 8 waiting, and every other token already answered.
  t.ok(await until(() => settled >= 300 - 4 - 8), `answered at once: ${settled}`)
  t.same(app.authStatus().issuers[0]!.introspection, { cachedResults: 0, inFlight: 4, queued: 8 })
  const statuses = (await Promise.all(flood)).map(r => r.statusCode)
  t.same([...new Set(statuses)], [503], 'never 401 or 500 for an outage')
  t.ok(as.calls <= 4 + 8, `introspection calls: ${as.calls}, at most concurrency + queueLimit`)
  t.same(app.authStatus().issuers[0]!.introspection, { cachedResults: 0, inFlight: 0, queued: 0 })
})

t.test('without introspection, an opaque token is malformed and nothing is called', async t => {
  const idp = await idpFor(t)
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(auth, { issuer: idp.issuer, audience: idp.audience })
  app.get('/me', { onRequest: app.authenticate }, async () => ({}))
  const res = await call(app, opaque())
  t.equal(res.statusCode, 401)
  t.match(res.headers['www-authenticate'], Rejections.malformed)
})

t.test('bad introspection options stop registration with a message naming the option', async t => {
  const idp = await idpFor(t)
  const base = { issuer: idp.issuer, audience: idp.audience }
  const valid = { clientId: 'rs', clientSecret: 's' }
  const cases: Array<[AuthOptions, RegExp]> = [
    [{ ...base, introspection: { ...valid, clientSecret: '' } }, /option introspection\.clientSecret is required/],
    [{ ...base, introspection: { ...valid, endpoint: 'http://as.example.com/introspect' } }, /option introspection\.endpoint must use https:/],
    [{ ...base, jwksUri: `${idp.issuer}.well-known/jwks.json`, introspection: valid }, /option introspection\.endpoint is required with jwksUri/],
    [{ ...base, introspection: { ...valid, timeout: 5000 } }, /option introspection\.timeout is in seconds: at most 60, got 5000 \(in ms\? then write 5\)/],
    [{ ...base, introspection: { ...valid, clientAuthMethod: 'private_key_jwt' as 'client_secret_post' } }, /option introspection\.clientAuthMethod/],
    [{ ...base, introspection: { ...valid, maxCallsPerSecond: 0 } }, /option introspection\.maxCallsPerSecond must be a number ≥ 0\.01/],
    [{ ...base, introspection: { ...valid, maxCallsPerSecond: '5' as unknown as number } }, /option introspection\.maxCallsPerSecond must be a number/],
    [{
      issuers: [
        { issuer: 'https://a.example.com/', audience: 'x', introspection: valid },
        { issuer: 'https://b.example.com/', audience: 'y', introspection: valid }
      ]
    }, /option issuers\[1\]\.introspection is a second one/]
  ]
  for (const [options, message] of cases) {
    const app = Fastify()
    await t.rejects(async () => { await app.register(auth, options).ready() }, message)
    await app.close()
  }
})

t.test('a flood of random opaque tokens is bounded in rate: past maxCallsPerSecond a new token gets 503 with Retry-After, cached results still answer', async t => {
  // 0.01 a second: one call, then the next only after 100 s, far longer than this test.
  const { app, idp, as } = await buildOpaque(t, { maxCallsPerSecond: 0.01 })
  const known = as.issue({ sub: 'alice' })
  t.equal((await call(app, known)).statusCode, 200, 'the first new token is introspected')
  const statuses = new Set<number>()
  const retryAfter = new Set<string | string[] | undefined>()
  for (let i = 0; i < 200; i++) {
    const res = await call(app, opaque())
    statuses.add(res.statusCode)
    retryAfter.add(res.headers['retry-after'])
    t.equal(res.json().code, 'FST_AUTH_INTROSPECTION_UNAVAILABLE')
  }
  t.same([...statuses], [503], 'every later new token: 503, never 401 or 500')
  t.ok([...retryAfter].every(value => Number(value) >= 90 && Number(value) <= 100), `Retry-After says when a call is free again: ${[...retryAfter]}`)
  t.equal(as.calls, 1, 'two hundred new tokens, no further call to the authorization server')
  t.same((await call(app, known)).json(), { iss: idp.issuer, sub: 'alice', scope: '' }, 'the cached result still answers')
  t.equal(as.calls, 1)
})

t.test('by default a flood makes at most 50 introspection calls a second', async t => {
  const { app, as } = await buildOpaque(t)
  const started = performance.now()
  const statuses = (await Promise.all(Array.from({ length: 400 }, () => call(app, opaque())))).map(res => res.statusCode)
  const seconds = (performance.now() - started) / 1000
  // The bound is the bucket's own: a burst of 50, then 50 a second, however slow the machine.
  t.ok(as.calls <= 50 + Math.ceil(50 * seconds), `${as.calls} calls for 400 new tokens in ${seconds.toFixed(2)} s`)
  t.same([...new Set(statuses)].sort(), as.calls === 400 ? [401] : [401, 503])
})
