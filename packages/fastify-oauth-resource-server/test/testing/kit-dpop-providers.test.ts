import Fastify from 'fastify'
import t from 'tap'
import auth from '../../src/index.js'
import { auth0Claims, cognitoClaims, createDpopClient, entraClaims, keycloakClaims, oktaClaims } from '../../src/testing/index.js'
import { bearer, buildBare, idpFor } from '../helper.js'

t.test('createDpopClient: a token bound with boundTo passes a DPoP-only route with client.headers', async t => {
  const idp = await idpFor(t)
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(auth, { issuer: idp.issuer, audience: idp.audience, dpop: { mode: 'required', origin: 'http://localhost' } })
  app.get('/me', { onRequest: app.authenticate }, async request => ({ sub: request.verifiedClaims().sub, jkt: (request.verifiedClaims().cnf as { jkt: string }).jkt }))
  app.post('/orders', { onRequest: app.authenticate }, async () => ({ ok: true }))

  const client = await createDpopClient()
  t.equal(client.origin, 'http://localhost')
  const token = idp.token({ sub: 'alice', boundTo: client })
  t.same((await app.inject({ url: '/me', headers: await client.headers(token, { url: '/me' }) })).json(), { sub: 'alice', jkt: client.jkt })
  t.equal((await app.inject({ method: 'POST', url: '/orders?x=1', headers: await client.headers(token, { method: 'POST', url: '/orders?x=1' }) })).statusCode, 200, 'htu without the query')
  t.equal((await app.inject({ url: '/me', headers: await client.headers(token, { url: '/orders' }) })).statusCode, 401, 'a proof for another URL')
  t.equal((await app.inject({ url: '/me', headers: bearer(token) })).statusCode, 401, 'the bound token alone')
  const other = await createDpopClient()
  t.equal((await app.inject({ url: '/me', headers: await other.headers(token, { url: '/me' }) })).statusCode, 401, 'another key\'s proof')
})

t.test('createDpopClient: a proof carries the nonce the server asked for', async t => {
  const idp = await idpFor(t)
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(auth, { issuer: idp.issuer, audience: idp.audience, dpop: { mode: 'required', origin: 'https://api.example.com', nonce: true } })
  app.get('/me', { onRequest: app.authenticate }, async () => ({ ok: true }))
  const client = await createDpopClient({ origin: 'https://api.example.com' })
  const token = idp.token({ boundTo: client })
  const first = await app.inject({ url: '/me', headers: await client.headers(token, { url: '/me' }) })
  t.equal(first.statusCode, 401)
  const nonce = first.headers['dpop-nonce'] as string
  t.ok(nonce, 'the server asks for a nonce')
  t.equal((await app.inject({ url: '/me', headers: await client.headers(token, { url: '/me', nonce }) })).statusCode, 200)
})

t.test('createDpopClient refuses an origin with a path', async t => {
  await t.rejects(createDpopClient({ origin: 'http://localhost/api' }), /origin must be an origin/)
})

t.test('provider-shaped claims grant under their provider\'s permissionsClaim, and not under another', async t => {
  const idp = await idpFor(t)
  const cases = [
    ['realm_access.roles', keycloakClaims({ realmRoles: ['read:admin-messages'] }), keycloakClaims({ clientRoles: { api: ['read:admin-messages'] } })],
    ['resource_access.api.roles', keycloakClaims({ clientRoles: { api: ['read:admin-messages'] } }), keycloakClaims({ realmRoles: ['read:admin-messages'] })],
    [['roles', 'scp'], entraClaims({ scp: ['User.Read', 'read:admin-messages'] }), entraClaims({ scp: 'User.Read' })],
    [['roles', 'scp'], entraClaims({ roles: ['read:admin-messages'] }), entraClaims({ extra: { groups: ['read:admin-messages'] } })],
    ['scp', oktaClaims({ scp: ['openid', 'read:admin-messages'] }), oktaClaims()],
    [['cognito:groups', 'scope'], cognitoClaims({ groups: ['read:admin-messages'] }), cognitoClaims({ groups: ['staff'] })],
    [['["https://example.com/roles"]'], auth0Claims({ roles: ['read:admin-messages'] }), auth0Claims({ permissions: ['read:admin-messages'] })],
    [['permissions', 'scope'], auth0Claims({ permissions: ['read:admin-messages'] }), auth0Claims({ roles: ['read:admin-messages'] })]
  ] as const
  for (const [permissionsClaim, granted, refused] of cases) {
    const app = await buildBare(t, idp, { permissionsClaim })
    t.equal((await app.inject({ url: '/admin', headers: bearer(idp.token({ claims: granted })) })).statusCode, 200, `${JSON.stringify(permissionsClaim)} grants`)
    t.equal((await app.inject({ url: '/admin', headers: bearer(idp.token({ claims: refused })) })).statusCode, 403, `${JSON.stringify(permissionsClaim)} refuses`)
  }
})
