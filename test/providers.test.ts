import t from 'tap'
import { bearer, build, idpFor } from './helper.js'

// The service's provider settings reach the plugin (docs/providers.md); each provider's own
// behaviour is tested in the package (test/providers/).

const now = () => Math.floor(Date.now() / 1000)

t.test('AUDIENCE_CLAIM=client_id: a Cognito access token reaches /api/messages/protected, the same session\'s ID token does not', async t => {
  const idp = await idpFor(t, { path: '/us-west-2_aaaaaaaaa' })
  const app = await build(t, { ISSUER_BASE_URL: idp.issuer, AUDIENCE: '1example23456789', AUDIENCE_CLAIM: 'client_id' })
  const access = idp.sign({ aud: undefined, client_id: '1example23456789', token_use: 'access', scope: 'openid', auth_time: now(), username: 'my-test-user' })
  t.equal((await app.inject({ url: '/api/messages/protected', headers: bearer(access) })).statusCode, 200)
  const id = idp.sign({ aud: '1example23456789', token_use: 'id', auth_time: now(), 'cognito:username': 'my-test-user' })
  const refused = await app.inject({ url: '/api/messages/protected', headers: bearer(id) })
  t.equal(refused.statusCode, 401)
  t.match(refused.headers['www-authenticate'], /The token is not an access token/)
})

t.test('TENANTS: a multi-tenant Entra ID issuer takes the listed tenants\' tokens and no other tenant\'s', async t => {
  const idp = await idpFor(t, { path: '/organizations/v2.0', jwksPath: '/organizations/discovery/v2.0/keys', audience: '6e74172b-be56-4843-9ff4-e66a39bb12e3' })
  const origin = new URL(idp.issuer).origin
  idp.discoveryIssuer = `${origin}/{tenantid}/v2.0`
  const tenant = '72f988bf-86f1-41af-91ab-2d7cd011db47'
  const stranger = '82229342-1101-4ab6-817b-70c0747630f3'
  const app = await build(t, { ISSUER_BASE_URL: idp.issuer, AUDIENCE: idp.audience, TENANTS: tenant, ISSUER_ALIASES: 'https://sts.windows.net/{tenantid}/' })
  const of = (iss: string, tid: string) => bearer(idp.sign({ iss, tid, ver: '2.0', scp: 'access_as_user' }))
  t.equal((await app.inject({ url: '/api/messages/protected', headers: of(`${origin}/${tenant}/v2.0`, tenant) })).statusCode, 200)
  t.equal((await app.inject({ url: '/api/messages/protected', headers: of(`https://sts.windows.net/${tenant}/`, tenant) })).statusCode, 200, 'v1.0')
  t.equal((await app.inject({ url: '/api/messages/protected', headers: of(`${origin}/${stranger}/v2.0`, stranger) })).statusCode, 401)
  t.equal((await app.inject({ url: '/api/messages/protected', headers: of(`https://sts.windows.net/${stranger}/`, stranger) })).statusCode, 401, 'v1.0')
})
