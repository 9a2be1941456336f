import t from 'tap'
import { Rejections } from '../../src/index.js'
import type { TestIssuer } from '../../src/testing/index.js'
import { bearer, idpFor } from '../helper.js'
import { buildFor, challenge, startFails } from './provider-app.js'

// Amazon Cognito user pools. Issuer https://cognito-idp.<region>.amazonaws.com/<pool id>, discovery
// at <issuer>/.well-known/openid-configuration, keys at <issuer>/.well-known/jwks.json; no
// introspection endpoint. Tokens shaped as the documented examples:
// access token https://docs.aws.amazon.com/cognito/latest/developerguide/amazon-cognito-user-pools-using-the-access-token.html
// (no aud; the app client in client_id; token_use access), ID token
// https://docs.aws.amazon.com/cognito/latest/developerguide/amazon-cognito-user-pools-using-the-id-token.html
// (aud the app client; token_use id).

const POOL = '/us-west-2_aaaaaaaaa'
const APP_CLIENT = '1example23456789'
const OTHER_APP_CLIENT = '9another87654321'

async function cognito (t: Parameters<typeof idpFor>[0]): Promise<TestIssuer> {
  const idp = await idpFor(t, { path: POOL })
  const base = idp.issuer
  idp.discoveryFields = {
    authorization_endpoint: 'https://example.auth.us-west-2.amazoncognito.com/oauth2/authorize',
    token_endpoint: 'https://example.auth.us-west-2.amazoncognito.com/oauth2/token',
    userinfo_endpoint: 'https://example.auth.us-west-2.amazoncognito.com/oauth2/userInfo',
    response_types_supported: ['code', 'token'],
    scopes_supported: ['openid', 'email', 'phone', 'profile'],
    subject_types_supported: ['public'],
    token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post']
  }
  t.equal(base.endsWith(POOL), true, 'the issuer is the user pool, without a trailing slash')
  return idp
}

const now = () => Math.floor(Date.now() / 1000)

/** A user's access token, claim for claim as Cognito's example: no aud. */
const accessClaims = (clientId = APP_CLIENT) => ({
  sub: 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee',
  'cognito:groups': ['admin'],
  aud: undefined,
  version: 2,
  client_id: clientId,
  origin_jti: 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee',
  event_id: 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee',
  token_use: 'access',
  scope: 'phone openid profile email',
  auth_time: now(),
  jti: 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee',
  username: 'my-test-user'
})

/** The same session's ID token: aud is the app client, token_use id. */
const idClaims = () => ({
  sub: 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee',
  'cognito:groups': ['admin'],
  email_verified: true,
  'cognito:username': 'my-test-user',
  origin_jti: 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee',
  aud: APP_CLIENT,
  event_id: 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee',
  token_use: 'id',
  auth_time: now(),
  jti: 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee',
  email: 'test-user@example.com'
})

t.test('a Cognito access token is accepted with audienceClaim client_id naming the app client', async t => {
  const idp = await cognito(t)
  const app = await buildFor(t, { issuer: idp.issuer, audience: APP_CLIENT, audienceClaim: 'client_id' })
  const res = await app.inject({ url: '/me', headers: bearer(idp.sign(accessClaims())) })
  t.equal(res.statusCode, 200, res.body)
  t.match(res.json(), { client_id: APP_CLIENT, token_use: 'access', username: 'my-test-user', 'cognito:groups': ['admin'] })
  t.notOk('aud' in res.json(), 'a Cognito access token has no aud')
})

t.test('audienceClaim client_id takes any of several app clients, and refuses another app client\'s token', async t => {
  const idp = await cognito(t)
  const app = await buildFor(t, { issuer: idp.issuer, audience: [OTHER_APP_CLIENT, APP_CLIENT], audienceClaim: 'client_id' })
  t.equal((await app.inject({ url: '/me', headers: bearer(idp.sign(accessClaims(APP_CLIENT))) })).statusCode, 200)
  t.equal((await app.inject({ url: '/me', headers: bearer(idp.sign(accessClaims(OTHER_APP_CLIENT))) })).statusCode, 200)
  const stranger = await app.inject({ url: '/me', headers: bearer(idp.sign(accessClaims('0stranger0000000'))) })
  t.equal(stranger.statusCode, 401)
  t.match(challenge(stranger), Rejections.audience)
})

t.test('with audienceClaim client_id, an aud naming the app client is not enough: a token without client_id is refused', async t => {
  const idp = await cognito(t)
  const app = await buildFor(t, { issuer: idp.issuer, audience: APP_CLIENT, audienceClaim: 'client_id' })
  const res = await app.inject({ url: '/me', headers: bearer(idp.sign({ ...accessClaims(), client_id: undefined, aud: APP_CLIENT })) })
  t.equal(res.statusCode, 401)
  t.match(challenge(res), Rejections.audience)
})

t.test('a Cognito ID token never passes as an access token, whichever claim carries the audience', async t => {
  const idp = await cognito(t)
  for (const audienceClaim of ['client_id', 'aud'] as const) {
    const app = await buildFor(t, { issuer: idp.issuer, audience: APP_CLIENT, audienceClaim })
    const res = await app.inject({ url: '/me', headers: bearer(idp.sign(idClaims())) })
    t.equal(res.statusCode, 401, audienceClaim)
    // With aud, the ID token names the API's audience: only token_use stops it.
    t.match(challenge(res), Rejections.tokenUse, audienceClaim)
  }
})

t.test('token_use other than access, or not a string, is refused even with every other claim right', async t => {
  const idp = await cognito(t)
  const app = await buildFor(t, { issuer: idp.issuer, audience: APP_CLIENT, audienceClaim: 'client_id' })
  for (const use of ['id', 'ACCESS', ['access'], '']) {
    const res = await app.inject({ url: '/me', headers: bearer(idp.sign({ ...accessClaims(), token_use: use })) })
    t.equal(res.statusCode, 401, JSON.stringify(use))
    t.match(challenge(res), Rejections.tokenUse, JSON.stringify(use))
  }
})

t.test('with the default audienceClaim (aud), a Cognito access token fails the audience check', async t => {
  const idp = await cognito(t)
  const app = await buildFor(t, { issuer: idp.issuer, audience: APP_CLIENT })
  const res = await app.inject({ url: '/me', headers: bearer(idp.sign(accessClaims())) })
  t.equal(res.statusCode, 401)
  t.match(challenge(res), Rejections.audience)
})

t.test('audienceClaim other than aud or client_id stops registration naming the option', async t => {
  const idp = await cognito(t)
  await startFails(t, { issuer: idp.issuer, audience: APP_CLIENT, audienceClaim: 'azp' as 'aud' }, /option audienceClaim must be 'aud' or 'client_id'/)
  await startFails(t, { issuers: [{ issuer: idp.issuer, audience: APP_CLIENT, audienceClaim: 'sub' as 'aud' }] }, /option issuers\[0\]\.audienceClaim must be/)
  await startFails(t, { issuers: [{ issuer: idp.issuer, audience: APP_CLIENT }], audienceClaim: 'client_id' }, /option audienceClaim goes inside each entry of issuers/)
})
