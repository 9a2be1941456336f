import { randomBytes } from 'node:crypto'
import t from 'tap'
import { bearer, build, envFor, idpFor } from '../helper.js'

// The service behind a TLS-terminating proxy: TLS_CLIENT_CERT_HEADER, read only from TRUST_PROXY.

const thumbprint = () => randomBytes(32).toString('base64url')
const xfccHash = (x5t: string) => `Hash=${Buffer.from(x5t, 'base64url').toString('hex')}`
const header = { TLS_CLIENT_CERT_HEADER: 'x-forwarded-client-cert', TLS_CLIENT_CERT_FORMAT: 'xfcc' }

t.test('TLS_CLIENT_CERT_HEADER from a TRUST_PROXY peer is the client certificate; from another peer it is ignored', async t => {
  const idp = await idpFor(t)
  const x5t = thumbprint()
  const token = idp.sign({ sub: 'alice', cnf: { 'x5t#S256': x5t } })
  // inject's peer is 127.0.0.1.
  const trusted = await build(t, envFor(idp, { ...header, TRUST_PROXY: '127.0.0.1' }))
  t.equal((await trusted.inject({ url: '/api/messages/protected', headers: { ...bearer(token), 'x-forwarded-client-cert': xfccHash(x5t) } })).statusCode, 200)
  const without = await trusted.inject({ url: '/api/messages/protected', headers: bearer(token) })
  t.equal(without.statusCode, 401)
  t.match(without.json(), { error: 'invalid_token', error_description: 'The client certificate does not match the certificate the access token is bound to' })
  t.equal((await trusted.inject('/.well-known/oauth-protected-resource')).json().tls_client_certificate_bound_access_tokens, true)

  const other = await build(t, envFor(idp, { ...header, TRUST_PROXY: '10.0.0.1' }))
  t.equal((await other.inject({ url: '/api/messages/protected', headers: { ...bearer(token), 'x-forwarded-client-cert': xfccHash(x5t) } })).statusCode, 401)
})

t.test('without TLS settings a certificate-bound token is still refused, and the metadata does not announce binding', async t => {
  const idp = await idpFor(t)
  const app = await build(t, envFor(idp))
  const res = await app.inject({ url: '/api/messages/protected', headers: bearer(idp.sign({ cnf: { 'x5t#S256': thumbprint() } })) })
  t.equal(res.statusCode, 401)
  t.equal((await app.inject('/.well-known/oauth-protected-resource')).json().tls_client_certificate_bound_access_tokens, undefined)
})
