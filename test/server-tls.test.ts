import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect } from 'node:tls'
import t, { type Test } from 'tap'
import { createCertificateAuthority, type Issued } from './fixtures/certificates.js'
import { requires } from './fixtures/requires.js'
import { envFor, idpFor } from './helper.js'
import { startServerProcess } from './fixtures/server-process.js'
import { tlsGet } from './mtls/tls-client.js'

const needs = requires('openssl')

/** The compiled server.ts serving HTTPS, and the port it listens on. */
function startServer (t: Test, env: Record<string, string>) {
  const server = startServerProcess(t, () => env)
  const port = server.printed(/Server listening at https:\/\/127\.0\.0\.1:(\d+)/).then(Number)
  return { ...server, port }
}

/** The thumbprint of the certificate the server presents to a new connection. */
function serverThumbprint (port: number, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, ca, servername: 'localhost' }, () => {
      const certificate = socket.getPeerX509Certificate()
      socket.end()
      if (certificate === undefined) return reject(new Error('no server certificate'))
      resolve(Buffer.from(certificate.fingerprint256.replaceAll(':', ''), 'hex').toString('base64url'))
    })
    socket.on('error', reject)
  })
}

const bound = (token: string) => ({ authorization: `Bearer ${token}` })

t.test('HTTPS with TLS_CLIENT_CA_FILE: a certificate-bound token with its certificate; Bearer clients without one still connect', needs, async t => {
  const idp = await idpFor(t)
  const ca = createCertificateAuthority(t)
  const serverCert = ca.issue('localhost', { server: true })
  const client = ca.issue('client')
  const server = startServer(t, { ...envFor(idp), PORT: '0', HOST: '127.0.0.1', TLS_CERT_FILE: serverCert.certFile, TLS_KEY_FILE: serverCert.keyFile, TLS_CLIENT_CA_FILE: ca.certFile })
  const port = await server.port
  const token = idp.sign({ sub: 'alice', cnf: { 'x5t#S256': client.thumbprint } })
  t.equal((await tlsGet(port, '/api/messages/protected', { ca: ca.cert, client, headers: bound(token) })).status, 200)
  const without = await tlsGet(port, '/api/messages/protected', { ca: ca.cert, headers: bound(token) })
  t.equal(without.status, 401)
  t.match(JSON.parse(without.body), { error: 'invalid_token', error_description: 'The client certificate does not match the certificate the access token is bound to' })
  t.equal((await tlsGet(port, '/api/messages/protected', { ca: ca.cert, headers: bound(idp.sign({ sub: 'bob' })) })).status, 200, 'a Bearer client without a certificate')
  const metadata = JSON.parse((await tlsGet(port, '/.well-known/oauth-protected-resource', { ca: ca.cert })).body)
  t.equal(metadata.tls_client_certificate_bound_access_tokens, true)
  t.equal(metadata.resource, `https://127.0.0.1:${port}`)
})

t.test('SIGHUP re-reads the certificate files: new connections get the renewed certificate; bad files keep the running one', needs, async t => {
  const idp = await idpFor(t)
  const ca = createCertificateAuthority(t)
  const dir = mkdtempSync(join(tmpdir(), 'server-tls-files-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const certFile = join(dir, 'cert.pem')
  const keyFile = join(dir, 'key.pem')
  const install = (issued: Issued) => {
    copyFileSync(issued.certFile, certFile)
    copyFileSync(issued.keyFile, keyFile)
  }
  const first = ca.issue('localhost', { server: true })
  install(first)
  const server = startServer(t, { ...envFor(idp), PORT: '0', HOST: '127.0.0.1', TLS_CERT_FILE: certFile, TLS_KEY_FILE: keyFile })
  const port = await server.port
  t.equal(await serverThumbprint(port, ca.cert), first.thumbprint)

  const renewed = ca.issue('localhost', { server: true })
  install(renewed)
  let from = server.output().length
  server.child.kill('SIGHUP')
  await server.printed(/TLS certificate reloaded/, from)
  t.equal(await serverThumbprint(port, ca.cert), renewed.thumbprint, 'the renewed certificate, without a restart')

  writeFileSync(keyFile, first.key) // a key that is not the certificate's
  from = server.output().length
  server.child.kill('SIGHUP')
  await server.printed(/TLS certificate not reloaded; the previous one stays in use/, from)
  t.equal(await serverThumbprint(port, ca.cert), renewed.thumbprint, 'still serving')
  t.match(server.output().slice(from), /TLS_KEY_FILE does not match the certificate in TLS_CERT_FILE/)
})
