import { spawnSync } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import { forgeToken } from 'fastify-oauth-resource-server/testing'
import t from 'tap'
import { createMetricsServer } from '../../metrics/metrics-server.js'
import { programPath, requires } from '../fixtures/requires.js'
import { bearer, build, envFor, idpFor } from '../helper.js'

// METRICS_PORT turns the metrics on; the tests scrape through the metrics server's inject.
const METRICS = { METRICS_PORT: '0' }
// A cooldown of 0 lets an unknown kid refetch the keys at once (0 reads the same in ms or seconds).
const NO_COOLDOWN = { keys: { cooldown: 0 } }
const now = () => Math.floor(Date.now() / 1000)

async function scrape (app: FastifyInstance): Promise<string> {
  const server = createMetricsServer(app.metrics!, app.log)
  const res = await server.inject({ url: '/metrics' })
  await server.close()
  if (res.statusCode !== 200) throw new Error(`scrape: ${res.statusCode}`)
  return res.body
}

/** The value of one sample; labels given must match exactly those of the line. */
function sample (text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const wanted = Object.entries(labels).map(([label, value]) => `${label}="${value}"`).join(',')
  const prefix = wanted === '' ? `${name} ` : `${name}{${wanted}} `
  const line = text.split('\n').find(each => each.startsWith(prefix))
  if (line === undefined) return undefined
  const value = line.slice(prefix.length)
  return value === '+Inf' ? Infinity : value === '-Inf' ? -Infinity : Number(value)
}

/** Every series of the service's own metrics (not Node's process metrics), by name and labels. */
function ownSeries (text: string): string[] {
  return text.split('\n').filter(line => /^(http_request_duration_seconds|oauth_)/.test(line)).map(line => line.replace(/ \S+$/, '')).sort()
}

/** promtool check metrics (Debian package prometheus) on a scrape; a test that calls it has requires('promtool'). */
function promtool (text: string) {
  const result = spawnSync(programPath('promtool'), ['check', 'metrics'], { input: text, encoding: 'utf8' })
  if (result.error !== undefined) throw result.error
  return result
}

t.test('the scrape passes promtool check metrics, after every kind of request', async t => {
  const idp = await idpFor(t)
  const app = await build(t, envFor(idp, METRICS))
  const token = idp.sign()
  await app.inject({ url: '/api/messages/public' })
  await app.inject({ url: '/api/messages/protected', headers: bearer(token) })
  await app.inject({ url: '/api/messages/protected', headers: bearer(token) })
  await app.inject({ url: '/api/messages/protected', headers: bearer(idp.sign({ exp: now() - 60 })) })
  await app.inject({ url: '/api/messages/admin', headers: bearer(token) })
  await app.inject({ url: '/api/messages/protected' })
  await app.inject({ url: '/no/such/route' })
  await app.inject({ method: 'OPTIONS', url: '/api/messages/public', headers: { origin: 'http://localhost:4040', 'access-control-request-method': 'GET' } })
  const text = await scrape(app)
  await t.test('promtool check metrics passes it, with no lint finding', requires('promtool'), async t => {
    const result = promtool(text)
    t.equal(result.status, 0, `promtool: ${result.stdout}${result.stderr}`)
    t.equal(result.stdout + result.stderr, '', 'no lint finding')
  })
  t.equal(sample(text, 'http_request_duration_seconds_count', { route: '/api/messages/protected', method: 'GET', status_code: '200' }), 2)
  t.equal(sample(text, 'http_request_duration_seconds_count', { route: '/api/messages/admin', method: 'GET', status_code: '403' }), 1)
  t.equal(sample(text, 'http_request_duration_seconds_count', { route: 'unmatched', method: 'GET', status_code: '404' }), 1)
  t.equal(sample(text, 'oauth_auth_decisions_total', { outcome: 'accepted', reason: 'valid' }), 3, 'the cached token counts too, and the admin request\'s token')
  t.equal(sample(text, 'oauth_auth_decisions_total', { outcome: 'refused', reason: 'insufficient_scope' }), 1)
  t.equal(sample(text, 'oauth_auth_decisions_total', { outcome: 'refused', reason: 'missing_token' }), 1)
  // Cached from its second verification: the admin request is the one hit.
  t.equal(sample(text, 'oauth_token_cache_lookups_total', { result: 'hit' }), 1)
  t.equal(sample(text, 'oauth_token_cache_entries'), 1)
  t.equal(sample(text, 'oauth_key_fetches_total', { document: 'jwks', result: 'ok' }), 1)
  t.equal(sample(text, 'oauth_key_fetches_total', { document: 'discovery', result: 'ok' }), 1)
  t.equal(sample(text, 'oauth_key_fetch_duration_seconds_count', { document: 'jwks' }), 1)
  t.equal(sample(text, 'oauth_keys_loaded'), 1)
  t.match(text, /^process_cpu_seconds_total \d/m, 'Node\'s process metrics are there too')
  for (const name of ['process_resident_memory_bytes', 'process_start_time_seconds', 'nodejs_eventloop_lag_seconds', 'nodejs_heap_size_used_bytes', 'nodejs_active_handles', 'nodejs_version_info']) {
    t.match(text, new RegExp(`^# TYPE ${name} `, 'm'), `${name}, one of prom-client's default metrics`)
  }
  t.notMatch(text, 'nodejs_gc_duration_seconds', 'not the GC histogram, which costs per request (docs/operations.md, Observability)')
})

t.test('promtool catches what the check is for: a counter without _total fails it', requires('promtool'), async t => {
  const result = promtool('# HELP requests Requests.\n# TYPE requests counter\nrequests 1\n')
  t.not(result.status, 0)
  t.match(result.stdout + result.stderr, /counter metrics should have "_total" suffix/)
})

t.test('a 401 for an expired token bumps the expired reason, and nothing else', async t => {
  const idp = await idpFor(t)
  const app = await build(t, envFor(idp, METRICS))
  const before = await scrape(app)
  const res = await app.inject({ url: '/api/messages/protected', headers: bearer(idp.sign({ exp: now() - 60 })) })
  t.equal(res.statusCode, 401)
  const after = await scrape(app)
  const expired = { outcome: 'refused', reason: 'expired' }
  t.equal(sample(before, 'oauth_auth_decisions_total', expired), 0)
  t.equal(sample(after, 'oauth_auth_decisions_total', expired), 1)
  t.equal(sample(after, 'oauth_auth_decisions_total', { outcome: 'refused', reason: 'signature' }), 0)
  t.equal(sample(after, 'oauth_auth_decisions_total', { outcome: 'accepted', reason: 'valid' }), 0)
  t.equal(sample(after, 'http_request_duration_seconds_count', { route: '/api/messages/protected', method: 'GET', status_code: '401' }), 1)
})

t.test('an identity-provider outage bumps the fetch failures, keeps the last keys, and the key-set age grows', async t => {
  const idp = await idpFor(t)
  const app = await build(t, envFor(idp, METRICS), { authOptions: NO_COOLDOWN })
  const before = await scrape(app)
  idp.fault = 'down'
  const unknownKid = idp.sign({}, { header: { kid: 'rotated-in-during-the-outage' } })
  t.equal((await app.inject({ url: '/api/messages/protected', headers: bearer(unknownKid) })).statusCode, 503)
  t.equal((await app.inject({ url: '/api/messages/protected', headers: bearer(idp.sign()) })).statusCode, 200, 'the last good key still verifies')
  let during = await scrape(app)
  const age = (text: string) => sample(text, 'oauth_key_set_age_seconds')!
  for (let i = 0; i < 100 && age(during) <= age(before); i++) {
    await new Promise(resolve => setTimeout(resolve, 10))
    during = await scrape(app)
  }

  // With no cooldown the key store also retries in the background: at least one failure each.
  const failed = { document: 'jwks', result: 'network_error' }
  t.equal(sample(before, 'oauth_key_fetches_total', failed), 0)
  t.ok(sample(during, 'oauth_key_fetches_total', failed)! >= 1, 'the fetch failure is counted')
  t.ok(sample(during, 'oauth_key_set_refreshes_total', { result: 'failed' })! >= 1, 'so is the failed refresh')
  t.equal(sample(during, 'oauth_keys_loaded'), 1, 'the last good key is kept')
  t.equal(sample(during, 'oauth_auth_decisions_total', { outcome: 'refused', reason: 'keys_unavailable' }), 1)
  t.ok(age(during) > age(before), `the key-set age grows: ${age(before)} → ${age(during)}`)

  idp.fault = 'none'
  const recovery = performance.now()
  await app.inject({ url: '/api/messages/protected', headers: bearer(idp.sign({}, { header: { kid: 'another-unknown' } })) })
  const recovered = await scrape(app)
  const sinceRecovery = (performance.now() - recovery) / 1000
  t.ok(sample(recovered, 'oauth_key_set_refreshes_total', { result: 'loaded' })! >= 2, 'a good refresh after the outage')
  // Not yet reset, the age would count the outage too: more than the time since the recovery began.
  t.ok(age(recovered) <= sinceRecovery, `a good fetch resets the age: ${age(recovered)} s, ${sinceRecovery.toFixed(3)} s since the recovery began`)
})

t.test('an attacker\'s random paths, methods and tokens add no series and no label value of theirs', async t => {
  const idp = await idpFor(t)
  const app = await build(t, envFor(idp, METRICS), { authOptions: NO_COOLDOWN })
  const claims = () => ({ iss: idp.issuer, aud: idp.audience, exp: now() + 60 })
  const attack = async (secret: string) => {
    await app.inject({ url: `/${secret}/${secret}?${secret}=1` })
    await app.inject({ method: 'DELETE', url: `/api/messages/${secret}` })
    await app.inject({ url: `/api/messages/protected?${secret}`, headers: bearer(forgeToken({ alg: 'RS256', kid: secret }, claims(), 'c2ln')) })
    await app.inject({ url: '/api/messages/protected', headers: bearer(`${secret}.${secret}.${secret}`) })
  }
  // One round first: the status codes an attacker can cause have their series from then on.
  await attack(randomUUID())
  const settled = ownSeries(await scrape(app))
  const secrets = Array.from({ length: 100 }, () => randomUUID())
  for (const secret of secrets) await attack(secret)
  const text = await scrape(app)
  t.same(ownSeries(text), settled, `still ${settled.length} series`)
  for (const secret of secrets.slice(0, 20)) t.notMatch(text, secret)
  t.equal(sample(text, 'http_request_duration_seconds_count', { route: 'unmatched', method: 'GET', status_code: '404' }), 101)
  t.equal(sample(text, 'http_request_duration_seconds_count', { route: 'unmatched', method: 'DELETE', status_code: '404' }), 101)
})

t.test('the metrics are not served on the API\'s port', async t => {
  const idp = await idpFor(t)
  const app = await build(t, envFor(idp, METRICS))
  const res = await app.inject({ url: '/metrics' })
  t.equal(res.statusCode, 404)
  t.notMatch(res.body, 'oauth_')
})

t.test('without METRICS_PORT the metrics are off: no registry, no hooks', async t => {
  const idp = await idpFor(t)
  const app = await build(t, envFor(idp))
  t.notOk(app.hasDecorator('metrics'))
  t.equal((await app.inject({ url: '/metrics' })).statusCode, 404)
})

t.test('the metrics server answers GET /metrics only', async t => {
  const idp = await idpFor(t)
  const app = await build(t, envFor(idp, METRICS))
  const server = createMetricsServer(app.metrics!, app.log)
  t.teardown(() => server.close())
  const res = await server.inject({ url: '/metrics' })
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /^text\/plain; version=0\.0\.4/)
  t.equal((await server.inject({ url: '/api/messages/public' })).statusCode, 404)
})

t.test('started while the identity provider is down: no keys, an infinite key-set age, the failed discovery counted', async t => {
  const idp = await idpFor(t)
  idp.fault = 'down'
  const app = await build(t, envFor(idp, METRICS))
  const text = await scrape(app)
  t.equal(sample(text, 'oauth_keys_loaded'), 0)
  t.equal(sample(text, 'oauth_key_set_age_seconds'), Infinity)
  t.match(text, /^oauth_key_set_age_seconds \+Inf$/m)
  t.equal(sample(text, 'oauth_key_fetches_total', { document: 'discovery', result: 'network_error' }), 1)
  t.equal(sample(text, 'oauth_key_set_refreshes_total', { result: 'failed' }), 1)
  await t.test('promtool accepts its +Inf and NaN samples', requires('promtool'), async t => {
    t.equal(promtool(text).status, 0)
  })
})
