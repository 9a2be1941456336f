import Fastify from 'fastify'
import t from 'tap'
import auth from '../src/index.js'
import { buildBare, idpFor } from './helper.js'

// RFC 9728: OAuth 2.0 Protected Resource Metadata, as the plugin offers it.

t.test('the metadata is opt-in for other apps', async t => {
  const idp = await idpFor(t)
  const off = await buildBare(t, idp)
  t.equal((await off.inject('/.well-known/oauth-protected-resource')).statusCode, 404)
  t.equal((await off.inject('/me')).headers['www-authenticate'], 'Bearer realm="api"')

  const on = Fastify()
  t.teardown(() => on.close())
  await on.register(auth, { issuer: idp.issuer, audience: idp.audience, resourceMetadata: true, algorithms: ['RS256', 'ES256'] })
  on.get('/me', { onRequest: on.authenticate }, async () => ({}))
  const document = (await on.inject('/.well-known/oauth-protected-resource')).json()
  t.same(document.scopes_supported, [])
  t.same(document.resource_signing_alg_values_supported, ['RS256', 'ES256'])
  t.match((await on.inject('/me')).headers['www-authenticate'], 'resource_metadata=')
})

t.test('the metadata lists every trusted issuer as an authorization server, in the configured order', async t => {
  const a = await idpFor(t, { audience: 'https://api-a.example.com' })
  const b = await idpFor(t, { audience: 'https://api-b.example.com' })
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(auth, {
    issuers: [{ issuer: a.issuer, audience: a.audience }, { issuer: b.issuer, audience: b.audience, algorithms: ['ES256'] }],
    resourceMetadata: true
  })
  const document = (await app.inject('/.well-known/oauth-protected-resource')).json()
  t.same(document.authorization_servers, [a.issuer, b.issuer])
  t.equal(document.resource, a.audience)
  t.same(document.resource_signing_alg_values_supported, ['RS256', 'ES256'])
})
