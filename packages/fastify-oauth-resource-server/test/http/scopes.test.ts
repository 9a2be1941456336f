import Fastify from 'fastify'
import t from 'tap'
import auth from '../../src/index.js'
import { bearer, buildBare, idpFor } from '../helper.js'

t.test('requireScopes needs every listed permission', async t => {
  const idp = await idpFor(t)
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(auth, { issuer: idp.issuer, audience: idp.audience })
  app.get('/both', { onRequest: app.authenticate, preHandler: app.requireScopes('a:x', 'b:y') }, async () => ({ ok: true }))
  const call = async (scope: string) => (await app.inject({ url: '/both', headers: bearer(idp.sign({ scope })) })).statusCode
  t.equal(await call('a:x b:y'), 200)
  t.equal(await call('a:x'), 403)
  t.equal(await call('b:y'), 403)
  const res = await app.inject({ url: '/both', headers: bearer(idp.sign({ scope: 'a:x' })) })
  t.match(res.headers['www-authenticate'], 'scope="a:x b:y"')
})

t.test('requireAnyScope needs one of the listed permissions', async t => {
  const idp = await idpFor(t)
  const app = await buildBare(t, idp)
  const call = async (scope: string) => (await app.inject({ url: '/any', headers: bearer(idp.sign({ scope })) })).statusCode
  t.equal(await call('a:x'), 200)
  t.equal(await call('b:y'), 200)
  t.equal(await call('c:z'), 403)
})

t.test('a scope guard without authenticate fails closed', async t => {
  const idp = await idpFor(t)
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(auth, { issuer: idp.issuer, audience: idp.audience })
  app.get('/forgot', { preHandler: app.requireScopes('a:x') }, async () => ({ ok: true }))
  const res = await app.inject({ url: '/forgot', headers: bearer(idp.sign({ scope: 'a:x' })) })
  t.equal(res.statusCode, 401)
})

t.test('requireScopes refuses an empty list or a malformed scope at registration', async t => {
  const idp = await idpFor(t)
  const app = await buildBare(t, idp)
  t.throws(() => app.requireScopes(), /at least one/)
  t.throws(() => app.requireScopes('a b'), /not a valid scope/)
  t.throws(() => app.requireScopes('a"b'), /not a valid scope/)
  t.throws(() => app.requireAnyScope(''), /not a valid scope/)
})
