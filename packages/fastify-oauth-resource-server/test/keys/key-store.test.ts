import { randomUUID } from 'node:crypto'
import t, { type Test } from 'tap'
import { Rejections } from '../../src/claims/rejections.js'
import { createKeyPair, forgeToken, type Fault, type TestIssuer } from '../../src/testing/index.js'
import { bearer, buildBare, idpFor, sleep, testKeyPair, until, type LogRecord } from '../helper.js'

// A short cooldown so the suite runs in seconds; the defaults are documented in the README.
// Where a fetch must succeed, buildBare's fetch timeout (60 s) applies: a loaded machine can
// take longer than a short one to answer on loopback. CUT_OFF is for a provider that never
// answers, where the timeout firing is what is tested.
const FAST = { cooldown: 0.2, maxAge: 60 }
const CUT_OFF = { ...FAST, fetchTimeout: 0.3 }

/** The plugin with CUT_OFF, once it holds the keys: on a loaded machine the first fetches may miss the short timeout, and it retries every cooldown. */
async function buildCutOff (t: Test, idp: TestIssuer, logs?: LogRecord[]) {
  const app = await buildBare(t, idp, { keys: CUT_OFF }, logs)
  t.ok(await until(() => app.authStatus().keysLoaded), 'the keys are loaded before the provider slows down')
  logs?.splice(0)
  return app
}
const AFTER_COOLDOWN = FAST.cooldown * 1000 + 50
/** Cooldown windows begun since `started` (ms): a bound on fetches that holds however slowly the test runs. */
const windowsSince = (started: number) => Math.ceil((Date.now() - started) / (FAST.cooldown * 1000))
const WARN = 40

t.test('keys are fetched once at start-up and then served from the cache', async t => {
  const idp = await idpFor(t)
  const app = await buildBare(t, idp)
  t.equal(idp.requests.discovery, 1)
  t.equal(idp.requests.jwks, 1)
  for (let i = 0; i < 50; i++) {
    const res = await app.inject({ url: '/me', headers: bearer(idp.sign({ sub: `user-${i}` })) })
    t.equal(res.statusCode, 200)
  }
  t.equal(idp.requests.jwks, 1, 'no fetch for 50 distinct tokens')
  t.equal(idp.requests.discovery, 1, 'discovery is cached too')
})

t.test('rotation: a newly published key works on the first request that carries it, with one shared fetch', async t => {
  const idp = await idpFor(t)
  const app = await buildBare(t, idp, { keys: FAST })
  await sleep(AFTER_COOLDOWN)
  const next = testKeyPair('key-2')
  idp.published = [...idp.published, next]
  const token = idp.sign({}, { key: next })
  const results = await Promise.all(Array.from({ length: 50 }, () => app.inject({ url: '/me', headers: bearer(token) })))
  t.same(results.map(r => r.statusCode), Array(50).fill(200), 'all 50 concurrent requests pass')
  t.equal(idp.requests.jwks, 2, 'one fetch, shared by all waiting requests')
})

t.test('flood: 10,000 random unknown kids cause at most 2 fetches per cooldown window, each answered 401', async t => {
  const idp = await idpFor(t)
  // A cooldown no run outlasts, however loaded the machine: one window for the whole flood.
  const app = await buildBare(t, idp, { keys: { cooldown: 3600 } })
  const claims = { iss: idp.issuer, aud: idp.audience, exp: Math.floor(Date.now() / 1000) + 600 }
  const statuses = new Map<number, number>()
  for (let batch = 0; batch < 20; batch++) {
    // The kid is unknown, so the signature is never reached: no need to sign 10,000 tokens.
    const results = await Promise.all(Array.from({ length: 500 }, () =>
      app.inject({ url: '/me', headers: bearer(forgeToken({ alg: 'RS256', kid: randomUUID() }, claims, 'c2ln')) })))
    for (const res of results) statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1)
  }
  t.same(Object.fromEntries(statuses), { 401: 10_000 })
  t.ok(idp.requests.jwks <= 2, `JWKS fetches: ${idp.requests.jwks} (start-up included)`)
  const res = await app.inject({ url: '/me', headers: bearer(idp.sign({}, { header: { kid: 'nope' } })) })
  t.match(res.headers['www-authenticate'], Rejections.unknownKey)
})

t.test('flood after the cooldown has expired: one shared refetch, then none until the next window', async t => {
  const cooldown = 1000
  const idp = await idpFor(t)
  const app = await buildBare(t, idp, { keys: { cooldown: cooldown / 1000 } })
  await sleep(cooldown + 50)
  const claims = { iss: idp.issuer, aud: idp.audience, exp: Math.floor(Date.now() / 1000) + 600 }
  const started = Date.now()
  let rejected = 0
  for (let batch = 0; batch < 20; batch++) {
    const results = await Promise.all(Array.from({ length: 500 }, () =>
      app.inject({ url: '/me', headers: bearer(forgeToken({ alg: 'RS256', kid: randomUUID() }, claims, 'c2ln')) })))
    rejected += results.filter(r => r.statusCode === 401).length
  }
  const windows = Math.ceil((Date.now() - started) / cooldown)
  const fetches = idp.requests.jwks - 1
  t.equal(rejected, 10_000)
  t.ok(fetches >= 1, `the first unknown kid after the window refetched (${fetches})`)
  t.ok(fetches <= 2 * windows, `${fetches} fetches over ${windows} cooldown window(s)`)
})

t.test('removal: a key the provider stops publishing is no longer trusted, cached tokens included', async t => {
  const first = testKeyPair('key-1')
  const second = testKeyPair('key-2')
  const idp = await idpFor(t, { keys: [first, second] })
  const app = await buildBare(t, idp, { keys: FAST })
  const token = idp.sign({}, { key: second })
  t.equal((await app.inject({ url: '/me', headers: bearer(token) })).statusCode, 200, 'verified')
  t.equal((await app.inject({ url: '/me', headers: bearer(token) })).statusCode, 200, 'verified again, and cached')
  t.equal(app.authStatus().cachedTokens, 1)

  idp.published = [first]
  await sleep(AFTER_COOLDOWN)
  // Any unknown kid makes the store refresh once the cooldown allows.
  await app.inject({ url: '/me', headers: bearer(idp.sign({}, { header: { kid: 'probe' } })) })
  t.equal(idp.requests.jwks, 2)

  const res = await app.inject({ url: '/me', headers: bearer(token) })
  t.equal(res.statusCode, 401, 'the cached token of the removed key is refused')
  t.equal((await app.inject({ url: '/me', headers: bearer(idp.sign({}, { key: first })) })).statusCode, 200, 'the kept key still works')
})

const faults: Fault[] = ['down', 'error', 'garbage', 'slow', 'oversize', 'empty']

for (const fault of faults) {
  t.test(`outage (${fault}): known keys keep verifying, unknown keys get 503 + Retry-After, and it recovers`, async t => {
    const idp = await idpFor(t)
    const logs: LogRecord[] = []
    const app = fault === 'slow' ? await buildCutOff(t, idp, logs) : await buildBare(t, idp, { keys: FAST }, logs)
    const known = idp.sign()

    idp.fault = fault
    await sleep(AFTER_COOLDOWN)
    const next = testKeyPair('key-2')
    idp.published = [...idp.published, next]
    const unknown = await app.inject({ url: '/me', headers: bearer(idp.sign({}, { key: next })) })
    t.equal(unknown.statusCode, 503, 'a key that cannot be obtained → 503')
    t.match(unknown.headers['retry-after'], /^\d+$/)
    t.type(unknown.json().message, 'string')
    t.notMatch(unknown.body, /127\.0\.0\.1|ECONN|HTTP 500|maintenance/, 'nothing about the upstream leaks')

    t.equal((await app.inject({ url: '/me', headers: bearer(known) })).statusCode, 200, 'a cached token still passes')
    t.equal((await app.inject({ url: '/me', headers: bearer(idp.sign({ sub: 'fresh' })) })).statusCode, 200, 'a new token with a known key passes')
    t.equal((await app.inject('/health/ready')).statusCode, 200, 'still ready on the last good keys')

    const warnings = logs.filter(l => l.level === WARN)
    t.ok(warnings.length >= 1, 'the failure is logged')
    t.ok(warnings.every(w => typeof w.reason === 'string' && w.reason.length > 0), 'with its reason')

    idp.fault = 'none'
    const recovered = await until(async () =>
      (await app.inject({ url: '/me', headers: bearer(idp.sign({}, { key: next })) })).statusCode === 200)
    t.ok(recovered, 'verification with the new key resumes once the provider is back')
  })
}

t.test('a slow provider is cut off at the fetch timeout: requests never hang', async t => {
  const idp = await idpFor(t)
  const app = await buildCutOff(t, idp)
  idp.fault = 'slow'
  idp.slowMs = 60_000
  await sleep(AFTER_COOLDOWN)
  const res = await app.inject({ url: '/me', headers: bearer(idp.sign({}, { header: { kid: 'new' } })) })
  t.equal(res.statusCode, 503)
})

t.test('at most 1,000 requests wait on a slow fetch; the rest are told to retry at once', async t => {
  const idp = await idpFor(t)
  // The provider never answers and the fetch waits the longest allowed: the waiters are let go
  // only when the test takes the provider down, however slowly the 1,500 requests arrive.
  const app = await buildBare(t, idp, { keys: { ...FAST, fetchTimeout: 60 } })
  idp.fault = 'slow'
  idp.slowMs = 600_000
  await sleep(AFTER_COOLDOWN)
  const claims = { iss: idp.issuer, aud: idp.audience, exp: Math.floor(Date.now() / 1000) + 600 }
  let answered = 0
  const requests = Array.from({ length: 1500 }, () =>
    app.inject({ url: '/me', headers: bearer(forgeToken({ alg: 'RS256', kid: randomUUID() }, claims, 'c2ln')) })
      .then(res => {
        answered++
        return res
      }))
  t.ok(await until(() => answered >= 500), 'answers come while the fetch hangs')
  const answeredWhileTheFetchHung = answered
  // The hanging fetch has reached the provider (on a loaded machine it may still be on its way).
  t.ok(await until(() => idp.requests.jwks >= 2, { limit: 3000 }), 'the fetch reached the provider')
  await idp.close()
  const results = await Promise.all(requests)
  t.ok(results.every(r => r.statusCode === 503), 'all told to retry: the provider never answered')
  t.equal(answeredWhileTheFetchHung, 500, 'the 500 past the cap were answered without waiting on the provider')
  t.equal(idp.requests.jwks, 2, 'one fetch for all of them')
})

t.test('failures are logged once per fetch, not per request', async t => {
  const idp = await idpFor(t)
  const logs: LogRecord[] = []
  const app = await buildBare(t, idp, { keys: FAST }, logs)
  idp.fault = 'error'
  await sleep(AFTER_COOLDOWN)
  const before = idp.requests.jwks
  const started = Date.now()
  await Promise.all(Array.from({ length: 200 }, () =>
    app.inject({ url: '/me', headers: bearer(idp.sign({}, { header: { kid: randomUUID() } })) })))
  const fetches = idp.requests.jwks - before
  const warnings = logs.filter(l => l.level === WARN).length
  // At most one fetch per cooldown window: on a loaded machine the burst spans more of them.
  t.ok(fetches >= 1 && fetches <= windowsSince(started) + 1, `fetches during the burst: ${fetches}`)
  t.ok(warnings <= fetches + 1, `warnings: ${warnings} for ${fetches} failed fetches`)
})

t.test('stale-if-error is bounded: past it, the old keys are dropped and requests get 503', async t => {
  const idp = await idpFor(t)
  const app = await buildBare(t, idp, { keys: { ...FAST, maxAge: 1, staleIfError: 0.3 } })
  const token = idp.sign()
  // Twice: a token is cached from its second verification on.
  t.equal((await app.inject({ url: '/me', headers: bearer(token) })).statusCode, 200)
  t.equal((await app.inject({ url: '/me', headers: bearer(token) })).statusCode, 200)
  idp.fault = 'error'
  const dropped = await until(async () => (await app.inject('/health/ready')).statusCode === 503)
  t.ok(dropped, 'not ready once the keys are too old')
  const res = await app.inject({ url: '/me', headers: bearer(token) })
  t.equal(res.statusCode, 503, 'even a cached token is refused')
})

t.test('start-up with the provider down: the server starts, logs a warning, and retries until ready', async t => {
  const idp = await idpFor(t)
  idp.fault = 'down'
  const logs: LogRecord[] = []
  const app = await buildBare(t, idp, { keys: FAST }, logs)
  t.ok(logs.some(l => l.level === WARN), 'a warning is logged')
  t.equal((await app.inject('/health/ready')).statusCode, 503)
  const res = await app.inject({ url: '/me', headers: bearer(idp.sign()) })
  t.equal(res.statusCode, 503, 'a token is not rejected as bad while keys are missing')
  t.ok(Number(res.headers['retry-after']) >= 1)

  idp.fault = 'none'
  t.ok(await until(async () => (await app.inject('/health/ready')).statusCode === 200), 'ready once the provider answers')
  t.equal((await app.inject({ url: '/me', headers: bearer(idp.sign()) })).statusCode, 200)
})

t.test('keys unfit for the allowed algorithms are ignored', async t => {
  const good = testKeyPair('good')
  const weak = createKeyPair('weak', 'RS256', 1024)
  const encryption = testKeyPair('enc')
  encryption.jwk.use = 'enc'
  const mislabelled = testKeyPair('mislabelled')
  mislabelled.jwk.alg = 'ES256'
  const wrongKty = testKeyPair('wrong-kty')
  wrongKty.jwk.kty = 'EC'
  const noVerify = testKeyPair('no-verify')
  Object.assign(noVerify.jwk, { key_ops: ['encrypt'] })
  const idp = await idpFor(t, { keys: [good, weak, encryption, mislabelled, wrongKty, noVerify] })
  const app = await buildBare(t, idp)
  t.equal((await app.inject({ url: '/me', headers: bearer(idp.sign({}, { key: good })) })).statusCode, 200)
  for (const key of [weak, encryption, mislabelled, wrongKty, noVerify]) {
    const res = await app.inject({ url: '/me', headers: bearer(idp.sign({}, { key })) })
    t.equal(res.statusCode, 401, key.kid)
  }
})

t.test('the key set is refreshed every maxAge in the background', async t => {
  const idp = await idpFor(t)
  await buildBare(t, idp, { keys: { ...FAST, maxAge: 1 } })
  t.ok(await until(() => idp.requests.jwks >= 2, { every: 50 }), `refreshed (${idp.requests.jwks} fetches)`)
  t.ok(idp.requests.discovery >= 2, 'discovery is refreshed with the same age')
})

const malformedDiscovery: Array<[string, (idp: TestIssuer) => string]> = [
  ['JSON that is not an object', () => 'null'],
  ['an array', () => '[]'],
  ['a string', () => '"discovery"'],
  ['issuer not a string', idp => JSON.stringify({ issuer: 42, jwks_uri: idp.jwksUri })],
  ['jwks_uri not a string', idp => JSON.stringify({ issuer: idp.issuer, jwks_uri: ['x'] })],
  ['jwks_uri not a URL', idp => JSON.stringify({ issuer: idp.issuer, jwks_uri: 'keys please' })],
  ['jwks_uri missing', idp => JSON.stringify({ issuer: idp.issuer })]
]

for (const [what, body] of malformedDiscovery) {
  t.test(`a discovery document with ${what} at cold start is a provider fault: start, warn, 503, recover`, async t => {
    const idp = await idpFor(t)
    idp.discoveryBody = body(idp)
    const logs: LogRecord[] = []
    const app = await buildBare(t, idp, { keys: FAST }, logs)

    const warning = logs.find(l => l.level === WARN)
    t.type(warning?.reason, 'string', 'the server started and warned')
    t.equal((await app.inject('/health/ready')).statusCode, 503, 'not ready')
    const res = await app.inject({ url: '/me', headers: bearer(idp.sign()) })
    t.equal(res.statusCode, 503, 'a token is not refused as bad: the provider is at fault')
    t.ok(Number(res.headers['retry-after']) >= 1, 'with Retry-After')

    idp.discoveryBody = undefined
    t.ok(await until(async () => (await app.inject('/health/ready')).statusCode === 200), 'recovers by itself once the document is good')
    t.equal((await app.inject({ url: '/me', headers: bearer(idp.sign()) })).statusCode, 200)
  })
}
