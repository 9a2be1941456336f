import Fastify from 'fastify'
import t from 'tap'
import auth from '../../src/index.js'
import { accessTokenHash, createDpopHolder, createDpopProof, createTestIssuer, dpopHeaders } from '../../src/testing/index.js'

t.test('the test kit\'s DPoP client: a bound token passes with its proof once, and the README\'s example holds', async t => {
  const idp = await createTestIssuer()
  const app = Fastify()
  t.teardown(async () => { await app.close(); await idp.close() })
  await app.register(auth, { issuer: idp.issuer, audience: idp.audience, dpop: { mode: 'allowed', origin: 'http://localhost' } })
  app.get('/me', { onRequest: app.authenticate }, async request => ({ sub: request.verifiedClaims().sub }))

  const holder = await createDpopHolder()
  t.match(holder.jkt, /^[\w-]{43}$/, 'an RFC 7638 SHA-256 thumbprint')
  const token = idp.token({ sub: 'alice', claims: { cnf: { jkt: holder.jkt } } })
  const proof = await createDpopProof(holder, { htu: 'http://localhost/me', token })
  const payload = JSON.parse(Buffer.from(proof.split('.')[1] as string, 'base64url').toString())
  t.equal(payload.ath, accessTokenHash(token), 'ath is the token\'s hash')
  t.same((await app.inject({ url: '/me', headers: dpopHeaders(token, proof) })).json(), { sub: 'alice' })
  t.equal((await app.inject({ url: '/me', headers: dpopHeaders(token, proof) })).statusCode, 401, 'the same proof again is a replay')

  const stranger = await createDpopHolder()
  const forged = await createDpopProof(holder, { htu: 'http://localhost/me', token, signWith: stranger.privateKey })
  t.equal((await app.inject({ url: '/me', headers: dpopHeaders(token, forged) })).statusCode, 401, 'signWith forges a proof the plugin refuses')
})
