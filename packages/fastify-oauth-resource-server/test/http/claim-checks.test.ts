import Fastify, { type FastifyInstance } from 'fastify'
import type { Test } from 'tap'
import t from 'tap'
import auth from '../../src/index.js'
import type { TestIssuer } from '../../src/testing/index.js'
import { bearer, idpFor } from '../helper.js'

// Claim checks: route guards over claims other than scopes. A verified token that fails one
// gets 403 insufficient_scope without a scope parameter; no verified token, 401.

async function buildChecks (t: Test): Promise<{ app: FastifyInstance, idp: TestIssuer }> {
  const idp = await idpFor(t)
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(auth, { issuer: idp.issuer, audience: idp.audience })
  const onRequest = app.authenticate
  app.get('/org', { onRequest, preHandler: app.requireClaimEquals('org_id', 'org_123') }, async () => ({ ok: true }))
  app.get('/verified', { onRequest, preHandler: app.requireClaimEquals('email_verified', true) }, async () => ({ ok: true }))
  app.get('/mfa', { onRequest, preHandler: app.requireClaimIncludes('amr', 'pwd', 'mfa') }, async () => ({ ok: true }))
  app.get('/tenant', { onRequest, preHandler: app.requireClaims(claims => claims.tid === 'contoso' && claims.ver === '2.0') }, async () => ({ ok: true }))
  app.get('/throws', { onRequest, preHandler: app.requireClaims(claims => (claims.groups as string[]).includes('staff')) }, async () => ({ ok: true }))
  app.get('/forgot', { preHandler: app.requireClaimEquals('org_id', 'org_123') }, async () => ({ ok: true }))
  await app.ready()
  return { app, idp }
}

t.test('requireClaimEquals lets an equal claim through and refuses a different one with 403 insufficient_scope', async t => {
  const { app, idp } = await buildChecks(t)
  t.equal((await app.inject({ url: '/org', headers: bearer(idp.sign({ org_id: 'org_123' })) })).statusCode, 200)
  const res = await app.inject({ url: '/org', headers: bearer(idp.sign({ org_id: 'org_456' })) })
  t.equal(res.statusCode, 403)
  t.equal(res.headers['www-authenticate'], 'Bearer realm="api", error="insufficient_scope", error_description="The access token does not grant access to this resource"')
  t.equal(res.json().code, 'FST_AUTH_CLAIM_CHECK')
  t.equal((await app.inject({ url: '/verified', headers: bearer(idp.sign({ email_verified: true })) })).statusCode, 200)
})

t.test('a claim check on a missing claim, or a claim of another type, is 403: never coerced, never a 500', async t => {
  const { app, idp } = await buildChecks(t)
  for (const [url, claims] of [
    ['/org', {}],
    ['/org', { org_id: ['org_123'] }],
    ['/org', { org_id: { id: 'org_123' } }],
    ['/org', { org_id: 'ORG_123' }],
    ['/org', { org: { id: 'org_123' } }],
    ['/verified', {}],
    ['/verified', { email_verified: 'true' }],
    ['/verified', { email_verified: 1 }],
    ['/mfa', {}],
    ['/mfa', { amr: 'pwd' }],
    ['/mfa', { amr: ['pwd'] }],
    ['/mfa', { amr: 'pwdmfa' }],
    ['/mfa', { amr: [['pwd', 'mfa']] }],
    ['/mfa', { amr: { pwd: true, mfa: true } }],
    ['/mfa', { amr: 42 }],
    ['/tenant', { tid: 'contoso' }],
    ['/tenant', { tid: ['contoso'], ver: '2.0' }],
    ['/throws', {}],
    ['/throws', { groups: 42 }]
  ] as const) {
    const res = await app.inject({ url, headers: bearer(idp.sign(claims)) })
    t.equal(res.statusCode, 403, `${url} ${JSON.stringify(claims)}`)
  }
})

t.test('requireClaimIncludes takes an array or a space-separated string holding every value', async t => {
  const { app, idp } = await buildChecks(t)
  for (const amr of [['pwd', 'mfa'], ['otp', 'mfa', 'pwd'], 'pwd mfa', 'mfa hwk pwd']) {
    t.equal((await app.inject({ url: '/mfa', headers: bearer(idp.sign({ amr })) })).statusCode, 200, JSON.stringify(amr))
  }
})

t.test('requireClaims runs a predicate over the verified claims; only true passes, a throw refuses', async t => {
  const { app, idp } = await buildChecks(t)
  t.equal((await app.inject({ url: '/tenant', headers: bearer(idp.sign({ tid: 'contoso', ver: '2.0' })) })).statusCode, 200)
  t.equal((await app.inject({ url: '/throws', headers: bearer(idp.sign({ groups: ['staff'] })) })).statusCode, 200)
  t.equal((await app.inject({ url: '/throws', headers: bearer(idp.sign({})) })).statusCode, 403, 'the predicate threw on a missing claim')
})

t.test('a claim check without authenticate, or without a token, fails closed with 401', async t => {
  const { app, idp } = await buildChecks(t)
  t.equal((await app.inject({ url: '/forgot', headers: bearer(idp.sign({ org_id: 'org_123' })) })).statusCode, 401)
  t.equal((await app.inject({ url: '/org' })).statusCode, 401)
})

t.test('a claim inherited from a polluted Object.prototype passes no check', async t => {
  const { app, idp } = await buildChecks(t)
  const proto = Object.prototype as Record<string, unknown>
  for (const [name, value] of [['org_id', 'org_123'], ['amr', ['pwd', 'mfa']]] as const) {
    Object.defineProperty(proto, name, { value, configurable: true, writable: true })
    t.teardown(() => { delete proto[name] })
  }
  t.equal((await app.inject({ url: '/org', headers: bearer(idp.sign({})) })).statusCode, 403)
  t.equal((await app.inject({ url: '/mfa', headers: bearer(idp.sign({})) })).statusCode, 403)
})

t.test('a claim check with a bad argument fails when the route is declared, naming the guard', async t => {
  const idp = await idpFor(t)
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(auth, { issuer: idp.issuer, audience: idp.audience })
  t.throws(() => app.requireClaimEquals('', 'x'), /requireClaimEquals: the claim name/)
  t.throws(() => app.requireClaimEquals('__proto__', 'x'), /requireClaimEquals: the claim name names "__proto__"/)
  t.throws(() => app.requireClaimEquals('org_id', { id: 1 } as never), /must be a string, a finite number, a boolean or null/)
  t.throws(() => app.requireClaimEquals('n', Number.NaN), /finite number/)
  t.throws(() => app.requireClaimIncludes('amr'), /needs at least one value/)
  t.throws(() => app.requireClaimIncludes('amr', 1 as never), /is not a non-empty string/)
  t.throws(() => app.requireClaims('yes' as never), /requireClaims needs a predicate/)
})
