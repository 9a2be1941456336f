import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Fastify from 'fastify'
import auth, { AuthError } from 'fastify-oauth-resource-server'
import { createDpopHolder, createDpopProof, dpopHeaders, forgeToken, type TestIssuer } from 'fastify-oauth-resource-server/testing'
import t, { type Test } from 'tap'
import audit, { AuditEvents } from '../../plugins/audit.js'
import { RefusalFlood } from '../../logging/refusal-flood.js'
import { bearer, build, envFor, idpFor, TEST_SERVER } from '../helper.js'

const ORIGIN = 'http://localhost'
const now = () => Math.floor(Date.now() / 1000)

/** Step-up as another guard may refuse it: an AuthError with its own reason code. */
class StepUpError extends AuthError {
  readonly statusCode = 401
  readonly code = 'FST_AUTH_STEP_UP'
  readonly reason = 'insufficient_user_authentication'
  constructor () {
    super('A stronger authentication is required', { 'www-authenticate': 'Bearer error="insufficient_user_authentication"' })
  }
}

/** The auth plugin and the audit plugin on a bare Fastify, lines collected, on a clock the test sets. */
async function setup (t: Test, idp: TestIssuer, clock = { ms: Date.parse('2026-12-07T00:00:00.250Z') }) {
  const lines: Array<Record<string, unknown>> = []
  const app = Fastify(TEST_SERVER)
  t.teardown(() => app.close())
  await app.register(audit, { destination: { write: (line: string) => { lines.push(JSON.parse(line)) } }, now: () => clock.ms })
  await app.register(auth, { issuer: idp.issuer, audience: idp.audience, keys: { fetchTimeout: 60, cooldown: 0 }, dpop: { mode: 'allowed', origin: ORIGIN } })
  app.get('/me', { onRequest: app.authenticate }, async () => ({ ok: true }))
  app.get('/admin', { onRequest: app.authenticate, preHandler: app.requireScopes('read:admin-messages') }, async () => ({ ok: true }))
  app.get('/step-up', { onRequest: app.authenticate, preHandler: async () => { throw new StepUpError() } }, async () => ({ ok: true }))
  app.get('/public', async () => ({ ok: true }))
  await app.ready()
  return { app, lines, clock }
}

const decisions = (lines: Array<Record<string, unknown>>) => lines.filter(line => line.event !== AuditEvents.keySetChanged)

t.test('access granted to a protected route: one line with time, request id, issuer, subject, client, route, outcome and reason', async t => {
  const idp = await idpFor(t)
  const { app, lines } = await setup(t, idp)
  const res = await app.inject({ url: '/me', headers: bearer(idp.sign({ sub: 'alice', azp: 'web-app' })) })
  t.equal(res.statusCode, 200)
  await app.inject({ url: '/public' })
  t.same(decisions(lines), [{
    level: 'info',
    time: '2026-12-07T00:00:00.250Z',
    event: 'access_granted',
    outcome: 'granted',
    reason: 'valid',
    reqId: 'req-1',
    route: 'GET /me',
    issuer: idp.issuer,
    subject: 'alice',
    client: 'web-app'
  }], 'a public route writes nothing')
})

t.test('a refusal: its reason code, and none of the refused token\'s claims (they are the sender\'s say-so)', async t => {
  const idp = await idpFor(t)
  const { app, lines } = await setup(t, idp)
  await app.inject({ url: '/me?access_token=SECRETVALUE', headers: bearer(idp.sign({ sub: 'mallory', azp: 'evil', exp: now() - 60 })) })
  await app.inject({ url: '/me', headers: bearer(forgeToken({ alg: 'RS256', kid: 'key-1' }, { iss: idp.issuer, aud: idp.audience, sub: 'mallory', exp: now() + 60 }, 'c2ln')) })
  await app.inject({ url: '/me' })
  t.match(decisions(lines), [
    { event: 'access_refused', outcome: 'refused', reason: 'expired', route: 'GET /me', reqId: 'req-1', issuer: null, subject: null, client: null },
    { event: 'access_refused', outcome: 'refused', reason: 'signature', subject: null },
    { event: 'access_refused', outcome: 'refused', reason: 'missing_token' }
  ])
  t.equal(decisions(lines).length, 3, 'no granted line for a refused request')
  t.notMatch(JSON.stringify(lines), /mallory|evil|SECRETVALUE/)
})

t.test('a verified token refused a permission: refused with its subject, and no granted line', async t => {
  const idp = await idpFor(t)
  const { app, lines } = await setup(t, idp)
  t.equal((await app.inject({ url: '/admin', headers: bearer(idp.sign({ sub: 'bob', client_id: 'cli' })) })).statusCode, 403)
  t.match(decisions(lines), [{ event: 'access_refused', reason: 'insufficient_scope', route: 'GET /admin', subject: 'bob', client: 'cli', issuer: idp.issuer }])
  t.equal(decisions(lines).length, 1)
})

t.test('a step-up demanded and a replayed DPoP proof are events of their own, with the reason code published', async t => {
  const idp = await idpFor(t)
  const { app, lines } = await setup(t, idp)
  await app.inject({ url: '/step-up', headers: bearer(idp.sign({ sub: 'carol' })) })
  const holder = await createDpopHolder()
  const token = idp.sign({ sub: 'dave', cnf: { jkt: holder.jkt } })
  const proof = await createDpopProof(holder, { htu: `${ORIGIN}/me`, token })
  t.equal((await app.inject({ url: '/me', headers: dpopHeaders(token, proof) })).statusCode, 200)
  t.equal((await app.inject({ url: '/me', headers: dpopHeaders(token, proof) })).statusCode, 401)
  t.match(decisions(lines), [
    { event: 'step_up_required', outcome: 'refused', reason: 'insufficient_user_authentication', subject: 'carol' },
    { event: 'access_granted', subject: 'dave' },
    { event: 'dpop_proof_replayed', outcome: 'refused', reason: 'dpop_replayed', subject: null }
  ])
})

t.test('a key set that changed is an event: the first load, then a rotation', async t => {
  const idp = await idpFor(t)
  const { app, lines } = await setup(t, idp)
  idp.rotateKey()
  t.equal((await app.inject({ url: '/me', headers: bearer(idp.sign()) })).statusCode, 200)
  t.match(lines.filter(line => line.event === AuditEvents.keySetChanged), [
    { event: 'key_set_changed', outcome: 'loaded', issuer: idp.issuer, keys: 1, added: 1, removed: 0 },
    { event: 'key_set_changed', outcome: 'loaded', issuer: idp.issuer, keys: 2, added: 1, removed: 0 }
  ])
})

t.test('a flood of refusals is summarised: ten lines per reason per second, then one count per reason', async t => {
  const idp = await idpFor(t)
  const { app, lines, clock } = await setup(t, idp)
  const expired = idp.sign({ exp: now() - 60 })
  for (let i = 0; i < 50; i++) await app.inject({ url: '/me', headers: bearer(expired) })
  for (let i = 0; i < 30; i++) await app.inject({ url: '/me' })
  t.equal(decisions(lines).length, 20, 'the first ten of each reason in the second')
  clock.ms += 1000
  await app.inject({ url: '/me' })
  t.match(decisions(lines).slice(20), [
    { event: 'access_refused_summary', outcome: 'refused', reason: 'expired', count: 40, from: '2026-12-07T00:00:00.000Z' },
    { event: 'access_refused_summary', outcome: 'refused', reason: 'missing_token', count: 20, from: '2026-12-07T00:00:00.000Z' },
    { event: 'access_refused', reason: 'missing_token', time: '2026-12-07T00:00:01.250Z' }
  ])
  t.equal(decisions(lines).length, 23)

  // The last second's count is written on close.
  for (let i = 0; i < 15; i++) await app.inject({ url: '/me' })
  await app.close()
  t.match(decisions(lines).at(-1), { event: 'access_refused_summary', reason: 'missing_token', count: 6, from: '2026-12-07T00:00:01.000Z' })
})

t.test('the flood counters are bounded whatever reasons come', async t => {
  const flood = new RefusalFlood(0)
  flood.roll(0)
  for (let i = 0; i < 10_000; i++) flood.admit(`reason-${i}`)
  const counts = flood.roll(1000)
  t.equal(counts.length, 65, '64 reasons and other')
  t.equal(counts.reduce((sum, { count }) => sum + count, 0), 10_000, 'every refusal counted')
})

t.test('through the app: AUDIT_LOG=<file> gets the events, apart from the request log', async t => {
  const idp = await idpFor(t)
  const file = join(mkdtempSync(join(tmpdir(), 'audit-')), 'audit.log')
  const app = await build(t, envFor(idp, { AUDIT_LOG: file }))
  await app.inject({ url: '/api/messages/protected', headers: bearer(idp.sign({ sub: 'alice' })) })
  await app.inject({ url: '/api/messages/admin', headers: bearer(idp.sign({ sub: 'alice' })) })
  await app.close()
  const events = readFileSync(file, 'utf8').trim().split('\n').map(line => JSON.parse(line) as Record<string, unknown>)
  t.match(events.filter(line => line.event !== AuditEvents.keySetChanged), [
    { event: 'access_granted', route: 'GET /api/messages/protected', subject: 'alice' },
    { event: 'access_refused', reason: 'insufficient_scope', route: 'GET /api/messages/admin', subject: 'alice' }
  ])
  t.match(events.find(line => line.event === AuditEvents.keySetChanged), { added: 1 })
})

t.test('AUDIT_LOG naming a file that cannot be written stops start-up naming AUDIT_LOG', async t => {
  const idp = await idpFor(t)
  const missing = join(mkdtempSync(join(tmpdir(), 'audit-')), 'no-such-dir', 'audit.log')
  await t.rejects(build(t, envFor(idp, { AUDIT_LOG: missing })), { name: 'ConfigError', message: `AUDIT_LOG names a file that cannot be appended to: ${missing} (ENOENT)` })
  await t.rejects(build(t, envFor(idp, { AUDIT_LOG: ' ' })), { name: 'ConfigError', message: /^AUDIT_LOG is set but blank/ })
})

t.test('audit is off by default: no audit plugin, nothing written', async t => {
  const idp = await idpFor(t)
  const app = await build(t, envFor(idp))
  t.equal(app.config.audit, undefined)
  t.notOk(app.hasPlugin('audit'))
})
