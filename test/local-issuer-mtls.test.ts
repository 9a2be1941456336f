import { request } from 'node:https'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { createCertificateAuthority, type Issued } from './fixtures/certificates.js'
import { requires } from './fixtures/requires.js'
import { startServerProcess } from './fixtures/server-process.js'
import { tlsGet, type Answer } from './mtls/tls-client.js'

// The compiled server.ts in a child process, as `npm start` runs it: HTTPS with client
// certificates and the local issuer, nothing else configured.
function startServer (t: Test, env: Record<string, string>) {
  const server = startServerProcess(t, cwd => ({ PORT: '0', HOST: '127.0.0.1', LOCAL_ISSUER_PORT: '0', LOCAL_ISSUER_DATA: join(cwd, 'issuer'), ...env }))
  // The newcomer guide is printed last.
  return { started: server.printed(/Try it:/).then(() => server.output()) }
}

/** A client_credentials token request for local-mtls over real TLS, with the client certificate `client` if given. */
function requestToken (url: string, ca: string, client: Issued | undefined): Promise<Answer> {
  const body = new URLSearchParams({ grant_type: 'client_credentials', client_id: 'local-mtls' }).toString()
  return new Promise((resolve, reject) => {
    const tls = { ca, cert: client?.cert, key: client?.key, servername: 'localhost' }
    const req = request(`${url}/oauth/token`, {
      ...tls,
      method: 'POST',
      agent: false,
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body) }
    }, res => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', chunk => { text += chunk })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }))
    })
    req.on('error', reject)
    req.end(body)
  })
}

const claims = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString()) as Record<string, unknown>

t.test('npm start with TLS_CLIENT_CA_FILE: the local issuer binds local-mtls tokens to its certificate; the API accepts them with that certificate only', requires('openssl'), async t => {
  const ca = createCertificateAuthority(t)
  const serverCert = ca.issue('localhost', { server: true })
  const certA = ca.issue('local-mtls')
  const certB = ca.issue('local-mtls')
  const { started } = startServer(t, { TLS_CERT_FILE: serverCert.certFile, TLS_KEY_FILE: serverCert.keyFile, TLS_CLIENT_CA_FILE: ca.certFile })
  const output = await started
  const mtlsUrl = /Certificate-bound tokens \(RFC 8705\).* at (https:\/\/127\.0\.0\.1:\d+)\/oauth\/token/.exec(output)?.[1]
  const apiPort = Number(/Hello World API: {2}https:\/\/127\.0\.0\.1:(\d+)/.exec(output)?.[1])
  if (mtlsUrl === undefined) throw new Error(`no mTLS token endpoint printed: ${output}`)

  const answer = await requestToken(mtlsUrl, ca.cert, certA)
  t.equal(answer.status, 200, answer.status === 200 ? 'a token for local-mtls' : answer.body)
  const token = JSON.parse(answer.body).access_token as string
  t.same(claims(token).cnf, { 'x5t#S256': certA.thumbprint }, 'the token is bound to certificate A')

  const call = (client: Issued | undefined) => tlsGet(apiPort, '/api/messages/protected', { ca: ca.cert, client, headers: { authorization: `Bearer ${token}` } })
  t.equal((await call(certA)).status, 200, 'with certificate A')
  for (const [name, client] of [['another certificate of the same CA', certB], ['no certificate', undefined]] as const) {
    const refused = await call(client)
    t.equal(refused.status, 401, name)
    t.match(JSON.parse(refused.body), { error: 'invalid_token' }, name)
  }
})

t.test('the local issuer\'s mTLS token endpoint refuses local-mtls without a certificate, or with another subject', requires('openssl'), async t => {
  const ca = createCertificateAuthority(t)
  const serverCert = ca.issue('localhost', { server: true })
  const { started } = startServer(t, { TLS_CERT_FILE: serverCert.certFile, TLS_KEY_FILE: serverCert.keyFile, TLS_CLIENT_CA_FILE: ca.certFile })
  const output = await started
  const mtlsUrl = /Certificate-bound tokens \(RFC 8705\).* at (https:\/\/127\.0\.0\.1:\d+)\/oauth\/token/.exec(output)?.[1] ?? ''
  const other = createCertificateAuthority(t, 'Other CA')
  for (const [name, client] of [['no certificate', undefined], ['subject CN=mallory', ca.issue('mallory')], ['CN=local-mtls of another CA', other.issue('local-mtls')]] as const) {
    const answer = await requestToken(mtlsUrl, ca.cert, client)
    t.equal(answer.status, 401, name)
    t.match(JSON.parse(answer.body), { error: 'invalid_client' }, name)
  }
})

t.test('npm start with HTTPS but no TLS_CLIENT_CA_FILE: no mTLS token endpoint, no local-mtls client', requires('openssl'), async t => {
  const ca = createCertificateAuthority(t)
  const serverCert = ca.issue('localhost', { server: true })
  const { started } = startServer(t, { TLS_CERT_FILE: serverCert.certFile, TLS_KEY_FILE: serverCert.keyFile })
  const output = await started
  t.notMatch(output, 'Certificate-bound tokens')
})
