import { readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { Messages } from '../../routes/messages.js'
import { authorize, tokenRequest, type TokenSet } from '../fixtures/local-login.js'
import { buildLocal, REDIRECT_URI } from './build-local.js'
import { issuer, printedSecret } from './issuer-command.js'

const ADMIN = 'read:admin-messages'

type Local = Awaited<ReturnType<typeof buildLocal>>

/** Signs in through the login and consent forms (code + PKCE) and exchanges the code: the tokens. */
async function signIn (local: Local['local'], username: string, password: string, client = { id: 'local-spa', redirectUri: REDIRECT_URI }, scope?: string): Promise<TokenSet> {
  const flow = await authorize({ issuer: local.issuer, audience: local.audience, clientId: client.id, redirectUri: client.redirectUri, username, password, ...(scope === undefined ? {} : { scope }) })
  const res = await tokenRequest(local.issuer, { grant_type: 'authorization_code', code: flow.code, code_verifier: flow.verifier, redirect_uri: client.redirectUri, client_id: client.id })
  if (res.status !== 200) throw new Error(`code exchange failed: ${JSON.stringify(res.body)}`)
  return res.body as unknown as TokenSet
}

const claimsOf = (token: string) => JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { permissions: string[], scope?: string, sub: string }

t.test('user add with a permission: the user signs in through the login form and reads the admin message; after a revoke their next token gets 403', async t => {
  const { local, dataDir, call } = await buildLocal(t)
  const added = await issuer(dataDir, ['user', 'add', 'alice', '--permission', ADMIN])
  t.match(added, `Added user alice with ${ADMIN}.`)
  t.match(added, 'uses it from the next sign-in or token request, no restart needed', 'the running server is named')
  const password = printedSecret(added)
  t.notMatch(readFileSync(join(dataDir, 'state.json'), 'utf8'), password, 'the password is stored only as a hash')
  t.equal(statSync(join(dataDir, 'state.json')).mode & 0o777, 0o600)
  t.match(await issuer(dataDir, ['user', 'list']), /^alice +read:admin-messages$/m)

  const tokens = await signIn(local, 'alice', password)
  t.same((await call('/api/messages/admin', tokens.access_token)).json(), { message: Messages.admin }, 'alice reads the admin message')
  t.same(claimsOf(tokens.access_token).permissions, [ADMIN])

  t.match(await issuer(dataDir, ['permission', 'revoke', 'alice', ADMIN]), `Revoked ${ADMIN} from user alice.`)
  const again = await signIn(local, 'alice', password)
  t.equal((await call('/api/messages/admin', again.access_token)).statusCode, 403, 'a new sign-in gets 403')
  t.same(claimsOf(again.access_token).permissions, [])
  t.equal((await call('/api/messages/protected', again.access_token)).statusCode, 200, 'she is still a user')

  // The refresh token from before the revoke: its grant once held the scope, the new token must not.
  const refreshed = await tokenRequest(local.issuer, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token!, client_id: 'local-spa' })
  t.equal(refreshed.status, 200)
  t.notMatch(String(claimsOf(refreshed.body.access_token as string).scope), ADMIN, 'no scope left over from the old grant')
  t.equal((await call('/api/messages/admin', refreshed.body.access_token as string)).statusCode, 403, 'a refreshed token gets 403')

  t.match(await issuer(dataDir, ['permission', 'grant', 'alice', ADMIN]), `Granted ${ADMIN} to user alice.`)
  const regranted = await signIn(local, 'alice', password)
  t.equal((await call('/api/messages/admin', regranted.access_token)).statusCode, 200, 'granted again, her next token reads it')
})

t.test('a permission a developer names for their own routes is granted, shown and revoked like the API\'s', async t => {
  const { local, dataDir } = await buildLocal(t)
  const password = 'correct horse battery staple'
  await issuer(dataDir, ['user', 'add', 'bob', '--password', password])
  await issuer(dataDir, ['permission', 'grant', 'bob', 'write:notes', 'read:notes'])
  t.match(await issuer(dataDir, ['user', 'list']), /^bob +write:notes read:notes$/m)
  const tokens = await signIn(local, 'bob', password, undefined, 'openid write:notes read:admin-messages')
  const claims = claimsOf(tokens.access_token)
  t.same(claims.permissions, ['write:notes', 'read:notes'])
  t.match(claims.scope, 'write:notes', 'the requested permission he holds is in the scope')
  t.notMatch(claims.scope, ADMIN, 'the one he does not hold is not')
})

t.test('user add takes a chosen password (--password, --password-stdin); user password replaces it; the old one is refused', async t => {
  const { local, dataDir, call } = await buildLocal(t)
  const added = await issuer(dataDir, ['user', 'add', 'carol', '--password-stdin'], 'from stdin 123\n')
  t.notMatch(added, 'printed once', 'a chosen password is never printed')
  t.notMatch(added, 'from stdin')
  t.equal((await call('/api/messages/protected', (await signIn(local, 'carol', 'from stdin 123')).access_token)).statusCode, 200)

  const changed = await issuer(dataDir, ['user', 'password', 'carol'])
  const generated = printedSecret(changed)
  await t.rejects(signIn(local, 'carol', 'from stdin 123'), /unexpected page 401/, 'the old password is refused')
  t.equal((await call('/api/messages/protected', (await signIn(local, 'carol', generated)).access_token)).statusCode, 200)

  await t.rejects(issuer(dataDir, ['user', 'add', 'dave', '--password', 'short']), /8 to 1024 characters/)
  await t.rejects(issuer(dataDir, ['user', 'add', 'dave', '--password', 'long enough', '--password-stdin']), /not both/)
})

t.test('user remove: the user can no longer sign in, and their refresh token is refused', async t => {
  const { local, dataDir } = await buildLocal(t)
  const password = printedSecret(await issuer(dataDir, ['user', 'add', 'erin']))
  const tokens = await signIn(local, 'erin', password)
  t.match(await issuer(dataDir, ['user', 'remove', 'erin']), 'Removed user erin')
  t.notMatch(await issuer(dataDir, ['user', 'list']), /^erin/m)
  await t.rejects(signIn(local, 'erin', password), /unexpected page 401/)
  const refreshed = await tokenRequest(local.issuer, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token!, client_id: 'local-spa' })
  t.equal(refreshed.status, 400)
  t.equal(refreshed.body.error, 'invalid_grant')

  // Added again, she is someone new: another subject, so no client takes her for the one removed.
  const again = printedSecret(await issuer(dataDir, ['user', 'add', 'erin']))
  t.not(claimsOf((await signIn(local, 'erin', again)).access_token).sub, claimsOf(tokens.access_token).sub)
})

t.test('client add --machine with a permission: its token carries exactly that permission; the secret is printed once and stored hashed; removed, it is refused at the token endpoint', async t => {
  const { local, dataDir, call } = await buildLocal(t)
  const added = await issuer(dataDir, ['client', 'add', 'reports-job', '--machine', '--permission', ADMIN])
  const secret = printedSecret(added)
  t.notMatch(readFileSync(join(dataDir, 'state.json'), 'utf8'), secret, 'the secret is stored only as a hash')
  t.match(await issuer(dataDir, ['client', 'list']), /^reports-job +machine +added +read:admin-messages$/m)
  const token = (client: string, clientSecret: string, scope: string) =>
    tokenRequest(local.issuer, { grant_type: 'client_credentials', client_id: client, client_secret: clientSecret, audience: local.audience, scope })

  const granted = await token('reports-job', secret, `${ADMIN} write:notes delete:everything`)
  t.equal(granted.status, 200)
  const claims = claimsOf(granted.body.access_token as string)
  t.same(claims.permissions, [ADMIN], 'its permission and no other')
  t.equal(claims.scope, ADMIN)
  t.same((await call('/api/messages/admin', granted.body.access_token as string)).json(), { message: Messages.admin })

  const wrong = await token('reports-job', `${secret}x`, ADMIN)
  t.equal(wrong.status, 401)
  t.equal(wrong.body.error, 'invalid_client')
  const hashAsSecret = await token('reports-job', (JSON.parse(readFileSync(join(dataDir, 'state.json'), 'utf8')).clients[0].hash as string), ADMIN)
  t.equal(hashAsSecret.status, 401, 'the stored hash is no secret')

  const plain = printedSecret(await issuer(dataDir, ['client', 'add', 'plain-job', '--machine']))
  const none = await token('plain-job', plain, ADMIN)
  t.equal(none.status, 200)
  t.same(claimsOf(none.body.access_token as string).permissions, [], 'a client without the permission does not get it by asking')
  t.equal((await call('/api/messages/admin', none.body.access_token as string)).statusCode, 403)
  await issuer(dataDir, ['permission', 'grant', '--client', 'plain-job', 'write:notes'])
  t.same(claimsOf((await token('plain-job', plain, 'write:notes')).body.access_token as string).permissions, ['write:notes'], 'granted to the client, it gets it')

  t.match(await issuer(dataDir, ['client', 'remove', 'reports-job']), 'Removed client reports-job')
  const removed = await token('reports-job', secret, ADMIN)
  t.equal(removed.status, 401, 'refused at the token endpoint')
  t.equal(removed.body.error, 'invalid_client')
  t.equal(removed.body.access_token, undefined)
})

t.test('client add --browser: a public client with PKCE and its redirect URIs signs users in; it gets no client_credentials; removed, its refresh token is refused', async t => {
  const { local, created, dataDir, call } = await buildLocal(t)
  const app = { id: 'my-spa', redirectUri: 'http://127.0.0.1:5055/callback' }
  const added = await issuer(dataDir, ['client', 'add', app.id, '--browser', '--redirect-uri', app.redirectUri])
  t.match(added, 'Added browser client my-spa: public (no secret)')
  t.notMatch(added, 'printed once')

  const adminPassword = created!.passwords.admin!
  const tokens = await signIn(local, 'admin', adminPassword, app)
  t.same((await call('/api/messages/admin', tokens.access_token)).json(), { message: Messages.admin }, 'admin signs in through it')

  const machine = await tokenRequest(local.issuer, { grant_type: 'client_credentials', client_id: app.id, audience: local.audience, scope: ADMIN })
  t.not(machine.status, 200, 'a browser client gets no token without a user')
  t.equal(machine.body.access_token, undefined)
  const elsewhere = await fetch(new URL(`authorize?${new URLSearchParams({ client_id: app.id, response_type: 'code', redirect_uri: 'http://127.0.0.1:5055/other', scope: 'openid', code_challenge: 'x'.repeat(43), code_challenge_method: 'S256' })}`, local.issuer), { redirect: 'manual' })
  t.equal(elsewhere.status, 400, 'only its redirect URIs')

  await issuer(dataDir, ['client', 'remove', app.id])
  const refreshed = await tokenRequest(local.issuer, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token!, client_id: app.id })
  t.equal(refreshed.status, 401)
  t.equal(refreshed.body.error, 'invalid_client')
  const start = await fetch(new URL(`authorize?${new URLSearchParams({ client_id: app.id, response_type: 'code', redirect_uri: app.redirectUri, scope: 'openid', code_challenge: 'x'.repeat(43), code_challenge_method: 'S256' })}`, local.issuer), { redirect: 'manual' })
  t.equal(start.status, 400, 'a sign-in through it is refused')
})

t.test('mistakes are refused with a message and change nothing', async t => {
  const { dataDir } = await buildLocal(t)
  await issuer(dataDir, ['user', 'add', 'frank'])
  const file = join(dataDir, 'state.json')
  const before = readFileSync(file, 'utf8')
  const mistakes: Array<[string[], RegExp]> = [
    [['user', 'add', 'frank'], /A user frank already exists/],
    [['user', 'add', 'no spaces'], /A username is 1 to 64 letters/],
    [['user', 'add', 'gina', '--permission', 'openid'], /openid is an OpenID Connect scope, not a permission/],
    [['user', 'add', 'gina', '--permission', 'two words'], /A permission is one scope-like word/],
    [['user', 'remove', 'nobody'], /No user nobody/],
    [['permission', 'grant', 'nobody', ADMIN], /No user nobody/],
    [['permission', 'grant', 'frank'], /Usage: npm run issuer -- permission grant/],
    [['permission', 'grant', '--client', 'local-machine', 'write:x'], /local-machine is built in/],
    [['client', 'add', 'x'], /needs --browser .* or --machine/],
    [['client', 'add', 'x', '--browser'], /at least one --redirect-uri/],
    [['client', 'add', 'x', '--browser', '--redirect-uri', 'javascript:alert(1)'], /must be an http\(s\) URL/],
    [['client', 'add', 'x', '--browser', '--redirect-uri', 'http://localhost:3000/#cb'], /must not have a #fragment/],
    [['client', 'add', 'local-spa', '--browser', '--redirect-uri', 'http://localhost:3000/'], /built-in client/],
    [['client', 'add', 'local-api', '--machine'], /built-in client/],
    [['client', 'remove', 'local-machine'], /built-in client and cannot be removed/],
    [['client', 'remove', 'nothing'], /No client nothing was added here/],
    [['user', 'fly'], /Unknown command "user fly"/],
    [['user', 'add', 'x', '--wat'], /Unknown option '--wat'/]
  ]
  for (const [args, message] of mistakes) await t.rejects(issuer(dataDir, args), message, args.join(' '))
  t.equal(readFileSync(file, 'utf8'), before, 'the state file is as it was')
  t.match(await issuer(dataDir, ['help']), 'Usage: npm run issuer -- <command>')
})
