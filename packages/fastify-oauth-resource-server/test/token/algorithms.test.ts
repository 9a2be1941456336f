import { createHmac } from 'node:crypto'
import t from 'tap'
import { Rejections } from '../../src/claims/rejections.js'
import { createKeyPair, forgeToken } from '../../src/testing/index.js'
import { bearer, buildBare, idpFor, testKeyPair } from '../helper.js'

const keys = () => [
  testKeyPair('rsa-1', 'RS256'),
  createKeyPair('ec-1', 'ES256'),
  testKeyPair('ps-1', 'PS256'),
  createKeyPair('ed-1', 'EdDSA')
]

t.test('with the default allowlist (RS256), real ES256, PS256 and EdDSA tokens are rejected', async t => {
  const published = keys()
  const idp = await idpFor(t, { keys: published })
  const app = await buildBare(t, idp)
  const [rsa, ec, ps, ed] = published
  t.equal((await app.inject({ url: '/me', headers: bearer(idp.sign({}, { key: rsa })) })).statusCode, 200, 'RS256 passes')
  for (const key of [ec!, ps!, ed!]) {
    const res = await app.inject({ url: '/me', headers: bearer(idp.sign({}, { key })) })
    t.equal(res.statusCode, 401, key.alg)
    t.match(res.headers['www-authenticate'], Rejections.algorithm, key.alg)
  }
  const psWithRsaKey = await app.inject({ url: '/me', headers: bearer(idp.sign({}, { key: rsa, algorithm: 'PS256' })) })
  t.equal(psWithRsaKey.statusCode, 401, 'PS256 by the RS256 key')
})

t.test('HS256 tokens are rejected whatever the secret', async t => {
  const idp = await idpFor(t)
  const app = await buildBare(t, idp)
  const now = Math.floor(Date.now() / 1000)
  for (const secret of ['secret', '', idp.signingKey.jwk.n!]) {
    const unsigned = forgeToken({ alg: 'HS256', kid: 'key-1' }, { iss: idp.issuer, aud: idp.audience, exp: now + 60 }).slice(0, -1)
    const token = `${unsigned}.${createHmac('sha256', secret).update(unsigned).digest('base64url')}`
    const res = await app.inject({ url: '/me', headers: bearer(token) })
    t.equal(res.statusCode, 401)
  }
})

t.test('an allowlist of several algorithms accepts each, and only with a key of its kind', async t => {
  const published = keys()
  const idp = await idpFor(t, { keys: published })
  const app = await buildBare(t, idp, { algorithms: ['RS256', 'ES256', 'EdDSA'] })
  const [rsa, ec, ps, ed] = published
  for (const key of [rsa!, ec!, ed!]) {
    t.equal((await app.inject({ url: '/me', headers: bearer(idp.sign({}, { key })) })).statusCode, 200, `${key.alg} passes`)
  }
  t.equal((await app.inject({ url: '/me', headers: bearer(idp.sign({}, { key: ps })) })).statusCode, 401, 'PS256 is still refused')
  // An RS256 signature presented under the EC key's kid.
  const mismatched = idp.sign({}, { key: rsa, header: { kid: 'ec-1' } })
  t.equal((await app.inject({ url: '/me', headers: bearer(mismatched) })).statusCode, 401, 'RS256 under an EC kid')
})

t.test('a JWK that names its alg is used with that alg only', async t => {
  const rsa = testKeyPair('rsa-1', 'RS256')
  const idp = await idpFor(t, { keys: [rsa] })
  const app = await buildBare(t, idp, { algorithms: ['RS256', 'PS256'] })
  const res = await app.inject({ url: '/me', headers: bearer(idp.sign({}, { key: rsa, algorithm: 'PS256' })) })
  t.equal(res.statusCode, 401)
})

t.test('none and HMAC algorithms cannot be allowed', async t => {
  const idp = await idpFor(t)
  for (const algorithms of [['none'], ['HS256'], ['RS256', 'HS512'], ['rs256'], []]) {
    await t.rejects(buildBare(t, idp, { algorithms: algorithms as ['RS256'] }), /option algorithms/, JSON.stringify(algorithms))
  }
})
