import { randomUUID } from 'node:crypto'
import diagnosticsChannel from 'node:diagnostics_channel'
import Fastify from 'fastify'
import t, { type Test } from 'tap'
import auth, { AUTH_REASONS, ChannelNames, channels, type KeyFetchMessage, type KeySetMessage, type TypedChannel } from '../../src/index.js'
import { forgeToken, startIntrospectionServer } from '../../src/testing/index.js'
import { bearer, buildBare, idpFor, testKeyPair, until } from '../helper.js'

// A cooldown of 0 lets every unknown kid refetch at once; 0 reads the same in ms or seconds.
const NO_COOLDOWN = { cooldown: 0 }

/** Collects a channel's messages until the test ends. */
function record<Message> (t: Test, channel: TypedChannel<Message>): Message[] {
  const messages: Message[] = []
  const onMessage = (message: Message) => { messages.push(message) }
  channel.subscribe(onMessage)
  t.teardown(() => { channel.unsubscribe(onMessage) })
  return messages
}

const now = () => Math.floor(Date.now() / 1000)

t.test('the typed channels are the ones diagnostics_channel returns by name', async t => {
  for (const [key, name] of Object.entries(ChannelNames)) {
    t.equal(channels[key as keyof typeof channels], diagnosticsChannel.channel(name), name)
  }
})

t.test('each decision is published with its outcome and reason code', async t => {
  const idp = await idpFor(t)
  const app = await buildBare(t, idp)
  const decisions = record(t, channels.authDecision)
  const get = (url: string, token?: string) => app.inject({ url, headers: token === undefined ? {} : bearer(token) })

  await get('/me', idp.sign())
  await get('/me', idp.sign({ exp: now() - 60 }))
  await get('/me')
  await get('/me', idp.sign({ aud: 'https://other.example' }))
  await get('/admin', idp.sign())
  await get('/admin', idp.sign({ permissions: ['read:admin-messages'] }))
  t.same(decisions, [
    { outcome: 'accepted', reason: 'valid' },
    { outcome: 'refused', reason: 'expired' },
    { outcome: 'refused', reason: 'missing_token' },
    { outcome: 'refused', reason: 'audience' },
    { outcome: 'accepted', reason: 'valid' },
    { outcome: 'refused', reason: 'insufficient_scope' },
    { outcome: 'accepted', reason: 'valid' }
  ])
})

t.test('a subscriber subscribing to the channel by name gets the same messages', async t => {
  const idp = await idpFor(t)
  const app = await buildBare(t, idp)
  const seen: unknown[] = []
  const onMessage = (message: unknown) => { seen.push(message) }
  diagnosticsChannel.subscribe(ChannelNames.authDecision, onMessage)
  t.teardown(() => { diagnosticsChannel.unsubscribe(ChannelNames.authDecision, onMessage) })
  await app.inject({ url: '/me', headers: bearer('not.a.token') })
  t.same(seen, [{ outcome: 'refused', reason: 'malformed' }])
})

t.test('an attacker\'s tokens never reach a message: only reasons from the fixed set, no request data', async t => {
  const idp = await idpFor(t)
  const app = await buildBare(t, idp, { keys: NO_COOLDOWN })
  const recorded = Object.values(channels).map(channel => record(t, channel as TypedChannel<unknown>))
  const secrets: string[] = []
  for (let i = 0; i < 20; i++) {
    const secret = randomUUID()
    secrets.push(secret)
    const tokens = [
      forgeToken({ alg: 'RS256', kid: secret }, { iss: idp.issuer, aud: idp.audience, exp: now() + 60, sub: secret }, 'c2ln'),
      idp.sign({ sub: secret, exp: now() - 60 }),
      idp.sign({ sub: secret }).replace(/[^.]+$/, 'c2ln'),
      `${secret}.${secret}.${secret}`,
      idp.sign({ sub: secret })
    ]
    for (const token of tokens) await app.inject({ url: `/me?${secret}`, headers: { ...bearer(token), 'x-secret': secret } })
  }
  const everything = recorded.flat()
  t.ok(everything.length >= 100, `${everything.length} messages`)
  const text = JSON.stringify(everything)
  for (const secret of secrets) t.notMatch(text, secret)
  const reasons = new Set<string>(AUTH_REASONS)
  const decided = record(t, channels.authDecision)
  await app.inject({ url: '/me', headers: bearer(idp.sign({ sub: 'x' }, { header: { kid: 'kid-from-the-attacker' } })) })
  t.same(decided, [{ outcome: 'refused', reason: 'unknownKey' }])
  for (const message of everything) {
    const reason = (message as { reason?: string }).reason
    if (reason !== undefined) t.ok(reasons.has(reason), `reason ${reason} is in AUTH_REASONS`)
  }
})

t.test('token-cache lookups publish a miss until the token is cached (its second verification), then a hit', async t => {
  const idp = await idpFor(t)
  const app = await buildBare(t, idp)
  const lookups = record(t, channels.tokenCache)
  const token = idp.sign()
  await app.inject({ url: '/me', headers: bearer(token) })
  await app.inject({ url: '/me', headers: bearer(token) })
  await app.inject({ url: '/me', headers: bearer(token) })
  t.same(lookups, [{ result: 'miss' }, { result: 'miss' }, { result: 'hit' }])
})

t.test('with the cache off, no lookup is published', async t => {
  const idp = await idpFor(t)
  const app = await buildBare(t, idp, { tokenCacheSize: 0 })
  const lookups = record(t, channels.tokenCache)
  await app.inject({ url: '/me', headers: bearer(idp.sign()) })
  t.same(lookups, [])
})

t.test('the start-up fetches publish discovery then JWKS, each ok with its duration, then the key set loaded', async t => {
  const idp = await idpFor(t)
  const fetches = record(t, channels.keyFetch)
  const sets = record(t, channels.keySet)
  await buildBare(t, idp)
  t.match(fetches, [
    { document: 'discovery', url: `${idp.issuer}.well-known/openid-configuration`, result: 'ok', durationSeconds: Number },
    { document: 'jwks', url: idp.jwksUri, result: 'ok', durationSeconds: Number }
  ])
  t.equal(fetches.length, 2)
  for (const { durationSeconds } of fetches) t.ok(durationSeconds >= 0 && durationSeconds < 10, `${durationSeconds} s`)
  t.same(sets, [{ issuer: idp.issuer, result: 'loaded', keys: 1, added: 1, removed: 0 }])
})

t.test('rotation publishes the keys added and removed', async t => {
  const idp = await idpFor(t)
  const app = await buildBare(t, idp, { keys: NO_COOLDOWN })
  const sets = record(t, channels.keySet)
  const next = testKeyPair('key-2')
  idp.published = [next]
  t.equal((await app.inject({ url: '/me', headers: bearer(idp.sign({}, { key: next })) })).statusCode, 200)
  t.same(sets, [{ issuer: idp.issuer, result: 'loaded', keys: 1, added: 1, removed: 1 }])
})

// A timeout (fault 'slow') is left out: keys.fetchTimeout is changing from ms to seconds, and
// no one value times out fast in both units without failing the start-up fetch in one of them.
t.test('an outage publishes each failed fetch with its result, and the key set failed with the last good keys kept', async t => {
  const idp = await idpFor(t)
  const app = await buildBare(t, idp, { keys: NO_COOLDOWN })
  const fetches = record(t, channels.keyFetch)
  const sets = record(t, channels.keySet)
  const results: Record<string, KeyFetchMessage['result']> = { down: 'network_error', error: 'http_error', garbage: 'not_json', oversize: 'too_large' }
  for (const [fault, result] of Object.entries(results)) {
    idp.fault = fault as typeof idp.fault
    fetches.length = 0
    sets.length = 0
    const res = await app.inject({ url: '/me', headers: bearer(idp.sign({}, { header: { kid: `unknown-${fault}` } })) })
    t.equal(res.statusCode, 503, `${fault}: the keys cannot be had`)
    // With no cooldown the store also retries in the background: look for this fault's messages.
    t.ok(await until(() => fetches.some(each => each.result === result)), `${fault}: a fetch ended ${result}`)
    // Discovery is cached for maxAge: only the JWKS is fetched again.
    t.same(new Set(fetches.map(each => each.document)), new Set(['jwks']))
    t.match(sets.find(each => each.result === 'failed'), { keys: 1, added: 0, removed: 0, error: Error }, `${fault}: the last good key is kept`)
    t.notOk(sets.some(each => each.result === 'loaded'))
  }
  idp.fault = 'none'
  t.ok(await until(async () => (await app.inject({ url: '/me', headers: bearer(idp.sign()) })).statusCode === 200))
})

t.test('a key set whose document is unusable is a failed refresh after an ok fetch', async t => {
  const idp = await idpFor(t)
  const app = await buildBare(t, idp, { keys: NO_COOLDOWN })
  const fetches = record(t, channels.keyFetch)
  const sets = record(t, channels.keySet)
  idp.fault = 'empty'
  await app.inject({ url: '/me', headers: bearer(idp.sign({}, { header: { kid: 'unknown' } })) })
  t.match(fetches[0], { document: 'jwks', result: 'ok' })
  t.match(sets[0], { result: 'failed', keys: 1 } satisfies Partial<KeySetMessage>)
})

t.test('each introspection call is published with the answer\'s kind and its duration, never the token', async t => {
  const idp = await idpFor(t)
  const as = await startIntrospectionServer({ issuer: idp.issuer, audience: idp.audience })
  t.teardown(() => as.close())
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(auth, {
    issuer: idp.issuer,
    audience: idp.audience,
    introspection: { endpoint: as.endpoint, clientId: as.clientId, clientSecret: as.clientSecret }
  })
  app.get('/me', { onRequest: app.authenticate }, async () => ({ ok: true }))
  const calls = record(t, channels.introspection)

  const active = as.issue()
  const unknown = randomUUID()
  t.equal((await app.inject({ url: '/me', headers: bearer(active) })).statusCode, 200)
  t.equal((await app.inject({ url: '/me', headers: bearer(active) })).statusCode, 200, 'from the cache: no call')
  t.equal((await app.inject({ url: '/me', headers: bearer(unknown) })).statusCode, 401)
  as.fault = 'down'
  t.equal((await app.inject({ url: '/me', headers: bearer(randomUUID()) })).statusCode, 503)
  t.same(calls.map(call => call.result), ['active', 'inactive', 'error'])
  t.ok(calls.every(call => typeof call.durationSeconds === 'number' && call.durationSeconds >= 0 && call.durationSeconds < 5))
  t.notMatch(JSON.stringify(calls), new RegExp(`${active}|${unknown}`), 'no token in any message')
})
