import t from 'tap'
import { bearer, build, envFor, idpFor } from './helper.js'

const ADMIN = '/api/messages/admin'

t.test('read:admin-messages is granted by the permissions array or the scope string', async t => {
  const idp = await idpFor(t)
  const app = await build(t, envFor(idp))
  for (const claims of [
    { permissions: ['read:admin-messages'] },
    { permissions: ['read:messages', 'read:admin-messages'] },
    { scope: 'read:admin-messages' },
    { scope: 'openid profile read:admin-messages' },
    { scope: 'openid', permissions: ['read:admin-messages'] }
  ]) {
    const res = await app.inject({ url: ADMIN, headers: bearer(idp.sign(claims)) })
    t.equal(res.statusCode, 200, JSON.stringify(claims))
  }
})

t.test('permission look-alikes are not granted', async t => {
  const idp = await idpFor(t)
  const app = await build(t, envFor(idp))
  for (const claims of [
    {},
    { permissions: [] },
    { permissions: ['read:admin-messages:all'] },
    { permissions: ['read:admin'] },
    { permissions: ['READ:ADMIN-MESSAGES'] },
    { permissions: ['read:admin-messages '] },
    { permissions: [' read:admin-messages'] },
    { permissions: 'read:admin-messages' },
    { permissions: [['read:admin-messages']] },
    { permissions: { 'read:admin-messages': true } },
    { scope: 'read:admin-messagesx' },
    { scope: 'xread:admin-messages' },
    { scope: 'read:admin-messages,openid' },
    { scope: 'Read:Admin-Messages' },
    { scope: ['read:admin-messages'] },
    { scp: 'read:admin-messages' },
    { scp: ['read:admin-messages'] },
    { roles: ['read:admin-messages'] }
  ]) {
    const res = await app.inject({ url: ADMIN, headers: bearer(idp.sign(claims)) })
    t.equal(res.statusCode, 403, JSON.stringify(claims))
  }
})

t.test('PERMISSIONS_CLAIM=realm_access.roles: a Keycloak realm role grants; the Auth0 claims no longer do', async t => {
  const idp = await idpFor(t)
  const app = await build(t, envFor(idp, { PERMISSIONS_CLAIM: 'realm_access.roles' }))
  const status = async (claims: Record<string, unknown>) => (await app.inject({ url: ADMIN, headers: bearer(idp.sign(claims)) })).statusCode
  t.equal(await status({ realm_access: { roles: ['offline_access', 'read:admin-messages'] } }), 200)
  t.equal(await status({ resource_access: { account: { roles: ['read:admin-messages'] } } }), 403, 'a role in another claim')
  t.equal(await status({ realm_access: { roles: [{ name: 'read:admin-messages' }] } }), 403, 'a role that is not a string')
  t.equal(await status({ permissions: ['read:admin-messages'], scope: 'read:admin-messages' }), 403)
})

t.test('ISSUER_2_PERMISSIONS_CLAIM: the second issuer grants by realm role, the first by PERMISSIONS_CLAIM', async t => {
  const auth0 = await idpFor(t)
  const keycloak = await idpFor(t)
  const app = await build(t, {
    ISSUER_1_BASE_URL: auth0.issuer,
    ISSUER_1_AUDIENCE: auth0.audience,
    ISSUER_2_BASE_URL: keycloak.issuer,
    ISSUER_2_AUDIENCE: keycloak.audience,
    ISSUER_2_PERMISSIONS_CLAIM: 'realm_access.roles',
    PERMISSIONS_CLAIM: '["https://hello-world.example.com/roles"]'
  })
  const status = async (token: string) => (await app.inject({ url: ADMIN, headers: bearer(token) })).statusCode
  const realmRole = { realm_access: { roles: ['read:admin-messages'] } }
  const namespaced = { 'https://hello-world.example.com/roles': ['read:admin-messages'] }
  t.equal(await status(keycloak.sign(realmRole)), 200)
  t.equal(await status(keycloak.sign(namespaced)), 403, 'the Keycloak issuer reads realm roles only')
  t.equal(await status(auth0.sign(namespaced)), 200)
  t.equal(await status(auth0.sign(realmRole)), 403, 'a realm role from the other issuer grants nothing')
})
