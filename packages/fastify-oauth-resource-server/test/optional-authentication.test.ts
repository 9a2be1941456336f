import Fastify from 'fastify'
import t, { type Test } from 'tap'
import auth, { type AccessTokenClaims } from '../src/index.js'
import type { TestIssuer } from '../src/testing/index.js'
import { bearer, idpFor } from './helper.js'

interface ShopClaims extends AccessTokenClaims {
  sub: string
  'https://shop.example.com/tier': 'gold' | 'silver'
}

/** `/greeting` takes a token or none; `/orders` too, but needs read:orders; `/tier` needs a token. */
async function build (t: Test, idp: TestIssuer) {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(auth, { issuer: idp.issuer, audience: idp.audience })
  app.get('/greeting', { onRequest: app.authenticateOptional }, async request =>
    ({ text: request.claims === null ? 'Hello, guest' : `Hello, ${request.claims.sub}` }))
  app.get('/orders', { onRequest: app.authenticateOptional, preHandler: app.requireScopes('read:orders') }, async () => ({ orders: [] }))
  app.get('/tier', { onRequest: app.authenticate }, async request => {
    const claims = request.verifiedClaims<ShopClaims>()
    const tier: 'gold' | 'silver' = claims['https://shop.example.com/tier']
    const sub: string = claims.sub
    return { sub, tier }
  })
  app.get('/forgot-authenticate', async request => ({ sub: request.verifiedClaims().sub }))
  app.get('/anonymous-accessor', { onRequest: app.authenticateOptional }, async request => ({ sub: request.verifiedClaims().sub }))
  await app.ready()
  return app
}

t.test('optional authentication: no Authorization header goes through with no claims', async t => {
  const app = await build(t, await idpFor(t))
  const res = await app.inject({ url: '/greeting' })
  t.equal(res.statusCode, 200)
  t.same(res.json(), { text: 'Hello, guest' })
})

t.test('optional authentication: a valid token is verified and its claims reach the handler', async t => {
  const idp = await idpFor(t)
  const app = await build(t, idp)
  const res = await app.inject({ url: '/greeting', headers: bearer(idp.token({ sub: 'alice' })) })
  t.equal(res.statusCode, 200)
  t.same(res.json(), { text: 'Hello, alice' })
})

t.test('optional authentication: a present but bad token is a 401, never an anonymous request', async t => {
  const idp = await idpFor(t)
  const app = await build(t, idp)
  for (const kind of ['expired', 'notYetValid', 'wrongAudience', 'wrongIssuer', 'unknownKey', 'badSignature'] as const) {
    const res = await app.inject({ url: '/greeting', headers: bearer(idp.badToken(kind)) })
    t.equal(res.statusCode, 401, kind)
    t.match(res.headers['www-authenticate'], /error="invalid_token"/, kind)
    t.notMatch(res.body, /Hello/, `${kind}: the handler did not run`)
  }
})

t.test('optional authentication: a malformed, empty or other-scheme Authorization header is refused', async t => {
  const app = await build(t, await idpFor(t))
  const cases: Array<[string, number]> = [['Bearer', 400], ['Bearer a b', 400], ['', 401], ['Basic dXNlcjpwYXNz', 401]]
  for (const [authorization, status] of cases) {
    const res = await app.inject({ url: '/greeting', headers: { authorization } })
    t.equal(res.statusCode, status, JSON.stringify(authorization))
    t.notMatch(res.body, /Hello/)
  }
})

t.test('a scope guard on an optional route answers 401 to an anonymous request, 403 without the scope', async t => {
  const idp = await idpFor(t)
  const app = await build(t, idp)
  const anonymous = await app.inject({ url: '/orders' })
  t.equal(anonymous.statusCode, 401)
  t.equal(anonymous.headers['www-authenticate'], 'Bearer realm="api"')
  const without = await app.inject({ url: '/orders', headers: bearer(idp.token({ scope: 'read:profile' })) })
  t.equal(without.statusCode, 403)
  const granted = await app.inject({ url: '/orders', headers: bearer(idp.token({ scope: ['read:profile', 'read:orders'] })) })
  t.equal(granted.statusCode, 200)
})

t.test('verifiedClaims() gives a handler behind authenticate its typed claims', async t => {
  const idp = await idpFor(t)
  const app = await build(t, idp)
  const res = await app.inject({ url: '/tier', headers: bearer(idp.token({ sub: 'alice', claims: { 'https://shop.example.com/tier': 'gold' } })) })
  t.equal(res.statusCode, 200)
  t.same(res.json(), { sub: 'alice', tier: 'gold' })
})

t.test('verifiedClaims() without a verified token is a 401, not a 500: on an anonymous request or a route without authenticate', async t => {
  const app = await build(t, await idpFor(t))
  for (const url of ['/anonymous-accessor', '/forgot-authenticate']) {
    const res = await app.inject({ url })
    t.equal(res.statusCode, 401, url)
    t.equal(res.headers['www-authenticate'], 'Bearer realm="api"', url)
    t.match(res.json(), { statusCode: 401, code: 'FST_AUTH_NO_TOKEN', message: 'Requires authentication' }, url)
  }
})
