import t, { type Test } from 'tap'
import { Rejections } from '../../src/index.js'
import type { TestIssuer } from '../../src/testing/index.js'
import { bearer, idpFor } from '../helper.js'
import { buildFor, challenge, startFails } from './provider-app.js'

// Okta. A custom authorization server's issuer is <org>/oauth2/default or <org>/oauth2/<id>,
// its keys at <issuer>/v1/keys; the org authorization server's issuer is the bare org URL,
// its keys at <org>/oauth2/v1/keys, and its access tokens are "designed to be used and
// consumed by Okta only" (https://support.okta.com/help/s/article/Signature-Validation-Failed-on-Access-Token;
// https://developer.okta.com/docs/concepts/auth-servers/). Access token claims as Okta's
// example, https://developer.okta.com/docs/api/openapi/okta-oauth/guides/overview/#access-token-payload
// (scopes in the scp array, the client in cid).

const AUDIENCE = 'api://default'

async function customServer (t: Test): Promise<TestIssuer> {
  const idp = await idpFor(t, { path: '/oauth2/default', jwksPath: '/oauth2/default/v1/keys', audience: AUDIENCE })
  idp.discoveryFields = {
    authorization_endpoint: `${idp.issuer}/v1/authorize`,
    token_endpoint: `${idp.issuer}/v1/token`,
    introspection_endpoint: `${idp.issuer}/v1/introspect`,
    revocation_endpoint: `${idp.issuer}/v1/revoke`,
    response_types_supported: ['code', 'id_token', 'code id_token', 'code token', 'id_token token', 'code id_token token'],
    scopes_supported: ['openid', 'profile', 'email', 'address', 'phone', 'offline_access']
  }
  return idp
}

/** The org authorization server: issuer the bare org URL, keys under /oauth2/v1/. */
async function orgServer (t: Test): Promise<TestIssuer> {
  const idp = await idpFor(t, { path: '', jwksPath: '/oauth2/v1/keys' })
  idp.discoveryFields = {
    authorization_endpoint: `${idp.issuer}/oauth2/v1/authorize`,
    token_endpoint: `${idp.issuer}/oauth2/v1/token`,
    introspection_endpoint: `${idp.issuer}/oauth2/v1/introspect`
  }
  return idp
}

const now = () => Math.floor(Date.now() / 1000)

const accessClaims = (iss: string, aud: string) => ({
  ver: 1,
  jti: 'AT.0mP4JKAZX1iACIT4vbEDF7LpvDVjxypPMf0D7uX39RE',
  iss,
  aud,
  sub: '00ujmkLgOxwSmm8Hm0g3',
  iat: now(),
  exp: now() + 3600,
  cid: 'nmdP1fcyvdVO11AL7ECm',
  uid: '00ujmkLgOxwSmm8Hm0g3',
  scp: ['openid', 'email', 'flights', 'custom'],
  auth_time: now(),
  custom_claim: 'CustomValue'
})

t.test('Okta custom authorization server: its access token is accepted', async t => {
  const idp = await customServer(t)
  t.notOk(idp.issuer.endsWith('/'), 'the issuer has no trailing slash')
  const app = await buildFor(t, { issuer: idp.issuer, audience: AUDIENCE })
  const res = await app.inject({ url: '/me', headers: bearer(idp.sign(accessClaims(idp.issuer, AUDIENCE))) })
  t.equal(res.statusCode, 200, res.body)
  t.match(res.json(), { iss: idp.issuer, cid: 'nmdP1fcyvdVO11AL7ECm', scp: ['openid', 'email', 'flights', 'custom'] })
})

t.test('Okta org authorization server: start-up stops with one line saying what to use instead', async t => {
  const idp = await orgServer(t)
  t.notOk(idp.issuer.endsWith('/'), 'the issuer is the bare org URL')
  for (const issuer of [idp.issuer, `${idp.issuer}/`]) {
    await startFails(t, { issuer, audience: AUDIENCE }, /is an Okta org authorization server, whose access tokens are for Okta's own APIs .*: use a custom authorization server \(http:\/\/127\.0\.0\.1:\d+\/oauth2\/default or …\/oauth2\/<id>\)$/)
  }
})

t.test('Okta org authorization server given with its jwksUri (no discovery): registration fails naming issuer', async t => {
  const org = await orgServer(t)
  await startFails(t, { issuer: org.issuer, jwksUri: org.jwksUri, audience: AUDIENCE }, /^auth plugin: option issuer is an Okta org authorization server, .*: use a custom authorization server \(http:\/\/127\.0\.0\.1:\d+\/oauth2\/default or …\/oauth2\/<id>\)$/)
  t.equal(org.totalRequests(), 0, 'refused before any fetch')
  // A custom server with its own keys given is fine (checked on loopback: nothing leaves the machine).
  const idp = await customServer(t)
  const app = await buildFor(t, { issuer: idp.issuer, jwksUri: idp.jwksUri, audience: AUDIENCE })
  t.equal((await app.inject({ url: '/me', headers: bearer(idp.sign(accessClaims(idp.issuer, AUDIENCE))) })).statusCode, 200)
})

t.test('an org-server token (iss the bare org, aud the org) is refused by an API trusting the custom server', async t => {
  const idp = await customServer(t)
  const org = new URL(idp.issuer).origin
  const app = await buildFor(t, { issuer: idp.issuer, audience: AUDIENCE })
  // Okta signs both with keys of one org; the key store only ever holds the custom server's.
  const res = await app.inject({ url: '/me', headers: bearer(idp.sign(accessClaims(org, org))) })
  t.equal(res.statusCode, 401)
  t.match(challenge(res), Rejections.issuer)
})

t.test('a bare-origin issuer whose keys are not under /oauth2/v1/ (Auth0\'s form) is not taken for an Okta org server', async t => {
  const idp = await idpFor(t, { audience: AUDIENCE })
  t.ok(idp.issuer.endsWith(':' + new URL(idp.issuer).port + '/'), 'a bare origin with a trailing slash, as Auth0\'s')
  const app = await buildFor(t, { issuer: idp.issuer, audience: AUDIENCE })
  t.equal((await app.inject({ url: '/me', headers: bearer(idp.sign()) })).statusCode, 200)
})
