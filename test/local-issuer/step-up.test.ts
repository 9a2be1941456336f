import t from 'tap'
import { LocalAcr } from '../../local-issuer/issuer-info.js'
import { totpCode } from '../../local-issuer/totp.js'
import { Messages } from '../../routes/messages.js'
import { authorize, CookieJar, tokenRequest, type CodeFlowOptions, type TokenSet } from '../fixtures/local-login.js'
import { buildLocal, REDIRECT_URI } from './build-local.js'
import { issuer } from './issuer-command.js'

// RFC 9470 step-up with the real local issuer: a password alone, or a password and a TOTP code.

type Local = Awaited<ReturnType<typeof buildLocal>>

/** Signs in through the forms (code + PKCE), exchanges the code: the tokens, and how many login pages were shown. */
async function signIn (local: Local['local'], options: Partial<CodeFlowOptions> & { username: string, password: string }): Promise<TokenSet & { loginPages: number }> {
  const flow = await authorize({ issuer: local.issuer, audience: local.audience, clientId: 'local-spa', redirectUri: REDIRECT_URI, ...options })
  const res = await tokenRequest(local.issuer, { grant_type: 'authorization_code', code: flow.code, code_verifier: flow.verifier, redirect_uri: REDIRECT_URI, client_id: 'local-spa' })
  if (res.status !== 200) throw new Error(`code exchange failed: ${JSON.stringify(res.body)}`)
  return { ...res.body as unknown as TokenSet, loginPages: flow.loginPages }
}

const claimsOf = (token: string) => JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { acr?: unknown, auth_time?: unknown, amr?: unknown }

/** Sets up the admin's second factor with `npm run issuer -- user totp admin`: the secret it printed. */
async function setUpTotp (dataDir: string, username = 'admin'): Promise<string> {
  const output = await issuer(dataDir, ['user', 'totp', username])
  const secret = /secret ([A-Z2-7]{32})$/m.exec(output)?.[1]
  if (secret === undefined) throw new Error(`no secret printed in: ${output}`)
  return secret
}

/** The parameters of a WWW-Authenticate challenge, by name. */
const challengeParams = (header: string | undefined) => Object.fromEntries([...(header ?? '').matchAll(/(\w+)="([^"]*)"/g)].map(([, name, value]) => [name, value]))

t.test('a password alone gets the password acr and the sign-in\'s auth_time; with a TOTP code, the multi-factor acr', async t => {
  const { local, dataDir, created } = await buildLocal(t)
  const secret = await setUpTotp(dataDir)
  const before = Math.floor(Date.now() / 1000)
  const plain = claimsOf((await signIn(local, { username: 'admin', password: created!.passwords.admin! })).access_token)
  t.equal(plain.acr, LocalAcr.password)
  t.ok(typeof plain.auth_time === 'number' && plain.auth_time >= before - 1, 'auth_time is the sign-in\'s')
  const strong = claimsOf((await signIn(local, { username: 'admin', password: created!.passwords.admin!, totp: totpCode(secret) })).access_token)
  t.equal(strong.acr, LocalAcr.totp)
  const discovery = await (await fetch(new URL('.well-known/openid-configuration', local.issuer))).json() as { acr_values_supported?: string[] }
  t.same(discovery.acr_values_supported, [LocalAcr.password, LocalAcr.totp])
})

t.test('step-up end to end: the admin route answers insufficient_user_authentication; sent back with acr_values and max_age, the user signs in with the second factor and the new token passes', async t => {
  const { local, dataDir, created, call } = await buildLocal(t, { ADMIN_ACR_VALUES: LocalAcr.totp, ADMIN_MAX_AGE: '300' })
  const secret = await setUpTotp(dataDir)
  const jar = new CookieJar()
  const first = await signIn(local, { username: 'admin', password: created!.passwords.admin!, jar })
  const refused = await call('/api/messages/admin', first.access_token)
  t.equal(refused.statusCode, 401)
  const challenge = challengeParams(refused.headers['www-authenticate'] as string)
  t.equal(challenge.error, 'insufficient_user_authentication')
  t.same({ acr_values: challenge.acr_values, max_age: challenge.max_age }, { acr_values: LocalAcr.totp, max_age: '300' })

  // The client sends the user back, in the same browser session, with what the challenge asks.
  const params = { acr_values: challenge.acr_values as string, max_age: challenge.max_age as string }
  const second = await signIn(local, { username: 'admin', password: created!.passwords.admin!, totp: totpCode(secret), params, jar })
  t.equal(second.loginPages, 1, 'the issuer asked the user to sign in again, though the session was alive')
  t.equal(claimsOf(second.access_token).acr, LocalAcr.totp)
  t.same((await call('/api/messages/admin', second.access_token)).json(), { message: Messages.admin })
})

t.test('a session signed in with a password alone gets no token for a client that asks for the second factor without a code', async t => {
  const { local, dataDir, created } = await buildLocal(t)
  await setUpTotp(dataDir)
  const jar = new CookieJar()
  await signIn(local, { username: 'admin', password: created!.passwords.admin!, jar })
  // The session exists: without the issuer's acr check, the code would be issued at once, with the password acr.
  await t.rejects(signIn(local, { username: 'admin', password: created!.passwords.admin!, params: { acr_values: LocalAcr.totp }, jar }),
    /unexpected page 401: .*asks for a second factor/s)
})

t.test('a wrong code, a code used twice, or a code from a user without a second factor never gets the multi-factor acr', async t => {
  const { local, dataDir, created } = await buildLocal(t)
  const secret = await setUpTotp(dataDir)
  const admin = { username: 'admin', password: created!.passwords.admin! }
  const code = totpCode(secret)
  const wrong = String((Number(code) + 1) % 1_000_000).padStart(6, '0')
  await t.rejects(signIn(local, { ...admin, totp: wrong }), /unexpected page 401: .*Wrong or already used authenticator code/s)
  await t.rejects(signIn(local, { ...admin, totp: 'abcdef' }), /unexpected page 401/)
  t.equal(claimsOf((await signIn(local, { ...admin, totp: code })).access_token).acr, LocalAcr.totp)
  await t.rejects(signIn(local, { ...admin, totp: code }), /unexpected page 401: .*Wrong or already used authenticator code/s, 'each code once (RFC 6238 §5.2)')
  await t.rejects(signIn(local, { username: 'user', password: created!.passwords.user!, totp: code }), /unexpected page 401: .*No authenticator is set up for user/s)
  await t.rejects(signIn(local, { username: 'user', password: created!.passwords.user!, params: { acr_values: LocalAcr.totp } }), /unexpected page 401: .*none is set up for user/s)
})

t.test('a refreshed token keeps the sign-in\'s acr and auth_time: a refresh is no new sign-in', async t => {
  const { local, created } = await buildLocal(t)
  const tokens = await signIn(local, { username: 'admin', password: created!.passwords.admin! })
  const refreshed = await tokenRequest(local.issuer, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token!, client_id: 'local-spa' })
  t.equal(refreshed.status, 200)
  const before = claimsOf(tokens.access_token)
  const after = claimsOf(refreshed.body.access_token as string)
  t.same({ acr: after.acr, auth_time: after.auth_time }, { acr: before.acr, auth_time: before.auth_time })
})

t.test('user totp prints the secret and its otpauth URI once; --off turns the second factor off', async t => {
  const { local, dataDir, created } = await buildLocal(t)
  const output = await issuer(dataDir, ['user', 'totp', 'admin'])
  t.match(output, /^ {2}otpauth:\/\/totp\/.*secret=[A-Z2-7]{32}/m)
  t.match(output, `acr ${LocalAcr.totp}`)
  t.match(await issuer(dataDir, ['user', 'totp', 'admin', '--off']), 'admin signs in with a password alone from now on.')
  await t.rejects(signIn(local, { username: 'admin', password: created!.passwords.admin!, totp: '123456' }), /No authenticator is set up for admin/)
  await t.rejects(issuer(dataDir, ['user', 'totp', 'nobody']), /No user nobody/)
})
