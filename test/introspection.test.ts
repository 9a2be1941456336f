import { randomBytes } from 'node:crypto'
import t from 'tap'
import { startIntrospectionServer } from 'fastify-oauth-resource-server/testing'
import { bearer, build, envFor, idpFor } from './helper.js'

// Opaque tokens introspected at an external issuer, through the service's own variables.

t.test('INTROSPECTION_MAX_CALLS_PER_SECOND bounds the calls a flood of random opaque tokens makes; a known token still answers', async t => {
  const idp = await idpFor(t)
  const as = await startIntrospectionServer({ issuer: idp.issuer, audience: idp.audience })
  t.teardown(() => as.close())
  // 0.01 a second: one call, then none for 100 s, far longer than this test.
  const app = await build(t, envFor(idp, {
    INTROSPECTION_CLIENT_ID: as.clientId,
    INTROSPECTION_CLIENT_SECRET: as.clientSecret,
    INTROSPECTION_ENDPOINT: as.endpoint,
    INTROSPECTION_MAX_CALLS_PER_SECOND: '0.01'
  }))
  const call = (token: string) => app.inject({ url: '/api/messages/protected', headers: bearer(token) })
  const known = as.issue()
  t.equal((await call(known)).statusCode, 200)
  for (let i = 0; i < 50; i++) {
    const res = await call(randomBytes(24).toString('base64url'))
    t.equal(res.statusCode, 503)
    t.ok(Number(res.headers['retry-after']) >= 1)
  }
  t.equal(as.calls, 1, 'fifty random tokens, no call past the rate')
  t.equal((await call(known)).statusCode, 200, 'the cached result still answers')
})
