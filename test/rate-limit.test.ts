import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { Ajv2020 } from 'ajv/dist/2020.js'
import t, { type Test } from 'tap'
import { createMetricsServer } from '../metrics/metrics-server.js'
import { bearer, build, envFor, idpFor, type Env } from './helper.js'

// In memory (no REDIS_URL): one replica counts alone. A window of an hour, so that no
// budget refills while a test runs, however slow the machine.
const WINDOW_SECONDS = 3600
const BUDGET = 3
const PUBLIC = '/api/messages/public'
const PROTECTED = '/api/messages/protected'
const ADMIN = '/api/messages/admin'
const GREETING = '/api/messages/greeting'

async function setup (t: Test, env: Env = {}) {
  const idp = await idpFor(t)
  const app = await build(t, envFor(idp, { RATE_LIMIT_PER_MINUTE: String(BUDGET), ...env }), { rateLimitOptions: { windowSeconds: WINDOW_SECONDS } })
  return { idp, app }
}

const get = (app: FastifyInstance, url: string, { token, from = '127.0.0.1' }: { token?: string, from?: string } = {}) =>
  app.inject({ url, headers: token === undefined ? {} : bearer(token), remoteAddress: from })

function remaining (res: LightMyRequestResponse): number | undefined {
  const value = res.headers['ratelimit-remaining']
  return value === undefined ? undefined : Number(value)
}

/** The 429 as the API answers errors: its JSON body, Retry-After and the RateLimit-* headers. */
function assertLimited (t: Test, res: LightMyRequestResponse, what: string) {
  t.equal(res.statusCode, 429, `${what}: 429`)
  t.match(res.headers['content-type'], /^application\/json/, `${what}: JSON`)
  t.match(res.json(), { message: /^Too many requests: retry in \d+ seconds$/ }, `${what}: the API's error body`)
  const retryAfter = Number(res.headers['retry-after'])
  t.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= WINDOW_SECONDS, `${what}: Retry-After in whole seconds within the window (${res.headers['retry-after']})`)
  t.equal(res.headers['ratelimit-limit'], String(BUDGET), `${what}: RateLimit-Limit`)
  t.equal(res.headers['ratelimit-remaining'], '0', `${what}: RateLimit-Remaining`)
  t.equal(res.headers['ratelimit-reset'], res.headers['retry-after'], `${what}: RateLimit-Reset`)
  t.notOk(res.headers['www-authenticate'], `${what}: no challenge`)
}

t.test('without RATE_LIMIT_PER_MINUTE nothing is limited and no RateLimit-* header is sent', async t => {
  const idp = await idpFor(t)
  const app = await build(t, envFor(idp))
  const token = idp.sign()
  for (let i = 0; i < 10; i++) {
    const res = await get(app, PROTECTED, { token })
    t.equal(res.statusCode, 200)
    t.notOk(res.headers['ratelimit-limit'])
  }
})

t.test('a subject over its budget gets 429 with Retry-After and RateLimit-* headers, on every API route; another subject still gets 200', async t => {
  const { idp, app } = await setup(t)
  const alice = idp.sign({ sub: 'alice', permissions: ['read:admin-messages'] })
  const statuses: Array<[number, number | undefined]> = []
  for (const url of [PROTECTED, ADMIN, GREETING]) {
    const res = await get(app, url, { token: alice })
    statuses.push([res.statusCode, remaining(res)])
    t.equal(res.headers['ratelimit-limit'], String(BUDGET))
    const reset = Number(res.headers['ratelimit-reset'])
    t.ok(reset >= 1 && reset <= WINDOW_SECONDS, `RateLimit-Reset within the window (${reset})`)
    t.notOk(res.headers['retry-after'])
  }
  t.same(statuses, [[200, 2], [200, 1], [200, 0]], 'one budget across the API\'s routes')
  for (const url of [PROTECTED, ADMIN, GREETING]) assertLimited(t, await get(app, url, { token: alice }), `alice at ${url}`)

  const bob = await get(app, PROTECTED, { token: idp.sign({ sub: 'bob' }) })
  t.equal(bob.statusCode, 200, 'another subject, from the same address')
  t.equal(remaining(bob), BUDGET - 1)
  t.equal((await get(app, PROTECTED, { token: idp.sign({ sub: 'alice' }) })).statusCode, 429, 'a new token of the same subject spends the same budget')
})

t.test('a client credentials token without sub spends its client\'s budget (client_id, else azp)', async t => {
  const { idp, app } = await setup(t)
  const client = () => idp.sign({ sub: undefined, client_id: 'billing-service' })
  for (let i = 0; i < BUDGET; i++) t.equal((await get(app, PROTECTED, { token: client() })).statusCode, 200)
  assertLimited(t, await get(app, PROTECTED, { token: client() }), 'the client over its budget')
  t.equal((await get(app, PROTECTED, { token: idp.sign({ sub: undefined, azp: 'reports-service' }) })).statusCode, 200, 'another client (azp)')
  t.equal((await get(app, PROTECTED, { token: idp.sign({ sub: 'billing-service' }) })).statusCode, 429, 'sub equal to the client id is that client (RFC 9068 §2.2)')
})

t.test('forged tokens naming a subject never spend its budget, not even from its own address; they spend their address\'s', async t => {
  const { idp, app } = await setup(t)
  const attacker = '203.0.113.66'
  const forged = [
    idp.badToken('badSignature', { claims: { sub: 'victim' } }),
    idp.badToken('wrongAudience', { claims: { sub: 'victim' } }),
    idp.badToken('expired', { claims: { sub: 'victim' } }),
    idp.badToken('unknownKey', { claims: { sub: 'victim' } })
  ]
  const statuses: number[] = []
  for (let i = 0; i < 12; i++) statuses.push((await get(app, PROTECTED, { token: forged[i % forged.length], from: attacker })).statusCode)
  t.same(statuses.slice(0, BUDGET), [401, 401, 401], 'refused by authentication while the address has budget')
  t.ok(statuses.slice(BUDGET).every(status => status === 429), `then 429: the flood is limited by its address (${statuses.join(' ')})`)
  assertLimited(t, await get(app, PROTECTED, { token: forged[0], from: attacker }), 'a forged token past the address\'s budget')

  const victim = idp.sign({ sub: 'victim' })
  for (const from of ['198.51.100.7', attacker]) {
    const res = await get(app, PROTECTED, { token: victim, from })
    t.equal(res.statusCode, 200, `the victim's own token from ${from}`)
  }
  t.equal(remaining(await get(app, PROTECTED, { token: victim })), BUDGET - 3, 'the victim\'s budget spent by its own three requests only')
})

t.test('requests without a token spend their address\'s budget, on any API route; another address is not affected', async t => {
  const { app } = await setup(t)
  const from = '192.0.2.10'
  t.same([
    (await get(app, PUBLIC, { from })).statusCode,
    (await get(app, GREETING, { from })).statusCode,
    (await get(app, PROTECTED, { from })).statusCode
  ], [200, 200, 401], 'public, optional and protected routes, no token')
  assertLimited(t, await get(app, PUBLIC, { from }), 'the public route')
  assertLimited(t, await get(app, PROTECTED, { from }), 'the protected route without a token')
  t.equal((await get(app, PUBLIC, { from: '192.0.2.11' })).statusCode, 200, 'another address')

  // One IPv6 client holds a /64: it cannot spread its requests over its addresses.
  for (let i = 1; i <= BUDGET; i++) t.equal((await get(app, PUBLIC, { from: `2001:db8:1:2::${i}` })).statusCode, 200)
  assertLimited(t, await get(app, PUBLIC, { from: '2001:db8:1:2:ffff::1' }), 'another address of the same IPv6 /64')
  t.equal((await get(app, PUBLIC, { from: '2001:db8:1:3::1' })).statusCode, 200, 'another /64')
})

t.test('a token lacking the permission spends its subject\'s budget, once per request', async t => {
  const { idp, app } = await setup(t)
  const token = idp.sign({ sub: 'carol' })
  const seen: Array<[number, number | undefined]> = []
  for (let i = 0; i < BUDGET; i++) {
    const res = await get(app, ADMIN, { token })
    seen.push([res.statusCode, remaining(res)])
  }
  t.same(seen, [[403, 2], [403, 1], [403, 0]])
  assertLimited(t, await get(app, ADMIN, { token }), 'past the budget, before the permission check')
  t.equal((await get(app, PUBLIC)).statusCode, 200, 'the address\'s budget untouched')
})

t.test('health, docs and the resource metadata are not limited', async t => {
  const { app } = await setup(t)
  for (let i = 0; i < BUDGET; i++) await get(app, PUBLIC)
  assertLimited(t, await get(app, PUBLIC), 'the API')
  for (const url of ['/health/live', '/health/ready', '/docs/json', '/.well-known/oauth-protected-resource']) {
    const res = await get(app, url)
    t.equal(res.statusCode, 200, url)
    t.notOk(res.headers['ratelimit-limit'], `${url}: no RateLimit-* header`)
  }
})

t.test('browsers may read the RateLimit-* headers and Retry-After (CORS)', async t => {
  const { app } = await setup(t)
  const res = await app.inject({ url: PUBLIC, headers: { origin: 'http://localhost:4040' } })
  t.match(res.headers['access-control-expose-headers'], /RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, Retry-After/)
})

t.test('the metrics count limited requests by budget', async t => {
  const { idp, app } = await setup(t, { METRICS_PORT: '0' })
  const token = idp.sign({ sub: 'dave' })
  for (let i = 0; i < BUDGET + 2; i++) await get(app, PROTECTED, { token })
  for (let i = 0; i < BUDGET + 1; i++) await get(app, PUBLIC, { from: '192.0.2.99' })
  const server = createMetricsServer(app.metrics!, app.log)
  t.teardown(() => server.close())
  const text = (await server.inject({ url: '/metrics' })).body
  t.match(text, /^rate_limited_requests_total\{budget="subject"\} 2$/m)
  t.match(text, /^rate_limited_requests_total\{budget="address"\} 1$/m)
  t.match(text, /^rate_limit_unavailable_total 0$/m)
})

t.test('the 429 matches its OpenAPI description: body and headers, on every API route', async t => {
  const { idp, app } = await setup(t)
  type Documented = { headers: Record<string, unknown>, content: Record<string, { schema: object }> }
  const spec = (await app.inject('/docs/json')).json() as { paths: Record<string, { get: { responses: Record<string, Documented> } }> }
  const token = idp.sign({ sub: 'erin', permissions: ['read:admin-messages'] })
  for (let i = 0; i < BUDGET; i++) await get(app, PROTECTED, { token })
  for (let i = 0; i < BUDGET; i++) await get(app, PUBLIC)
  const ajv = new Ajv2020({ strict: false })
  for (const url of [PUBLIC, PROTECTED, GREETING, ADMIN]) {
    const documented = spec.paths[url]!.get.responses['429']
    if (documented === undefined) {
      t.fail(`${url} does not document 429`)
      continue
    }
    const res = await get(app, url, url === PUBLIC ? {} : { token })
    t.equal(res.statusCode, 429, url)
    const validate = ajv.compile(documented.content['application/json']!.schema)
    t.ok(validate(res.json()), `${url}: body as documented ${JSON.stringify(validate.errors)}`)
    for (const header of Object.keys(documented.headers)) t.ok(res.headers[header.toLowerCase()], `${url}: sends ${header}`)
  }
})
