import { Agent } from 'node:https'
import type { TLSSocket } from 'node:tls'
import Fastify, { type FastifyInstance, type onRequestHookHandler } from 'fastify'
import auth, { type MtlsOptions } from 'fastify-oauth-resource-server'
import type { TestIssuer } from 'fastify-oauth-resource-server/testing'
import t, { type Test } from 'tap'
import { createCertificateAuthority, type CertificateAuthority, type Issued } from '../fixtures/certificates.js'
import { requires } from '../fixtures/requires.js'
import { idpFor, TEST_SERVER } from '../helper.js'
import { plainGet, tlsGet, type Answer } from './tls-client.js'

// RFC 8705 §3 over real TLS on 127.0.0.1: certificates made per run with openssl, the plugin
// on a bare Fastify HTTPS server that asks for client certificates but lets clients without one in.

const MISMATCH = 'The client certificate does not match the certificate the access token is bound to'
const needs = requires('openssl')

interface Setup { server: FastifyInstance, idp: TestIssuer, ca: CertificateAuthority, client: Issued }

async function startTls (t: Test, mtls: MtlsOptions = {}, ca = createCertificateAuthority(t), onRequest?: onRequestHookHandler): Promise<Setup> {
  const idp = await idpFor(t)
  const serverCert = ca.issue('localhost', { server: true })
  const server = Fastify({ ...TEST_SERVER, https: { cert: serverCert.cert, key: serverCert.key, ca: ca.cert, requestCert: true, rejectUnauthorized: false } })
  t.teardown(() => server.close())
  if (onRequest !== undefined) server.addHook('onRequest', onRequest)
  await register(server, idp, mtls)
  await server.listen({ port: 0, host: '127.0.0.1' })
  return { server, idp, ca, client: ca.issue('client-1') }
}

async function register (server: FastifyInstance, idp: TestIssuer, mtls: MtlsOptions) {
  await server.register(auth, { issuer: idp.issuer, audience: idp.audience, keys: { fetchTimeout: 60 }, mtls })
  server.get('/me', { onRequest: server.authenticate }, async request => ({ sub: request.claims?.sub }))
  server.get('/bound-only', { onRequest: server.authenticate, config: { mtls: 'required' } }, async () => ({ ok: true }))
}

const bound = (idp: TestIssuer, certificate: Issued) => ({ authorization: `Bearer ${idp.sign({ sub: 'alice', cnf: { 'x5t#S256': certificate.thumbprint } })}` })

function refusedAsMismatch (t: Test, res: Answer, why: string) {
  t.equal(res.status, 401, why)
  t.equal(res.headers['www-authenticate'], `Bearer realm="api", error="invalid_token", error_description="${MISMATCH}"`, why)
  t.match(JSON.parse(res.body), { code: 'FST_AUTH_INVALID_TOKEN', message: MISMATCH }, why)
}

t.test('a certificate-bound token is accepted over TLS with the client certificate it is bound to', needs, async t => {
  const { server, idp, ca, client } = await startTls(t)
  const res = await tlsGet(server, '/me', { ca: ca.cert, client, headers: bound(idp, client) })
  t.equal(res.status, 200)
  t.same(JSON.parse(res.body), { sub: 'alice' })
})

t.test('a certificate-bound token sent without a client certificate is refused: 401 invalid_token, the certificate does not match', needs, async t => {
  const { server, idp, ca, client } = await startTls(t)
  refusedAsMismatch(t, await tlsGet(server, '/me', { ca: ca.cert, headers: bound(idp, client) }), 'no certificate')
})

t.test('a certificate-bound token sent with another certificate of the same CA is refused', needs, async t => {
  const { server, idp, ca, client } = await startTls(t)
  const other = ca.issue('client-2')
  refusedAsMismatch(t, await tlsGet(server, '/me', { ca: ca.cert, client: other, headers: bound(idp, client) }), 'another certificate')
  t.equal((await tlsGet(server, '/me', { ca: ca.cert, client: other, headers: bound(idp, other) })).status, 200, 'its own token works')
})

t.test('a certificate of another CA counts only with acceptUnverified: the TLS handshake did not verify it', needs, async t => {
  const { server, idp, ca } = await startTls(t)
  const stranger = createCertificateAuthority(t, 'Other CA').issue('stranger')
  refusedAsMismatch(t, await tlsGet(server, '/me', { ca: ca.cert, client: stranger, headers: bound(idp, stranger) }), 'a token bound to the unverified certificate')

  const selfSigned = await startTls(t, { acceptUnverified: true })
  const res = await tlsGet(selfSigned.server, '/me', { ca: selfSigned.ca.cert, client: stranger, headers: bound(selfSigned.idp, stranger) })
  t.equal(res.status, 200, 'self-signed style: the handshake proved the client holds the key')
  refusedAsMismatch(t, await tlsGet(selfSigned.server, '/me', { ca: selfSigned.ca.cert, client: stranger, headers: bound(selfSigned.idp, selfSigned.client) }), 'still only its own token')
})

t.test('an expired client certificate never counts, verified or not: the binding is to a certificate while it is valid', needs, async t => {
  for (const acceptUnverified of [false, true]) {
    const { server, idp, ca } = await startTls(t, { acceptUnverified })
    const expired = ca.issue('expired', { expired: true })
    refusedAsMismatch(t, await tlsGet(server, '/me', { ca: ca.cert, client: expired, headers: bound(idp, expired) }), `acceptUnverified ${acceptUnverified}`)
  }
})

t.test('Bearer tokens without a binding still work over TLS, with or without a client certificate', needs, async t => {
  const { server, idp, ca, client } = await startTls(t)
  const plain = { authorization: `Bearer ${idp.sign({ sub: 'bob' })}` }
  t.equal((await tlsGet(server, '/me', { ca: ca.cert, headers: plain })).status, 200)
  t.equal((await tlsGet(server, '/me', { ca: ca.cert, client, headers: plain })).status, 200)
})

t.test('a route with config.mtls required refuses a token that is not certificate-bound, and takes a bound one with its certificate', needs, async t => {
  const { server, idp, ca, client } = await startTls(t)
  const res = await tlsGet(server, '/bound-only', { ca: ca.cert, client, headers: { authorization: `Bearer ${idp.sign({ sub: 'bob' })}` } })
  t.equal(res.status, 401)
  t.match(res.headers['www-authenticate'], /error="invalid_token", error_description="Requires an access token bound to a client certificate"/)
  t.equal((await tlsGet(server, '/bound-only', { ca: ca.cert, client, headers: bound(idp, client) })).status, 200)
})

t.test('on a kept-alive connection every request is checked against the connection\'s certificate, read and hashed once', needs, async t => {
  let reads = 0
  const wrapped = new WeakSet<object>()
  const { server, idp, ca, client } = await startTls(t, {}, undefined, async request => {
    const socket = request.raw.socket as TLSSocket
    if (wrapped.has(socket)) return
    wrapped.add(socket)
    const read = socket.getPeerX509Certificate.bind(socket)
    socket.getPeerX509Certificate = () => {
      reads++
      return read()
    }
  })
  const agent = new Agent({ keepAlive: true, maxSockets: 1, ca: ca.cert, cert: client.cert, key: client.key })
  t.teardown(() => agent.destroy())
  const other = ca.issue('client-2')
  for (let i = 0; i < 3; i++) {
    t.equal((await tlsGet(server, '/me', { ca: ca.cert, client, agent, headers: bound(idp, client) })).status, 200)
    t.equal((await tlsGet(server, '/me', { ca: ca.cert, client, agent, headers: bound(idp, other) })).status, 401)
  }
  t.equal(reads, 1, 'six requests, one connection, one read')
})

// Behind a TLS-terminating proxy: the proxy's header, trusted only from the proxy.

async function startBehindProxy (t: Test, certificateHeader: NonNullable<MtlsOptions['certificateHeader']>) {
  const idp = await idpFor(t)
  const ca = createCertificateAuthority(t)
  const server = Fastify(TEST_SERVER)
  t.teardown(() => server.close())
  await register(server, idp, { certificateHeader })
  await server.listen({ port: 0, host: '127.0.0.1' })
  return { server, idp, ca, client: ca.issue('client-1') }
}

const escaped = (certificate: Issued) => encodeURIComponent(certificate.cert)

t.test('nginx: the URL-encoded PEM ($ssl_client_escaped_cert) from a trusted proxy is the client certificate', needs, async t => {
  const { server, idp, ca, client } = await startBehindProxy(t, { name: 'X-SSL-Client-Cert', format: 'escaped-pem', trustProxy: '127.0.0.1' })
  t.equal((await plainGet(server, '/me', { ...bound(idp, client), 'x-ssl-client-cert': escaped(client) })).status, 200)
  refusedAsMismatch(t, await plainGet(server, '/me', { ...bound(idp, client), 'x-ssl-client-cert': escaped(ca.issue('client-2')) }), 'another certificate')
  refusedAsMismatch(t, await plainGet(server, '/me', bound(idp, client)), 'no header')
  refusedAsMismatch(t, await plainGet(server, '/me', { ...bound(idp, client), 'x-ssl-client-cert': '' }), 'nginx\'s empty value: no certificate')
})

t.test('a certificate header from a peer that is not a trusted proxy is ignored', needs, async t => {
  const { server, idp, client } = await startBehindProxy(t, { name: 'x-ssl-client-cert', format: 'escaped-pem', trustProxy: '10.0.0.0/8' })
  refusedAsMismatch(t, await plainGet(server, '/me', { ...bound(idp, client), 'x-ssl-client-cert': escaped(client) }), 'the header is the client\'s own word')
})

t.test('over TLS, a client that is not a trusted proxy cannot name another certificate in the header', needs, async t => {
  const { server, idp, ca, client } = await startTls(t, { certificateHeader: { name: 'x-ssl-client-cert', format: 'escaped-pem', trustProxy: '10.0.0.0/8' } })
  const other = ca.issue('client-2')
  refusedAsMismatch(t, await tlsGet(server, '/me', { ca: ca.cert, client: other, headers: { ...bound(idp, client), 'x-ssl-client-cert': escaped(client) } }), 'the socket\'s certificate counts')
  t.equal((await tlsGet(server, '/me', { ca: ca.cert, client, headers: { ...bound(idp, client), 'x-ssl-client-cert': escaped(other) } })).status, 200)
})

t.test('a malformed certificate header counts as no certificate', needs, async t => {
  const { server, idp, client } = await startBehindProxy(t, { name: 'x-ssl-client-cert', format: 'escaped-pem', trustProxy: '127.0.0.1' })
  const pem = client.cert
  const malformed = [
    '%E0%A4%A', // bad percent-encoding
    encodeURIComponent(pem.replace(/[A-Za-z]{8}\n/, 'AAAAAAAA\n')), // corrupted DER
    encodeURIComponent(pem + pem), // two certificates
    'not a certificate',
    encodeURIComponent(pem.replace('CERTIFICATE', 'PUBLIC KEY'))
  ]
  for (const value of malformed) {
    refusedAsMismatch(t, await plainGet(server, '/me', { ...bound(idp, client), 'x-ssl-client-cert': value }), value.slice(0, 40))
  }
})

t.test('a certificate header over maxBytes is not read', needs, async t => {
  const { server, idp, client } = await startBehindProxy(t, { name: 'x-ssl-client-cert', format: 'escaped-pem', trustProxy: '127.0.0.1', maxBytes: 256 })
  t.ok(escaped(client).length > 256)
  refusedAsMismatch(t, await plainGet(server, '/me', { ...bound(idp, client), 'x-ssl-client-cert': escaped(client) }), 'over the cap')
  const roomy = await startBehindProxy(t, { name: 'x-ssl-client-cert', format: 'escaped-pem', trustProxy: '127.0.0.1' })
  t.equal((await plainGet(roomy.server, '/me', { ...bound(roomy.idp, roomy.client), 'x-ssl-client-cert': escaped(roomy.client) })).status, 200, 'within the default cap')
})

t.test('an expired certificate in a trusted proxy\'s header does not count', needs, async t => {
  const { server, idp, ca } = await startBehindProxy(t, { name: 'x-ssl-client-cert', format: 'escaped-pem', trustProxy: '127.0.0.1' })
  const expired = ca.issue('expired', { expired: true })
  refusedAsMismatch(t, await plainGet(server, '/me', { ...bound(idp, expired), 'x-ssl-client-cert': escaped(expired) }), 'expired')
})

t.test('Envoy: x-forwarded-client-cert with Cert= (quoted or not) or Hash=, one element only', needs, async t => {
  const { server, idp, ca, client } = await startBehindProxy(t, { name: 'x-forwarded-client-cert', format: 'xfcc', trustProxy: '127.0.0.1' })
  const hash = Buffer.from(client.thumbprint, 'base64url').toString('hex')
  const other = ca.issue('client-2')
  const otherHash = Buffer.from(other.thumbprint, 'base64url').toString('hex')
  const accepted = [
    `By=spiffe://api;Hash=${hash};Cert="${escaped(client)}";Subject="CN=client-1,O=x";URI=spiffe://client`,
    `Cert=${escaped(client)}`,
    `Hash=${hash}`,
    `hash=${hash.toUpperCase()};DNS=a.example;DNS=b.example`
  ]
  for (const xfcc of accepted) t.equal((await plainGet(server, '/me', { ...bound(idp, client), 'x-forwarded-client-cert': xfcc })).status, 200, xfcc.slice(0, 60))
  const refused = [
    `Hash=${otherHash}`,
    `Hash=${otherHash};Cert="${escaped(client)}"`, // the two disagree
    `Hash=${hash},Hash=${otherHash}`, // several elements: whose is the client's is not ours to guess
    `By=spiffe://proxy;Hash=${hash},By=spiffe://api;Hash=${hash}`,
    `By=spiffe://edge;URI=spiffe://proxy,Hash=${hash}`,
    `Hash=${hash},By=spiffe://proxy`,
    `Cert="${escaped(client)}`, // unterminated quote
    `Hash=${hash};Hash=${hash}`,
    `Hash=${hash.slice(2)}`,
    'Subject="CN=x";Hash',
    ''
  ]
  for (const xfcc of refused) refusedAsMismatch(t, await plainGet(server, '/me', { ...bound(idp, client), 'x-forwarded-client-cert': xfcc }), xfcc.slice(0, 60))
})

t.test('plain base64 DER in a trusted proxy\'s header', needs, async t => {
  const { server, idp, client } = await startBehindProxy(t, { name: 'x-client-cert', format: 'base64-der', trustProxy: '127.0.0.1' })
  const der = client.cert.replace(/-----[A-Z ]+-----|\s/g, '')
  t.equal((await plainGet(server, '/me', { ...bound(idp, client), 'x-client-cert': der })).status, 200)
  refusedAsMismatch(t, await plainGet(server, '/me', { ...bound(idp, client), 'x-client-cert': `${der.slice(0, 40)} ${der.slice(40)}` }), 'not strict base64')
  refusedAsMismatch(t, await plainGet(server, '/me', { ...bound(idp, client), 'x-client-cert': der.slice(0, -8) }), 'truncated')
})
