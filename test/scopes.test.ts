import t from 'tap'
import { bearer, build, envFor, idpFor } from './helper.js'

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
