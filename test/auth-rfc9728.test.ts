import Fastify from 'fastify'
import t from 'tap'
import app from '../app.js'
import { loadConfig } from '../config/index.js'
import { bearer, build, envFor, idpFor, TEST_SERVER } from './helper.js'

// RFC 9728: OAuth 2.0 Protected Resource Metadata, through the service.

t.test('the metadata document names the resource, its issuer, scopes, bearer methods and algorithms', async t => {
  const idp = await idpFor(t)
  const app = await build(t, envFor(idp))
  const res = await app.inject({ url: '/.well-known/oauth-protected-resource', headers: { host: 'localhost:6060' } })
  t.equal(res.statusCode, 200)
  t.same(res.json(), {
    resource: 'http://localhost:6060',
    authorization_servers: [idp.issuer],
    scopes_supported: ['read:admin-messages'],
    bearer_methods_supported: ['header'],
    resource_signing_alg_values_supported: ['RS256'],
    dpop_signing_alg_values_supported: ['ES256', 'EdDSA', 'RS256', 'PS256'],
    dpop_bound_access_tokens_required: false
  })
})

t.test('RFC 9728 §3.3: fetched at http://localhost:6060 the metadata says resource http://localhost:6060, where the challenge points', async t => {
  const app = await build(t, envFor(await idpFor(t)))
  const challenge = (await app.inject({ url: '/api/messages/protected', headers: { host: 'localhost:6060' } })).headers['www-authenticate']
  t.match(challenge, 'resource_metadata="http://localhost:6060/.well-known/oauth-protected-resource"')
  const res = await app.inject({ url: '/.well-known/oauth-protected-resource', headers: { host: 'localhost:6060' } })
  t.equal(res.json().resource, 'http://localhost:6060')
})

t.test('with PUBLIC_URL the resource and the challenge\'s pointer both name it, whatever the Host', async t => {
  const app = await build(t, envFor(await idpFor(t), { PUBLIC_URL: 'https://api.example.com' }))
  const challenge = (await app.inject({ url: '/api/messages/protected', headers: { host: 'evil.example' } })).headers['www-authenticate']
  t.match(challenge, 'resource_metadata="https://api.example.com/.well-known/oauth-protected-resource"')
  const res = await app.inject({ url: '/.well-known/oauth-protected-resource', headers: { host: 'evil.example' } })
  t.equal(res.json().resource, 'https://api.example.com')
})

t.test('401 and 403 challenges point at the metadata (§5.1), built from the request host', async t => {
  const idp = await idpFor(t)
  const app = await build(t, envFor(idp))
  const missing = await app.inject({ url: '/api/messages/protected', headers: { host: 'api.example.com' } })
  t.match(missing.headers['www-authenticate'], /, resource_metadata="http:\/\/api\.example\.com\/\.well-known\/oauth-protected-resource", DPoP realm="api", algs="[^"]+"$/)
  const invalid = await app.inject({ url: '/api/messages/protected', headers: { ...bearer('x.y.z'), host: 'api.example.com:8443' } })
  t.match(invalid.headers['www-authenticate'], 'resource_metadata="http://api.example.com:8443/.well-known/oauth-protected-resource"')
  const forbidden = await app.inject({ url: '/api/messages/admin', headers: bearer(idp.sign()) })
  t.match(forbidden.headers['www-authenticate'], /error="insufficient_scope".*resource_metadata="/)
})

t.test('behind a trusted proxy, the pointer uses the forwarded scheme and host', async t => {
  const idp = await idpFor(t)
  const server = Fastify({ ...TEST_SERVER, trustProxy: true })
  t.teardown(() => server.close())
  await server.register(app, { config: loadConfig(envFor(idp)) })
  const res = await server.inject({
    url: '/api/messages/protected',
    headers: { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'api.example.com' }
  })
  t.match(res.headers['www-authenticate'], 'resource_metadata="https://api.example.com/.well-known/oauth-protected-resource"')
  const document = await server.inject({
    url: '/.well-known/oauth-protected-resource',
    headers: { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'api.example.com' }
  })
  t.equal(document.json().resource, 'https://api.example.com', 'and the document it points at names that resource')
})

t.test('a Host that cannot be quoted safely leaves the parameter out', async t => {
  const app = await build(t, envFor(await idpFor(t)))
  const res = await app.inject({ url: '/api/messages/protected', headers: { host: 'evil.example/"x' } })
  t.equal(res.statusCode, 401)
  t.notMatch(res.headers['www-authenticate'], 'resource_metadata')
})
