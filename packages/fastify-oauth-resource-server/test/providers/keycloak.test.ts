import t, { type Test } from 'tap'
import { Rejections } from '../../src/index.js'
import { startIntrospectionServer, type TestIssuer } from '../../src/testing/index.js'
import { bearer, idpFor } from '../helper.js'
import { buildFor, challenge } from './provider-app.js'

// Keycloak. A realm's issuer is <server>/realms/<realm>; discovery names its keys at
// <issuer>/protocol/openid-connect/certs and introspection at
// <issuer>/protocol/openid-connect/token/introspect. The API's client id reaches `aud` only
// through an audience mapper (https://www.keycloak.org/docs/latest/server_admin/index.html#_audience);
// `azp` names the client that asked for the token. Claims as a Keycloak access token
// decoded in https://docs.walt.id/wallet/api/auth/jwt-oidc/keycloak/api-endpoints
// (typ Bearer, azp, realm_access.roles, resource_access); an ID token has typ ID.

const API_CLIENT = 'hello-world-api'
const SPA_CLIENT = 'hello-world-spa'

async function realm (t: Test): Promise<TestIssuer> {
  const idp = await idpFor(t, { path: '/realms/staff', jwksPath: '/realms/staff/protocol/openid-connect/certs', audience: API_CLIENT })
  idp.discoveryFields = {
    authorization_endpoint: `${idp.issuer}/protocol/openid-connect/auth`,
    token_endpoint: `${idp.issuer}/protocol/openid-connect/token`,
    userinfo_endpoint: `${idp.issuer}/protocol/openid-connect/userinfo`,
    end_session_endpoint: `${idp.issuer}/protocol/openid-connect/logout`,
    grant_types_supported: ['authorization_code', 'implicit', 'refresh_token', 'password', 'client_credentials'],
    response_types_supported: ['code', 'none', 'id_token', 'token', 'id_token token', 'code id_token', 'code token', 'code id_token token']
  }
  return idp
}

const now = () => Math.floor(Date.now() / 1000)

/** A user's access token through the SPA client, with an audience mapper adding the API. */
const accessClaims = (iss: string, aud: string | string[] = [API_CLIENT, 'account']) => ({
  exp: now() + 300,
  iat: now(),
  auth_time: now(),
  jti: 'onrtac:f73a4a37-9550-4f88-97ef-3b45abee06f1',
  iss,
  aud,
  sub: '7ddaf89f-69eb-4ecf-a9ca-acba11211986',
  typ: 'Bearer',
  azp: SPA_CLIENT,
  sid: '2a88c258-f73a-4103-b862-e1fbd8f4e04e',
  acr: '1',
  'allowed-origins': ['http://localhost:4040'],
  realm_access: { roles: ['offline_access', 'default-roles-staff', 'uma_authorization'] },
  resource_access: { account: { roles: ['manage-account', 'manage-account-links', 'view-profile'] } },
  scope: 'openid email profile',
  email_verified: true,
  name: 'Alice Liddell',
  preferred_username: 'alice',
  given_name: 'Alice',
  family_name: 'Liddell',
  email: 'alice@example.com'
})

t.test('Keycloak: a realm\'s access token with the API in aud is accepted, whichever client asked for it (azp)', async t => {
  const idp = await realm(t)
  t.notOk(idp.issuer.endsWith('/'), 'the realm issuer has no trailing slash')
  const app = await buildFor(t, { issuer: idp.issuer, audience: API_CLIENT })
  for (const azp of [SPA_CLIENT, 'another-client']) {
    const res = await app.inject({ url: '/me', headers: bearer(idp.sign({ ...accessClaims(idp.issuer), azp })) })
    t.equal(res.statusCode, 200, res.body)
    t.match(res.json(), { azp, typ: 'Bearer', realm_access: { roles: ['offline_access', 'default-roles-staff', 'uma_authorization'] } })
  }
})

t.test('Keycloak: without an audience mapper (aud only account) the token is refused', async t => {
  const idp = await realm(t)
  const app = await buildFor(t, { issuer: idp.issuer, audience: API_CLIENT })
  const res = await app.inject({ url: '/me', headers: bearer(idp.sign(accessClaims(idp.issuer, 'account'))) })
  t.equal(res.statusCode, 401)
  t.match(challenge(res), Rejections.audience)
})

t.test('Keycloak: an ID token issued to the API\'s client never passes as an access token', async t => {
  const idp = await realm(t)
  const app = await buildFor(t, { issuer: idp.issuer, audience: API_CLIENT })
  for (const typ of ['ID', 'Refresh', 'Logout', '', 7]) {
    const res = await app.inject({ url: '/me', headers: bearer(idp.sign({ ...accessClaims(idp.issuer, API_CLIENT), typ, azp: API_CLIENT })) })
    t.equal(res.statusCode, 401, JSON.stringify(typ))
    t.match(challenge(res), Rejections.tokenUse, JSON.stringify(typ))
  }
  // A DPoP-bound access token says typ DPoP; presented as a bearer token, its cnf is what refuses it.
  const dpop = await app.inject({ url: '/me', headers: bearer(idp.sign({ ...accessClaims(idp.issuer), typ: 'DPoP' })) })
  t.equal(dpop.statusCode, 200, 'typ DPoP is an access token')
})

t.test('Keycloak: an opaque token is introspected at the endpoint discovery names, held to the same rules', async t => {
  const idp = await realm(t)
  const introspection = await startIntrospectionServer({ issuer: idp.issuer, audience: API_CLIENT, clientId: API_CLIENT })
  t.teardown(() => introspection.close())
  idp.discoveryFields = { ...idp.discoveryFields, introspection_endpoint: introspection.endpoint }
  const app = await buildFor(t, { issuer: idp.issuer, audience: API_CLIENT, introspection: { clientId: API_CLIENT, clientSecret: introspection.clientSecret } })
  // Keycloak's introspection answer: the token's claims, active, typ Bearer, client_id.
  const { exp, iat, sub, azp, scope, realm_access: realmAccess } = accessClaims(idp.issuer)
  const opaque = introspection.issue({ exp, iat, sub, azp, scope, realm_access: realmAccess, typ: 'Bearer', client_id: SPA_CLIENT, username: 'alice', token_type: 'Bearer' })
  const res = await app.inject({ url: '/me', headers: bearer(opaque) })
  t.equal(res.statusCode, 200, res.body)
  t.match(res.json(), { iss: idp.issuer, azp: SPA_CLIENT, client_id: SPA_CLIENT })
  const id = introspection.issue({ exp, iat, sub, typ: 'ID', aud: API_CLIENT })
  const refused = await app.inject({ url: '/me', headers: bearer(id) })
  t.equal(refused.statusCode, 401)
  t.match(challenge(refused), Rejections.tokenUse)
})
