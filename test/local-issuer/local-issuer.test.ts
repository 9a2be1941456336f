import { mkdtempSync, readFileSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { Messages } from '../../routes/messages.js'
import { authorize, CookieJar, createPkce, tokenRequest, type TokenSet } from '../fixtures/local-login.js'
import { freePort } from '../fixtures/net.js'
import { buildLocal, REDIRECT_URI } from './build-local.js'

const login = (issuer: string, audience: string, username: string, password: string, scope?: string) =>
  authorize({ issuer, audience, clientId: 'local-spa', redirectUri: REDIRECT_URI, username, password, ...(scope === undefined ? {} : { scope }) })

t.test('the local issuer is trusted through discovery like any issuer', async t => {
  const { app, local } = await buildLocal(t)
  const discovery = await (await fetch(new URL('.well-known/openid-configuration', local.issuer))).json() as Record<string, unknown>
  t.equal(discovery.issuer, local.issuer)
  t.equal(discovery.jwks_uri, `${local.issuer}.well-known/jwks.json`)
  t.equal(discovery.token_endpoint, `${local.issuer}oauth/token`)
  t.match(discovery.registration_endpoint, /oidc\/register$/)
  t.ok(app.authStatus().keysLoaded)
})

t.test('client_credentials: a token for the protected route, and for admin with the permission', async t => {
  const { machine, call } = await buildLocal(t)
  const plain = await machine()
  t.equal(plain.status, 200)
  const token = plain.body.access_token as string
  const header = JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString())
  t.equal(header.typ, 'at+jwt', 'RFC 9068 access token')
  t.same((await call('/api/messages/protected', token)).json(), { message: Messages.protected })
  t.equal((await call('/api/messages/admin', token)).statusCode, 403)

  const admin = await machine({ scope: 'read:admin-messages' })
  const claims = JSON.parse(Buffer.from((admin.body.access_token as string).split('.')[1]!, 'base64url').toString())
  t.same(claims.permissions, ['read:admin-messages'])
  t.equal(claims.scope, 'read:admin-messages')
  t.same((await call('/api/messages/admin', admin.body.access_token as string)).json(), { message: Messages.admin })
})

t.test('the audience can be named with Auth0 audience=, RFC 8707 resource=, or not at all', async t => {
  const { local, machine, call } = await buildLocal(t)
  const withResource = await machine({ audience: '', resource: local.audience })
  t.equal(withResource.status, 200)
  t.equal((await call('/api/messages/protected', withResource.body.access_token as string)).statusCode, 200)
  const { audience, ...withoutAudience } = { audience: '' }
  t.equal(audience, '')
  const defaulted = await machine(withoutAudience)
  t.equal(defaulted.status, 200)
  const other = await machine({ audience: 'https://other.example.com' })
  t.equal(other.status, 400)
  t.equal(other.body.error, 'invalid_target')
})

t.test('a bad client secret gets invalid_client', async t => {
  const { machine } = await buildLocal(t)
  const res = await machine({ client_secret: 'wrong' })
  t.equal(res.status, 401)
  t.equal(res.body.error, 'invalid_client')
})

t.test('authorization code + PKCE through the login form: admin sees the admin message, the other user gets 403', async t => {
  const { local, created, call } = await buildLocal(t)
  const passwords = firstStartPasswords(created)

  const admin = await login(local.issuer, local.audience, 'admin', passwords.admin)
  const adminTokens = await exchange(local.issuer, admin.code, admin.verifier)
  t.same((await call('/api/messages/admin', adminTokens.access_token)).json(), { message: Messages.admin })

  const user = await login(local.issuer, local.audience, 'user', passwords.user)
  const userTokens = await exchange(local.issuer, user.code, user.verifier)
  const claims = JSON.parse(Buffer.from(userTokens.access_token.split('.')[1]!, 'base64url').toString())
  t.notMatch(String(claims.scope), /read:admin-messages/, 'the scope is not granted to a user without the permission')
  t.same(claims.permissions, [])
  t.equal((await call('/api/messages/protected', userTokens.access_token)).statusCode, 200)
  t.equal((await call('/api/messages/admin', userTokens.access_token)).statusCode, 403)
})

t.test('a wrong password is refused and the flow goes on after the right one', async t => {
  const { local } = await buildLocal(t)
  await t.rejects(login(local.issuer, local.audience, 'admin', 'not-the-password'), /unexpected page 401/)
})

t.test('the login page escapes what it echoes back', async t => {
  const { local } = await buildLocal(t)
  const jar = new CookieJar()
  const start = await fetch(new URL(`authorize?${new URLSearchParams({
    client_id: 'local-spa', response_type: 'code', redirect_uri: REDIRECT_URI, scope: 'openid', audience: local.audience, code_challenge: createPkce().challenge, code_challenge_method: 'S256'
  })}`, local.issuer), { redirect: 'manual' })
  jar.store(start)
  const interaction = new URL(start.headers.get('location')!, local.issuer)
  const res = await fetch(new URL(`${interaction.pathname}/login`, local.issuer), {
    method: 'POST',
    headers: { cookie: jar.header(), 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ username: '"><script>alert(1)</script>', password: 'x' })
  })
  t.equal(res.status, 401)
  const html = await res.text()
  t.notMatch(html, '<script>')
  t.match(html, 'value="&#34;&#62;&#60;script&#62;')
  t.match(String(res.headers.get('content-security-policy')), "default-src 'none'")
})

t.test('code exchange errors: bad PKCE verifier, replayed code, wrong redirect URI', async t => {
  const { local, created } = await buildLocal(t)
  const { admin } = firstStartPasswords(created)

  const first = await login(local.issuer, local.audience, 'admin', admin)
  const badVerifier = await tokenRequest(local.issuer, codeForm(first.code, createPkce().verifier))
  t.equal(badVerifier.status, 400)
  t.equal(badVerifier.body.error, 'invalid_grant')

  const second = await login(local.issuer, local.audience, 'admin', admin)
  t.equal((await tokenRequest(local.issuer, codeForm(second.code, second.verifier))).status, 200)
  const replayed = await tokenRequest(local.issuer, codeForm(second.code, second.verifier))
  t.equal(replayed.status, 400)
  t.equal(replayed.body.error, 'invalid_grant')

  const third = await login(local.issuer, local.audience, 'admin', admin)
  const wrongRedirect = await tokenRequest(local.issuer, { ...codeForm(third.code, third.verifier), redirect_uri: 'http://127.0.0.1:4040/elsewhere' })
  t.equal(wrongRedirect.status, 400)
  t.equal(wrongRedirect.body.error, 'invalid_grant')

  const authorizeElsewhere = await fetch(new URL(`authorize?${new URLSearchParams({
    client_id: 'local-spa', response_type: 'code', redirect_uri: 'https://evil.example/callback', scope: 'openid', code_challenge: createPkce().challenge, code_challenge_method: 'S256'
  })}`, local.issuer), { redirect: 'manual' })
  t.equal(authorizeElsewhere.status, 400, 'an unregistered redirect URI is never redirected to')
  t.equal(authorizeElsewhere.headers.get('location'), null)
})

t.test('PKCE is required for the browser client', async t => {
  const { local } = await buildLocal(t)
  const res = await fetch(new URL(`authorize?${new URLSearchParams({ client_id: 'local-spa', response_type: 'code', redirect_uri: REDIRECT_URI, scope: 'openid' })}`, local.issuer), { redirect: 'manual' })
  const location = new URL(res.headers.get('location') ?? '', local.issuer)
  t.equal(location.searchParams.get('error'), 'invalid_request')
})

t.test('refresh tokens rotate: the old one is refused once used', async t => {
  const { local, created, call } = await buildLocal(t)
  const { admin } = firstStartPasswords(created)
  const flow = await login(local.issuer, local.audience, 'admin', admin)
  const tokens = await exchange(local.issuer, flow.code, flow.verifier)
  t.type(tokens.refresh_token, 'string')

  const refreshed = await tokenRequest(local.issuer, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token!, client_id: 'local-spa' })
  t.equal(refreshed.status, 200)
  t.not(refreshed.body.refresh_token, tokens.refresh_token, 'a new refresh token')
  t.equal((await call('/api/messages/admin', refreshed.body.access_token as string)).statusCode, 200)

  const reused = await tokenRequest(local.issuer, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token!, client_id: 'local-spa' })
  t.equal(reused.status, 400)
  t.equal(reused.body.error, 'invalid_grant')
  const unknown = await tokenRequest(local.issuer, { grant_type: 'refresh_token', refresh_token: 'not-a-refresh-token', client_id: 'local-spa' })
  t.equal(unknown.body.error, 'invalid_grant')
})

t.test('malformed requests get OAuth errors, never a 500', async t => {
  const { local } = await buildLocal(t)
  const token = new URL('oauth/token', local.issuer)
  const bodies: Array<[string, string]> = [
    ['application/json', '{"grant_type":"client_credentials"'],
    ['application/x-www-form-urlencoded', 'grant_type=client_credentials&grant_type=authorization_code'],
    ['application/x-www-form-urlencoded', ''],
    ['text/plain', 'hello'],
    ['application/x-www-form-urlencoded', `grant_type=client_credentials&client_id=local-machine&x=${'a'.repeat(70_000)}`]
  ]
  for (const [type, body] of bodies) {
    const res = await fetch(token, { method: 'POST', headers: { 'content-type': type }, body })
    t.ok(res.status >= 400 && res.status < 500, `${type} ${body.slice(0, 30)} → ${res.status}`)
    t.type((await res.json() as { error?: unknown }).error, 'string')
  }
  for (const [method, path] of [['GET', 'interaction/nope'], ['POST', 'interaction/nope/login'], ['GET', 'interaction/%00'], ['POST', 'interaction/x/confirm']]) {
    const res = await fetch(new URL(path!, local.issuer), { method, redirect: 'manual' })
    t.equal(res.status, 400, `${method} /${path}`)
  }
})

t.test('dynamic client registration (RFC 7591) works and registered clients survive a restart', async t => {
  const dataDir = mkdtempSync(join(tmpdir(), 'local-issuer-'))
  const { app, local } = await buildLocal(t, { LOCAL_ISSUER_DATA: dataDir })
  const registered = await fetch(new URL('oidc/register', local.issuer), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ redirect_uris: ['http://127.0.0.1:5000/cb'], token_endpoint_auth_method: 'none', grant_types: ['authorization_code'], response_types: ['code'] })
  })
  t.equal(registered.status, 201)
  const { client_id: clientId } = await registered.json() as { client_id: string }
  await app.close()

  const again = await buildLocal(t, { LOCAL_ISSUER_DATA: dataDir })
  const res = await fetch(new URL(`authorize?${new URLSearchParams({ client_id: clientId, response_type: 'code', redirect_uri: 'http://127.0.0.1:5000/cb', scope: 'openid', code_challenge: createPkce().challenge, code_challenge_method: 'S256' })}`, again.local.issuer), { redirect: 'manual' })
  t.match(res.headers.get('location') ?? '', /^\/interaction\//, 'the registered client is known after a restart')
})

t.test('first start makes secrets and prints them once; passwords are stored hashed; keys survive a restart', async t => {
  const dataDir = mkdtempSync(join(tmpdir(), 'local-issuer-'))
  // One port for both starts, so the issuer URL (and so iss) is the same.
  const port = String(await freePort())
  const first = await buildLocal(t, { LOCAL_ISSUER_DATA: dataDir, LOCAL_ISSUER_PORT: port })
  const created = first.local.created!
  const passwords = created.passwords as { admin: string, user: string }
  t.ok(passwords.admin.length >= 24)
  const file = readFileSync(join(dataDir, 'state.json'), 'utf8')
  t.notMatch(file, passwords.admin, 'no plaintext password')
  t.notMatch(file, passwords.user)
  t.equal(statSync(join(dataDir, 'state.json')).mode & 0o777, 0o600)

  const token = (await first.machine()).body.access_token as string
  await first.app.close()
  const second = await buildLocal(t, { LOCAL_ISSUER_DATA: dataDir, LOCAL_ISSUER_PORT: port })
  t.equal(second.local.created, undefined, 'nothing printed again')
  t.equal((await second.call('/api/messages/protected', token)).statusCode, 200, 'the signing key survived')
})

function codeForm (code: string, verifier: string) {
  return { grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: REDIRECT_URI, client_id: 'local-spa' }
}

async function exchange (issuer: string, code: string, verifier: string): Promise<TokenSet> {
  const res = await tokenRequest(issuer, codeForm(code, verifier))
  if (res.status !== 200) throw new Error(`code exchange failed: ${JSON.stringify(res.body)}`)
  return res.body as unknown as TokenSet
}

function firstStartPasswords (created: { passwords: Record<string, string> } | undefined) {
  if (created === undefined) throw new Error('expected a first start')
  return created.passwords as { admin: string, user: string }
}
