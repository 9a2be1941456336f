import { randomBytes } from 'node:crypto'
import Fastify from 'fastify'
import t from 'tap'
import auth, { channels, type AuthDecisionMessage, type MtlsOptions } from '../../src/index.js'
import { startIntrospectionServer } from '../../src/testing/index.js'
import { bearer, buildBare, idpFor } from '../helper.js'

// RFC 8705 without a TLS connection (inject): what needs no certificate. The real-TLS and
// header suites, with certificates made by openssl, are the service's test/mtls/.

const thumbprint = () => randomBytes(32).toString('base64url')
const xfccHash = (x5t: string) => `Hash=${Buffer.from(x5t, 'base64url').toString('hex')}`
const HASH_HEADER: MtlsOptions = { certificateHeader: { name: 'x-forwarded-client-cert', format: 'xfcc', trustProxy: '127.0.0.1' } }

t.test('a certificate-bound token is refused without a certificate even when the plugin has no mtls option', async t => {
  const idp = await idpFor(t)
  const app = await buildBare(t, idp)
  const decisions: AuthDecisionMessage[] = []
  const onMessage = (message: AuthDecisionMessage) => decisions.push(message)
  channels.authDecision.subscribe(onMessage)
  t.teardown(() => { channels.authDecision.unsubscribe(onMessage) })
  const res = await app.inject({ url: '/me', headers: bearer(idp.sign({ cnf: { 'x5t#S256': thumbprint() } })) })
  t.equal(res.statusCode, 401)
  t.equal(res.headers['www-authenticate'], 'Bearer realm="api", error="invalid_token", error_description="The client certificate does not match the certificate the access token is bound to"')
  t.match(res.json(), { code: 'FST_AUTH_INVALID_TOKEN' })
  t.same(decisions, [{ outcome: 'refused', reason: 'mtls_certificate_mismatch' }])
})

t.test('a binding that is not a string never matches', async t => {
  const idp = await idpFor(t)
  const app = await buildBare(t, idp, { mtls: HASH_HEADER })
  const x5t = thumbprint()
  for (const value of [null, 42, [x5t], { x5t }]) {
    const res = await app.inject({ url: '/me', headers: { ...bearer(idp.sign({ cnf: { 'x5t#S256': value } })), 'x-forwarded-client-cert': xfccHash(x5t) } })
    t.equal(res.statusCode, 401, JSON.stringify(value))
  }
})

t.test('RFC 9728 metadata says tls_client_certificate_bound_access_tokens only with the mtls option', async t => {
  const idp = await idpFor(t)
  for (const mtls of [undefined, {}]) {
    const app = Fastify()
    t.teardown(() => app.close())
    await app.register(auth, { issuer: idp.issuer, audience: idp.audience, resourceMetadata: true, ...(mtls === undefined ? {} : { mtls }) })
    const document = (await app.inject('/.well-known/oauth-protected-resource')).json()
    t.equal(document.tls_client_certificate_bound_access_tokens, mtls === undefined ? undefined : true)
  }
})

t.test('an introspected token whose cnf has x5t#S256 is a Bearer token checked against its certificate', async t => {
  const idp = await idpFor(t)
  const as = await startIntrospectionServer({ issuer: idp.issuer, audience: idp.audience })
  t.teardown(() => as.close())
  const app = await buildBare(t, idp, { mtls: HASH_HEADER, introspection: { endpoint: as.endpoint, clientId: as.clientId, clientSecret: as.clientSecret } })
  const x5t = thumbprint()
  const token = as.issue({ sub: 'alice', cnf: { 'x5t#S256': x5t } })
  t.equal((await app.inject({ url: '/me', headers: { ...bearer(token), 'x-forwarded-client-cert': xfccHash(x5t) } })).statusCode, 200)
  const without = await app.inject({ url: '/me', headers: bearer(token) })
  t.equal(without.statusCode, 401)
  t.match(without.headers['www-authenticate'], 'does not match the certificate')
  const other = await app.inject({ url: '/me', headers: { ...bearer(token), 'x-forwarded-client-cert': xfccHash(thumbprint()) } })
  t.equal(other.statusCode, 401)
  for (const cnf of [{ jkt: x5t }, { 'x5t#S256': x5t, jkt: x5t }, { 'x5t#S256': 1 }, 'x']) {
    const res = await app.inject({ url: '/me', headers: { ...bearer(as.issue({ cnf })), 'x-forwarded-client-cert': xfccHash(x5t) } })
    t.equal(res.statusCode, 401, `cnf ${JSON.stringify(cnf)} is not a certificate binding`)
  }
})

t.test('mtls mode required refuses tokens that are not certificate-bound on every route; a route may allow them', async t => {
  const idp = await idpFor(t)
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(auth, { issuer: idp.issuer, audience: idp.audience, mtls: { ...HASH_HEADER, mode: 'required' } })
  app.get('/me', { onRequest: app.authenticate }, async () => ({ ok: true }))
  app.get('/open', { onRequest: app.authenticate, config: { mtls: 'allowed' } }, async () => ({ ok: true }))
  const plain = bearer(idp.sign({}))
  const res = await app.inject({ url: '/me', headers: plain })
  t.equal(res.statusCode, 401)
  t.match(res.headers['www-authenticate'], 'error_description="Requires an access token bound to a client certificate"')
  t.equal((await app.inject({ url: '/open', headers: plain })).statusCode, 200)
  const x5t = thumbprint()
  t.equal((await app.inject({ url: '/me', headers: { ...bearer(idp.sign({ cnf: { 'x5t#S256': x5t } })), 'x-forwarded-client-cert': xfccHash(x5t) } })).statusCode, 200)
})

t.test('DPoP and certificate binding both on: each bound token is checked by its own rule', async t => {
  const idp = await idpFor(t)
  const app = await buildBare(t, idp, { mtls: HASH_HEADER, dpop: { mode: 'allowed', origin: 'http://localhost' } })
  const x5t = thumbprint()
  const header = { 'x-forwarded-client-cert': xfccHash(x5t) }
  t.equal((await app.inject({ url: '/me', headers: { ...bearer(idp.sign({ cnf: { 'x5t#S256': x5t } })), ...header } })).statusCode, 200, 'certificate-bound, as Bearer')
  const dpopBound = await app.inject({ url: '/me', headers: { ...bearer(idp.sign({ cnf: { jkt: x5t } })), ...header } })
  t.equal(dpopBound.statusCode, 401, 'a DPoP-bound token still needs its proof, whatever the certificate')
  t.match(dpopBound.headers['www-authenticate'], 'DPoP-bound')
  const both = await app.inject({ url: '/me', headers: bearer(idp.sign({ cnf: { jkt: x5t, 'x5t#S256': x5t } })) })
  t.equal(both.statusCode, 401)
})

t.test('bad mtls options and route modes stop registration, naming the option', async t => {
  const idp = await idpFor(t)
  const cases: Array<[unknown, RegExp]> = [
    [{ mode: 'off' }, /option mtls\.mode must be one of allowed, required/],
    [{ acceptUnverified: 'yes' }, /option mtls\.acceptUnverified must be a boolean/],
    [{ certificateHeader: { name: 'x cert', format: 'xfcc', trustProxy: true } }, /option mtls\.certificateHeader\.name must be a header name/],
    [{ certificateHeader: { name: 'x-cert', format: 'pem', trustProxy: true } }, /option mtls\.certificateHeader\.format must be one of escaped-pem, xfcc, base64-der/],
    [{ certificateHeader: { name: 'x-cert', format: 'xfcc' } }, /option mtls\.certificateHeader\.trustProxy is required/],
    [{ certificateHeader: { name: 'x-cert', format: 'xfcc', trustProxy: 1 } }, /option mtls\.certificateHeader\.trustProxy must be true, addresses/],
    [{ certificateHeader: { name: 'x-cert', format: 'xfcc', trustProxy: 'not-an-ip' } }, /option mtls\.certificateHeader\.trustProxy has an address/],
    [{ certificateHeader: { name: 'x-cert', format: 'xfcc', trustProxy: true, maxBytes: 10 } }, /option mtls\.certificateHeader\.maxBytes must be a number ≥ 256/]
  ]
  for (const [mtls, message] of cases) {
    const app = Fastify()
    t.teardown(() => app.close())
    await t.rejects(async () => { await app.register(auth, { issuer: idp.issuer, audience: idp.audience, mtls: mtls as MtlsOptions }) }, { message }, JSON.stringify(mtls))
  }
  for (const [mtls, mode, message] of [[{}, 'sometimes', /config\.mtls "sometimes"; use one of allowed, required/], [undefined, 'required', /requires certificate-bound tokens but the plugin has no mtls option/]] as const) {
    const app = Fastify()
    t.teardown(() => app.close())
    await app.register(auth, { issuer: idp.issuer, audience: idp.audience, ...(mtls === undefined ? {} : { mtls }) })
    t.throws(() => app.get('/x', { onRequest: app.authenticate, config: { mtls: mode as 'required' } }, async () => ({})), { message })
  }
})
