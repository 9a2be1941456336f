import { randomUUID } from 'node:crypto'
import t from 'tap'
import type { KeyRecord } from '../../src/keys/key-store.js'
import { TokenCache } from '../../src/token/token-cache.js'
import { forgeToken } from '../../src/testing/index.js'
import { bearer, buildBare, idpFor, sleep } from '../helper.js'

const now = () => Math.floor(Date.now() / 1000)

t.test('the cache is bounded in entries', async t => {
  const idp = await idpFor(t)
  const app = await buildBare(t, idp, { tokenCacheSize: 10 })
  for (let i = 0; i < 50; i++) {
    t.equal((await app.inject({ url: '/me', headers: bearer(idp.sign({ sub: `u${i}` })) })).statusCode, 200)
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
  t.equal((await app.inject({ url: '/me', headers: bearer(token) })).statusCode, 200)
  t.equal((await app.inject({ url: '/admin', headers: bearer(token) })).statusCode, 403)
})

t.test('a token used since it was cached survives one eviction round (second chance)', async t => {
  const key: KeyRecord = { kid: 'k', pem: '', issuer: 'i', algorithms: ['RS256'] }
  const cache = new TokenCache(3, 0)
  const claims = (sub: string) => ({ iss: 'i', aud: 'a', exp: now() + 600, sub })
  for (const id of ['a', 'b', 'c']) cache.set(id, claims(id), key)
  t.ok(cache.get('a'), 'a is used')
  cache.set('d', claims('d'), key)
  t.ok(cache.get('a'), 'a survives')
  t.equal(cache.get('b'), undefined, 'b, unused and oldest, is evicted')
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
  cache.set('late', { iss: 'i', aud: 'a', exp: now() - 2 }, key)
  t.ok(cache.get('late'), 'expired 2 s ago, within the 5 s tolerance: still a hit')
  cache.set('gone', { iss: 'i', aud: 'a', exp: now() - 10 }, key)
  t.equal(cache.size, 1, 'past exp + tolerance: never inserted')
  t.equal(cache.get('gone'), undefined)
})

t.test('a token inside the clock tolerance is verified once and evicts nothing', async t => {
  const idp = await idpFor(t)
  const app = await buildBare(t, idp, { tokenCacheSize: 4, clockTolerance: 5 })
  for (const sub of ['a', 'b', 'c']) {
    t.equal((await app.inject({ url: '/me', headers: bearer(idp.sign({ sub })) })).statusCode, 200)
  }
  const late = idp.sign({ sub: 'late', exp: now() - 2 })
  for (let i = 0; i < 12; i++) {
    t.equal((await app.inject({ url: '/me', headers: bearer(late) })).statusCode, 200)
  }
  t.equal(app.authStatus().cachedTokens, 4, 'all four tokens still cached')
})
