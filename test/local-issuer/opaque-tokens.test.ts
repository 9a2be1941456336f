import t from 'tap'
import { Messages } from '../../routes/messages.js'
import { buildLocal } from './build-local.js'

// The local issuer also issues opaque access tokens on request (token_format=opaque), and
// the API checks them by RFC 7662 introspection at the endpoint discovery names.

t.test('an opaque token from the local issuer is checked by introspection and opens the routes its scope allows', async t => {
  const { app, local, machine, call } = await buildLocal(t)
  const discovery = await (await fetch(new URL('.well-known/openid-configuration', local.issuer))).json() as Record<string, unknown>
  t.equal(discovery.introspection_endpoint, `${local.issuer}oauth/introspect`)

  const plain = await machine({ token_format: 'opaque' })
  t.equal(plain.status, 200)
  const token = plain.body.access_token as string
  t.notOk(token.includes('.'), 'not a JWT')
  t.same((await call('/api/messages/protected', token)).json(), { message: Messages.protected })
  t.equal((await call('/api/messages/admin', token)).statusCode, 403)

  const admin = await machine({ token_format: 'opaque', scope: 'read:admin-messages' })
  t.same((await call('/api/messages/admin', admin.body.access_token as string)).json(), { message: Messages.admin })
  t.match(app.authStatus().issuers[0]?.introspection, { cachedResults: 2 })

  const unknown = await call('/api/messages/protected', 'not-a-token-the-issuer-made')
  t.equal(unknown.statusCode, 401)
  t.match(unknown.headers['www-authenticate'], 'The access token is not active')
})

t.test('only the API may introspect: another client learns nothing about a token', async t => {
  const { local, state, machine } = await buildLocal(t)
  const token = (await machine({ token_format: 'opaque' })).body.access_token as string
  const response = await fetch(new URL('oauth/introspect', local.issuer), {
    method: 'POST',
    body: new URLSearchParams({ token, client_id: 'local-machine', client_secret: state.machineClientSecret })
  })
  t.same(await response.json(), { active: false })
})
