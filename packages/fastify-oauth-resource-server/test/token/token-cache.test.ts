import { randomUUID } from 'node:crypto'
import t, { type Test } from 'tap'
import { channels, type TokenCacheMessage } from '../../src/diagnostics/channels.js'
import type { KeyRecord } from '../../src/keys/key-store.js'
import { TokenCache } from '../../src/token/token-cache.js'
import type { AccessTokenClaims } from '../../src/types.js'
import { forgeToken } from '../../src/testing/index.js'
import { bearer, buildBare, idpFor, sleep } from '../helper.js'

const now = () => Math.floor(Date.now() / 1000)

/** A token is stored on its second verification: verify it twice. */
function admit (cache: TokenCache, id: string, claims: AccessTokenClaims, key: KeyRecord) {
  cache.set(id, claims, key)
  cache.set(id, claims, key)
}

/** The token cache's lookups while the test runs. */
function lookups (t: Test): Array<TokenCacheMessage['result']> {
  const seen: Array<TokenCacheMessage['result']> = []
  const listener = (message: TokenCacheMessage) => { seen.push(message.result) }
  channels.tokenCache.subscribe(listener)
  t.teardown(() => { channels.tokenCache.unsubscribe(listener) })
  return seen
}

t.test('the cache is bounded in entries', async t => {
  const idp = await idpFor(t)
  const app = await buildBare(t, idp, { tokenCacheSize: 10 })
  for (let i = 0; i < 50; i++) {
    const token = idp.sign({ sub: `u${i}` })
    // Twice: a token is cached from its second verification on.
    for (let n = 0; n < 2; n++) t.equal((await app.inject({ url: '/me', headers: bearer(token) })).statusCode, 200)
  }
  t.equal(app.authStatus().cachedTokens, 10)
})

t.test('failed verifications do not grow the cache', async t => {
  const idp = await idpFor(t)
  const app = await buildBare(t, idp)
  const claims = { iss: idp.issuer, aud: idp.audience, exp: now() + 600 }
  const [header, payload, signature] = idp.sign().split('.')
  for (let i = 0; i < 300; i++) {
    const tokens = [
      `${header}.${payload}x${i}.${signature}`,
      idp.sign({ sub: `u${i}` }).replace(/[^.]+$/, signature!),
      idp.sign({ exp: now() - 60, sub: `e${i}` }),
      forgeToken({ alg: 'RS256', kid: randomUUID() }, claims, 'c2ln')
    ]
    for (const token of tokens) t.equal((await app.inject({ url: '/me', headers: bearer(token) })).statusCode, 401)
  }
  t.equal(app.authStatus().cachedTokens, 0)
})

t.test('a cached token is refused once it expires', async t => {
  const idp = await idpFor(t)
  const app = await buildBare(t, idp, { clockTolerance: 0 })
  // Valid for 1 to 2 s from now (never a few ms, as now() + 1 can be): time enough on a loaded machine.
  const exp = Math.ceil(Date.now() / 1000) + 1
  const token = idp.sign({ exp })
  t.equal((await app.inject({ url: '/me', headers: bearer(token) })).statusCode, 200)
  t.equal((await app.inject({ url: '/me', headers: bearer(token) })).statusCode, 200)
  t.equal(app.authStatus().cachedTokens, 1)
  await sleep(exp * 1000 - Date.now() + 100)
  const res = await app.inject({ url: '/me', headers: bearer(token) })
  t.equal(res.statusCode, 401)
  t.match(res.headers['www-authenticate'], 'The access token expired')
})

t.test('a cached hit still checks permissions per route', async t => {
  const idp = await idpFor(t)
  const app = await buildBare(t, idp)
  const token = idp.sign({ permissions: ['read:messages'] })
  const seen = lookups(t)
  t.equal((await app.inject({ url: '/me', headers: bearer(token) })).statusCode, 200)
  t.equal((await app.inject({ url: '/me', headers: bearer(token) })).statusCode, 200)
  t.equal((await app.inject({ url: '/admin', headers: bearer(token) })).statusCode, 403)
  t.same(seen, ['miss', 'miss', 'hit'], 'the admin request was a hit')
})

t.test('a token used since it was cached survives one eviction round (second chance)', async t => {
  const key: KeyRecord = { kid: 'k', pem: '', issuer: 'i', algorithms: ['RS256'] }
  const cache = new TokenCache(3, 0)
  const claims = (sub: string) => ({ iss: 'i', aud: 'a', exp: now() + 600, sub })
  const [a, b, c, d] = ['a', 'b', 'c', 'd'].map(token => cache.idOf(token)!) as [string, string, string, string]
  for (const id of [a, b, c]) admit(cache, id, claims(id), key)
  t.ok(cache.get(a), 'a is used')
  admit(cache, d, claims('d'), key)
  t.ok(cache.get(a), 'a survives')
  t.equal(cache.get(b), undefined, 'b, unused and oldest, is evicted')
  t.equal(cache.size, 3)
})

t.test('a cache of size 0 stores nothing', async t => {
  const idp = await idpFor(t)
  const app = await buildBare(t, idp, { tokenCacheSize: 0 })
  const token = idp.sign()
  t.equal((await app.inject({ url: '/me', headers: bearer(token) })).statusCode, 200)
  t.equal((await app.inject({ url: '/me', headers: bearer(token) })).statusCode, 200)
  t.equal(app.authStatus().cachedTokens, 0)
})

t.test('an entry lives exactly as long as a fresh check accepts the token: exp plus the clock tolerance', async t => {
  const key: KeyRecord = { kid: 'k', pem: '', issuer: 'i', algorithms: ['RS256'] }
  const cache = new TokenCache(4, 5000)
  const [late, gone] = [cache.idOf('late')!, cache.idOf('gone')!]
  admit(cache, late, { iss: 'i', aud: 'a', exp: now() - 2 }, key)
  t.ok(cache.get(late), 'expired 2 s ago, within the 5 s tolerance: still a hit')
  admit(cache, gone, { iss: 'i', aud: 'a', exp: now() - 10 }, key)
  t.equal(cache.size, 1, 'past exp + tolerance: never inserted')
  t.equal(cache.get(gone), undefined)
})

t.test('a token inside the clock tolerance is cached like any other and evicts nothing', async t => {
  const idp = await idpFor(t)
  const app = await buildBare(t, idp, { tokenCacheSize: 4, clockTolerance: 5 })
  for (const sub of ['a', 'b', 'c']) {
    const token = idp.sign({ sub })
    for (let n = 0; n < 2; n++) t.equal((await app.inject({ url: '/me', headers: bearer(token) })).statusCode, 200)
  }
  const late = idp.sign({ sub: 'late', exp: now() - 2 })
  for (let i = 0; i < 12; i++) {
    t.equal((await app.inject({ url: '/me', headers: bearer(late) })).statusCode, 200)
  }
  t.equal(app.authStatus().cachedTokens, 4, 'all four tokens still cached')
})

t.test('a token is cached from its second verification: the first stores nothing, the third is a hit', async t => {
  const idp = await idpFor(t)
  const app = await buildBare(t, idp)
  const seen = lookups(t)
  const token = idp.sign()
  t.equal((await app.inject({ url: '/me', headers: bearer(token) })).statusCode, 200)
  t.equal(app.authStatus().cachedTokens, 0, 'seen once: not stored')
  t.equal((await app.inject({ url: '/me', headers: bearer(token) })).statusCode, 200)
  t.equal(app.authStatus().cachedTokens, 1, 'seen twice: stored')
  t.equal((await app.inject({ url: '/me', headers: bearer(token) })).statusCode, 200)
  t.same(seen, ['miss', 'miss', 'hit'])
})

t.test('a flood of never-seen tokens leaves the cached set intact', async t => {
  const idp = await idpFor(t)
  const app = await buildBare(t, idp, { tokenCacheSize: 10 })
  const regulars = Array.from({ length: 10 }, (_, i) => idp.sign({ sub: `regular-${i}` }))
  for (const token of regulars) {
    for (let n = 0; n < 2; n++) t.equal((await app.inject({ url: '/me', headers: bearer(token) })).statusCode, 200)
  }
  t.equal(app.authStatus().cachedTokens, 10)
  for (let i = 0; i < 500; i++) {
    t.equal((await app.inject({ url: '/me', headers: bearer(idp.sign({ sub: `once-${i}` })) })).statusCode, 200)
  }
  t.equal(app.authStatus().cachedTokens, 10)
  const seen = lookups(t)
  for (const token of regulars) t.equal((await app.inject({ url: '/me', headers: bearer(token) })).statusCode, 200)
  t.same(seen, regulars.map(() => 'hit'), 'every regular token is still a hit')
})

t.test('the doorkeeper is bounded: a token verified once among many new ones is admitted on a later sighting', async t => {
  const key: KeyRecord = { kid: 'k', pem: '', issuer: 'i', algorithms: ['RS256'] }
  const cache = new TokenCache(10, 0)
  const claims = { iss: 'i', aud: 'a', exp: now() + 600 }
  for (let i = 0; i < 100_000; i++) cache.set(cache.idOf(`once-${i}`)!, claims, key)
  t.equal(cache.size, 0, 'a hundred thousand tokens verified once: none stored')
  const id = cache.idOf('regular')!
  for (let n = 0; n < 2; n++) cache.set(id, claims, key)
  t.ok(cache.get(id), 'stored on its second verification')
})

t.test('an admitted token still leaves with its key, and at its expiry', async t => {
  const key: KeyRecord = { kid: 'k', pem: '', issuer: 'i', algorithms: ['RS256'] }
  const other: KeyRecord = { kid: 'o', pem: '', issuer: 'i', algorithms: ['RS256'] }
  const cache = new TokenCache(10, 0)
  const [byKey, byOther, expiring] = ['by-key', 'by-other', 'expiring'].map(token => cache.idOf(token)!) as [string, string, string]
  admit(cache, byKey, { iss: 'i', aud: 'a', exp: now() + 600 }, key)
  admit(cache, byOther, { iss: 'i', aud: 'a', exp: now() + 600 }, other)
  admit(cache, expiring, { iss: 'i', aud: 'a', exp: now() + 1 }, other)
  t.equal(cache.size, 3)
  cache.dropKey(key)
  t.equal(cache.get(byKey), undefined, 'dropped with its key')
  t.ok(cache.get(byOther), 'the other key\'s token stays')
  await sleep(2100)
  t.equal(cache.get(expiring), undefined, 'gone once expired')
})
