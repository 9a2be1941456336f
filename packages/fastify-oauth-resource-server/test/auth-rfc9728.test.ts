import Fastify, { type FastifyInstance, type InjectOptions } from 'fastify'
import t, { type Test } from 'tap'
import auth, { type AuthOptions } from '../src/index.js'
import { bearer, buildBare, idpFor } from './helper.js'

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
  t.equal(document.resource, 'http://localhost:80', 'the origin it was fetched at, not an audience')
  t.same(document.resource_signing_alg_values_supported, ['RS256', 'ES256'])
})

/** The plugin with metadata on, behind `trustProxy` if given; /me needs a token. */
async function withMetadata (t: Test, options: Partial<AuthOptions> = {}, trustProxy?: string): Promise<FastifyInstance> {
  const idp = await idpFor(t)
  const app = Fastify(trustProxy === undefined ? {} : { trustProxy })
  t.teardown(() => app.close())
  await app.register(auth, { issuer: idp.issuer, audience: idp.audience, resourceMetadata: true, ...options })
  app.get('/me', { onRequest: app.authenticate }, async () => ({}))
  await app.ready()
  return app
}

/**
 * What a client does (RFC 9728 §5.1, §3.3): reads resource_metadata from a 401's challenge,
 * fetches the document there, and keeps it only if its resource is the URL it fetched it for.
 */
async function followChallenge (app: FastifyInstance, request: InjectOptions) {
  const res = await app.inject({ ...request, url: '/me' })
  const pointer = /resource_metadata="([^"]+)"/.exec(String(res.headers['www-authenticate']))?.[1]
  if (pointer === undefined) return { pointer }
  const url = new URL(pointer)
  const document = (await app.inject({ ...request, url: url.pathname })).json()
  return { pointer, fetchedFor: url.origin, resource: document.resource as string }
}

t.test('RFC 9728 §3.3: the resource is the origin the metadata was fetched at, and the challenge points there', async t => {
  const app = await withMetadata(t)
  for (const host of ['localhost:6060', 'api.example.com', '127.0.0.1:8443', '[::1]:6060']) {
    const { pointer, fetchedFor, resource } = await followChallenge(app, { headers: { host } })
    t.equal(pointer, `http://${host}/.well-known/oauth-protected-resource`, `${host}: the challenge's pointer`)
    t.equal(resource, fetchedFor, `${host}: resource is the URL the client fetched it for`)
  }
  const document = (await app.inject({ url: '/.well-known/oauth-protected-resource', headers: { host: 'localhost:6060' } })).json()
  t.equal(document.resource, 'http://localhost:6060')
})

t.test('resourceMetadata.resource names the resource whatever the Host; the challenge points at its metadata', async t => {
  const app = await withMetadata(t, { resourceMetadata: { resource: 'https://api.example.com/' } })
  const { pointer, fetchedFor, resource } = await followChallenge(app, { headers: { host: 'evil.example' } })
  t.equal(pointer, 'https://api.example.com/.well-known/oauth-protected-resource')
  t.equal(resource, 'https://api.example.com')
  t.equal(resource, fetchedFor)
})

t.test('behind a trusted proxy the forwarded scheme and host name the resource; from any other peer they are ignored', async t => {
  const app = await withMetadata(t, {}, '10.0.0.0/8')
  const forwarded = { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'api.example.com', host: 'internal:6060' }
  const viaProxy = await followChallenge(app, { headers: forwarded, remoteAddress: '10.1.2.3' })
  t.equal(viaProxy.pointer, 'https://api.example.com/.well-known/oauth-protected-resource')
  t.equal(viaProxy.resource, 'https://api.example.com')
  const direct = await followChallenge(app, { headers: { ...forwarded, 'x-forwarded-host': 'evil.example' }, remoteAddress: '192.0.2.7' })
  t.equal(direct.pointer, 'http://internal:6060/.well-known/oauth-protected-resource', 'a client that is no trusted proxy cannot name another host')
  t.equal(direct.resource, 'http://internal:6060')
})

t.test('a Host that is no host name gets no pointer and no document', async t => {
  const app = await withMetadata(t)
  const challenged = await app.inject({ url: '/me', headers: { ...bearer('x.y.z'), host: 'evil.example/"x' } })
  t.equal(challenged.statusCode, 401)
  t.notMatch(challenged.headers['www-authenticate'], 'resource_metadata')
  const res = await app.inject({ url: '/.well-known/oauth-protected-resource', headers: { host: 'evil.example/"x' } })
  t.equal(res.statusCode, 400)
  t.notMatch(res.body, 'evil')
})

t.test('a resourceMetadata.resource that is not an origin stops registration naming the option', async t => {
  const idp = await idpFor(t)
  for (const resource of ['api.example.com', 'https://api.example.com/v1', 'ftp://api.example.com', 'https://api.example.com#x', 42 as unknown as string]) {
    const app = Fastify()
    await t.rejects(async () => {
      await app.register(auth, { issuer: idp.issuer, audience: idp.audience, resourceMetadata: { resource } }).ready()
    }, /option resourceMetadata\.resource must be the origin clients call/, JSON.stringify(resource))
    await app.close()
  }
})
