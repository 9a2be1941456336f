import t from 'tap'
import Fastify from 'fastify'
import auth from '../../../plugins/auth/index.js'
import { bearer, build, buildBare, envFor, idpFor } from '../../helper.js'

const ADMIN = '/api/messages/admin'

t.test('read:admin-messages is granted by the permissions array or the scope string', async t => {
  const idp = await idpFor(t)
  const app = await build(t, envFor(idp))
  for (const claims of [
    { permissions: ['read:admin-messages'] },
    { permissions: ['read:messages', 'read:admin-messages'] },
    { scope: 'read:admin-messages' },
    { scope: 'openid profile read:admin-messages' },
    { scope: 'openid', permissions: ['read:admin-messages'] }
  ]) {
    const res = await app.inject({ url: ADMIN, headers: bearer(idp.sign(claims)) })
    t.equal(res.statusCode, 200, JSON.stringify(claims))
  }
})

t.test('permission look-alikes are not granted', async t => {
  const idp = await idpFor(t)
  const app = await build(t, envFor(idp))
  for (const claims of [
    {},
    { permissions: [] },
    { permissions: ['read:admin-messages:all'] },
    { permissions: ['read:admin'] },
    { permissions: ['READ:ADMIN-MESSAGES'] },
    { permissions: ['read:admin-messages '] },
    { permissions: [' read:admin-messages'] },
    { permissions: 'read:admin-messages' },
    { permissions: [['read:admin-messages']] },
    { permissions: { 'read:admin-messages': true } },
    { scope: 'read:admin-messagesx' },
    { scope: 'xread:admin-messages' },
    { scope: 'read:admin-messages,openid' },
    { scope: 'Read:Admin-Messages' },
    { scope: ['read:admin-messages'] },
    { scp: 'read:admin-messages' },
    { scp: ['read:admin-messages'] },
    { roles: ['read:admin-messages'] }
  ]) {
    const res = await app.inject({ url: ADMIN, headers: bearer(idp.sign(claims)) })
    t.equal(res.statusCode, 403, JSON.stringify(claims))
  }
})

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
