import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import t from 'tap'
import { Messages } from '../routes/messages.js'
import { authorize, tokenRequest } from './fixtures/local-login.js'
import { bearer, repositoryFile } from './helper.js'
import { buildLocal } from './local-issuer/build-local.js'

// The local issuer's page (docs/local-issuer.md), which the README links to for signing in.
const PAGE = readFileSync(repositoryFile('docs/local-issuer.md'), 'utf8')

t.test('the local issuer page\'s authorization URL signs a user in on the local issuer, and its PKCE verifier redeems the code', async t => {
  const line = PAGE.split('\n').find(text => text.startsWith('http://127.0.0.1:6061/authorize?'))
  if (line === undefined) return t.fail('the local issuer page shows an authorization URL for the local issuer')
  const example = new URL(line)
  const verifier = /example verifier\s+`([\w-]+)`/.exec(PAGE)?.[1]
  if (verifier === undefined) return t.fail('the local issuer page names the PKCE verifier it used')
  const params = Object.fromEntries(example.searchParams)
  t.equal(createHash('sha256').update(verifier).digest('base64url'), params.code_challenge, 'the challenge is the verifier\'s S256')

  // The page's defaults: the API's audience and the Auth0 sample SPA's origin.
  const { app, local, created } = await buildLocal(t, { CLIENT_ORIGIN_URL: 'http://localhost:4040' })
  t.equal(params.audience, local.audience)
  const password = created!.passwords.admin!
  const { code } = await authorize({
    issuer: local.issuer,
    clientId: params.client_id!,
    redirectUri: params.redirect_uri!,
    audience: params.audience!,
    scope: params.scope!,
    username: 'admin',
    password
  }, { verifier, challenge: params.code_challenge! })
  const tokens = await tokenRequest(local.issuer, {
    grant_type: 'authorization_code', code, redirect_uri: params.redirect_uri!, client_id: params.client_id!, code_verifier: verifier
  })
  t.equal(tokens.status, 200)
  const res = await app.inject({ url: '/api/messages/admin', headers: bearer(tokens.body.access_token as string) })
  t.same(res.json(), { message: Messages.admin })
})
