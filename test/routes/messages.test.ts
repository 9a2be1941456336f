import t from 'tap'
import { startIntrospectionServer } from 'fastify-oauth-resource-server/testing'
import { Messages } from '../../routes/messages.js'
import { loadConfig } from '../../config/index.js'
import { bearer, build, DPOP_CHALLENGE, envFor, idpFor, RESOURCE_METADATA, TEST_SERVER } from '../helper.js'

t.test('GET /api/messages/public → 200 without a token', async t => {
  const app = await build(t, envFor(await idpFor(t)))
  const res = await app.inject('/api/messages/public')
  t.equal(res.statusCode, 200)
  t.same(res.json(), { message: Messages.public })
})

t.test('GET /api/messages/protected → 200 with a valid token', async t => {
  const idp = await idpFor(t)
  const app = await build(t, envFor(idp))
  const res = await app.inject({ url: '/api/messages/protected', headers: bearer(idp.sign()) })
  t.equal(res.statusCode, 200)
  t.same(res.json(), { message: Messages.protected })
})

t.test('GET /api/messages/protected → 401 without a token', async t => {
  const app = await build(t, envFor(await idpFor(t)))
  const res = await app.inject('/api/messages/protected')
  t.equal(res.statusCode, 401)
  t.equal(res.headers['www-authenticate'], `Bearer realm="api", ${RESOURCE_METADATA}, ${DPOP_CHALLENGE}`)
  t.same(res.json(), { message: 'Requires authentication' })
})

t.test('GET /api/messages/greeting → 200 for a guest without a token, naming the subject of a valid one', async t => {
  const idp = await idpFor(t)
  const app = await build(t, envFor(idp))
  const guest = await app.inject('/api/messages/greeting')
  t.equal(guest.statusCode, 200)
  t.same(guest.json(), { message: Messages.guest })
  const named = await app.inject({ url: '/api/messages/greeting', headers: bearer(idp.token({ sub: 'alice' })) })
  t.equal(named.statusCode, 200)
  t.same(named.json(), { message: Messages.greeting('alice') })
})

t.test('GET /api/messages/greeting → a client credentials token without sub is greeted by its client_id, JWT or introspected', async t => {
  const idp = await idpFor(t)
  const as = await startIntrospectionServer({ issuer: idp.issuer, audience: idp.audience })
  t.teardown(() => as.close())
  const app = await build(t, envFor(idp, { INTROSPECTION_CLIENT_ID: as.clientId, INTROSPECTION_CLIENT_SECRET: as.clientSecret, INTROSPECTION_ENDPOINT: as.endpoint }))
  const greet = async (token: string) => (await app.inject({ url: '/api/messages/greeting', headers: bearer(token) })).json()
  t.same(await greet(idp.sign({ sub: undefined, client_id: 'machine-1' })), { message: Messages.greeting('machine-1') }, 'a JWT')
  t.same(await greet(as.issue({ sub: undefined, client_id: 'machine-2' })), { message: Messages.greeting('machine-2') }, 'an opaque token')
  t.same(await greet(idp.sign({ sub: 'alice', client_id: 'machine-1' })), { message: Messages.greeting('alice') }, 'a subject is named first')
})

t.test('GET /api/messages/greeting → 401 for a sub that is not a string, never "Hello, [object Object]"', async t => {
  const idp = await idpFor(t)
  const app = await build(t, envFor(idp))
  for (const sub of [{ a: '<b>' }, 42, null, true, ['alice']]) {
    const res = await app.inject({ url: '/api/messages/greeting', headers: bearer(idp.sign({ sub })) })
    t.equal(res.statusCode, 401, JSON.stringify(sub))
    t.match(res.headers['www-authenticate'], /error="invalid_token", error_description="The access token has a claim of the wrong type"/)
    t.notMatch(res.body, /Hello/)
  }
})

t.test('GET /api/messages/greeting → 401 for a token that is sent but expired or forged, never a guest greeting', async t => {
  const idp = await idpFor(t)
  const app = await build(t, envFor(idp))
  for (const kind of ['expired', 'badSignature', 'wrongAudience'] as const) {
    const res = await app.inject({ url: '/api/messages/greeting', headers: bearer(idp.badToken(kind)) })
    t.equal(res.statusCode, 401, kind)
    t.match(res.headers['www-authenticate'], /error="invalid_token"/)
    t.notMatch(res.body, /guest/)
  }
})

t.test('GET /api/messages/admin → 200 with read:admin-messages', async t => {
  const idp = await idpFor(t)
  const app = await build(t, envFor(idp))
  const res = await app.inject({ url: '/api/messages/admin', headers: bearer(idp.sign({ permissions: ['read:admin-messages'] })) })
  t.equal(res.statusCode, 200)
  t.same(res.json(), { message: Messages.admin })
})

t.test('GET /api/messages/admin → 403 without read:admin-messages', async t => {
  const idp = await idpFor(t)
  const app = await build(t, envFor(idp))
  const res = await app.inject({ url: '/api/messages/admin', headers: bearer(idp.sign({ permissions: ['read:messages'] })) })
  t.equal(res.statusCode, 403)
  t.equal(res.headers['www-authenticate'],
    `Bearer realm="api", error="insufficient_scope", error_description="The access token does not grant the required permission", scope="read:admin-messages", ${RESOURCE_METADATA}`)
  t.same(res.json(), {
    message: 'Permission denied',
    error: 'insufficient_scope',
    error_description: 'The access token does not grant the required permission'
  })
})

t.test('GET /api/messages/admin → 401 without a token (authentication comes first)', async t => {
  const app = await build(t, envFor(await idpFor(t)))
  const res = await app.inject('/api/messages/admin')
  t.equal(res.statusCode, 401)
  t.equal(res.headers['www-authenticate'], `Bearer realm="api", ${RESOURCE_METADATA}, ${DPOP_CHALLENGE}`)
})

t.test('an unknown route → 404 {"message":"Not Found"}', async t => {
  const app = await build(t, envFor(await idpFor(t)))
  const res = await app.inject('/api/messages/nope')
  t.equal(res.statusCode, 404)
  t.same(res.json(), { message: 'Not Found' })
})

t.test('a failing handler → 500 {"message":"Internal Server Error"} with no details', async t => {
  const idp = await idpFor(t)
  const { default: Fastify } = await import('fastify')
  const { default: app } = await import('../../app.js')
  const server = Fastify(TEST_SERVER)
  t.teardown(() => server.close())
  await server.register(app, { config: loadConfig(envFor(idp)) })
  server.get('/boom', async () => { throw new Error('secret database password in message') })
  const res = await server.inject('/boom')
  t.equal(res.statusCode, 500)
  t.same(res.json(), { message: 'Internal Server Error' })
  t.notMatch(res.body, /secret|stack/)
})

t.test('every response carries the Auth0 sample security headers', async t => {
  const app = await build(t, envFor(await idpFor(t)))
  for (const url of ['/api/messages/public', '/api/messages/protected', '/nope']) {
    const res = await app.inject(url)
    t.equal(res.headers['content-security-policy'], "default-src 'self';frame-ancestors 'none'", url)
    t.equal(res.headers['x-frame-options'], 'DENY', url)
    t.equal(res.headers['referrer-policy'], 'no-referrer', url)
    t.equal(res.headers['cache-control'], 'no-store', url)
    t.equal(res.headers['strict-transport-security'], 'max-age=31536000; includeSubDomains', url)
    t.equal(res.headers['x-content-type-options'], 'nosniff', url)
  }
})

t.test('CORS preflight from CLIENT_ORIGIN_URL for Authorization and Content-Type succeeds', async t => {
  const app = await build(t, envFor(await idpFor(t), { CLIENT_ORIGIN_URL: 'http://localhost:4040' }))
  const res = await app.inject({
    method: 'OPTIONS',
    url: '/api/messages/admin',
    headers: {
      origin: 'http://localhost:4040',
      'access-control-request-method': 'GET',
      'access-control-request-headers': 'authorization,content-type'
    }
  })
  t.equal(res.statusCode, 204)
  t.equal(res.headers['access-control-allow-origin'], 'http://localhost:4040')
  t.match(String(res.headers['access-control-allow-headers']).toLowerCase(), /authorization/)
  t.match(String(res.headers['access-control-allow-headers']).toLowerCase(), /content-type/)
})

t.test('CORS allows no other origin', async t => {
  const app = await build(t, envFor(await idpFor(t), { CLIENT_ORIGIN_URL: 'http://localhost:4040' }))
  const res = await app.inject({ url: '/api/messages/public', headers: { origin: 'https://evil.example' } })
  t.not(res.headers['access-control-allow-origin'], 'https://evil.example')
  t.not(res.headers['access-control-allow-origin'], '*')
})

t.test('GET /api/messages/admin with ADMIN_ACR_VALUES and ADMIN_MAX_AGE → 401 insufficient_user_authentication until the sign-in meets both', async t => {
  const idp = await idpFor(t)
  const app = await build(t, envFor(idp, { ADMIN_ACR_VALUES: 'urn:example:mfa', ADMIN_MAX_AGE: '300' }))
  const get = (claims: Record<string, unknown>) => app.inject({ url: '/api/messages/admin', headers: bearer(idp.sign({ permissions: ['read:admin-messages'], ...claims })) })
  const now = Math.floor(Date.now() / 1000)
  const ok = await get({ acr: 'urn:example:mfa', auth_time: now - 10 })
  t.equal(ok.statusCode, 200)
  t.same(ok.json(), { message: Messages.admin })
  for (const claims of [{ acr: 'urn:example:password', auth_time: now - 10 }, { acr: 'urn:example:mfa', auth_time: now - 3600 }, { acr: 'urn:example:mfa' }, {}]) {
    const res = await get(claims)
    t.equal(res.statusCode, 401, JSON.stringify(claims))
    t.match(res.headers['www-authenticate'], /^Bearer realm="api", error="insufficient_user_authentication", error_description="[^"]+", acr_values="urn:example:mfa", max_age="300", resource_metadata="[^"]+", DPoP realm="api", algs="[^"]+"$/)
    t.match(res.json(), { error: 'insufficient_user_authentication' })
  }
  const noPermission = await app.inject({ url: '/api/messages/admin', headers: bearer(idp.sign({ acr: 'urn:example:password' })) })
  t.equal(noPermission.statusCode, 403, 'the permission first: signing in again would not help')
})

t.test('GET /api/messages/admin without ADMIN_ACR_VALUES or ADMIN_MAX_AGE → 200 whatever the sign-in', async t => {
  const idp = await idpFor(t)
  const app = await build(t, envFor(idp))
  const res = await app.inject({ url: '/api/messages/admin', headers: bearer(idp.sign({ permissions: ['read:admin-messages'], acr: 'urn:example:password' })) })
  t.equal(res.statusCode, 200)
})
