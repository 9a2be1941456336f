import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { loadConfig } from '../../config/index.js'
import { createCertificateAuthority } from '../fixtures/certificates.js'
import { requires } from '../fixtures/requires.js'

// HTTPS settings, read and checked once by loadConfig: a bad one stops start-up naming the variable.

const issuer = { ISSUER_BASE_URL: 'https://idp.example.com/', AUDIENCE: 'https://api.example.com' }
const needs = requires('openssl')

t.test('TLS_CERT_FILE and TLS_KEY_FILE are read once into the config; TLS_CLIENT_CA_FILE asks clients for certificates', needs, async t => {
  const ca = createCertificateAuthority(t)
  const server = ca.issue('localhost', { server: true })
  const config = loadConfig({ ...issuer, TLS_CERT_FILE: server.certFile, TLS_KEY_FILE: server.keyFile, TLS_CLIENT_CA_FILE: ca.certFile })
  t.equal(config.tls?.files.cert, server.cert)
  t.equal(config.tls?.files.key, server.key)
  t.equal(config.tls?.files.clientCa, ca.cert)
  t.same(config.dpop.origin, ['https://localhost:6060', 'https://127.0.0.1:6060'], 'DPoP proofs name the https origin')
  t.equal(loadConfig(issuer).tls, undefined, 'plain HTTP without them')
})

t.test('bad TLS settings stop start-up with one line naming the variable', needs, async t => {
  const ca = createCertificateAuthority(t)
  const server = ca.issue('localhost', { server: true })
  const other = ca.issue('other', { server: true })
  const dir = mkdtempSync(join(tmpdir(), 'tls-config-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const garbage = join(dir, 'garbage.pem')
  writeFileSync(garbage, 'not a PEM file\n')
  const missing = join(dir, 'missing.pem')
  const copied = join(dir, 'key-copy.pem')
  copyFileSync(other.keyFile, copied)
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ TLS_CERT_FILE: server.certFile }, /^TLS_KEY_FILE is required with TLS_CERT_FILE/],
    [{ TLS_KEY_FILE: server.keyFile }, /^TLS_CERT_FILE is required with TLS_KEY_FILE/],
    [{ TLS_CERT_FILE: missing, TLS_KEY_FILE: server.keyFile }, /^TLS_CERT_FILE cannot be read: .*missing\.pem \(ENOENT\)$/],
    [{ TLS_CERT_FILE: server.certFile, TLS_KEY_FILE: missing }, /^TLS_KEY_FILE cannot be read: .*missing\.pem \(ENOENT\)$/],
    [{ TLS_CERT_FILE: garbage, TLS_KEY_FILE: server.keyFile }, /^TLS_CERT_FILE must hold a PEM certificate/],
    [{ TLS_CERT_FILE: server.certFile, TLS_KEY_FILE: garbage }, /^TLS_KEY_FILE must hold an unencrypted PEM private key/],
    [{ TLS_CERT_FILE: server.certFile, TLS_KEY_FILE: copied }, /^TLS_KEY_FILE does not match the certificate in TLS_CERT_FILE/],
    [{ TLS_CLIENT_CA_FILE: ca.certFile }, /^TLS_CLIENT_CA_FILE needs TLS_CERT_FILE and TLS_KEY_FILE/],
    [{ TLS_CERT_FILE: server.certFile, TLS_KEY_FILE: server.keyFile, TLS_CLIENT_CA_FILE: missing }, /^TLS_CLIENT_CA_FILE cannot be read/],
    [{ TLS_CERT_FILE: server.certFile, TLS_KEY_FILE: server.keyFile, TLS_CLIENT_CA_FILE: other.certFile }, /^TLS_CLIENT_CA_FILE must hold the PEM certificate of the CA/],
    [{ TLS_CLIENT_CERT_HEADER: 'x-ssl-client-cert', TLS_CLIENT_CERT_FORMAT: 'escaped-pem' }, /^TLS_CLIENT_CERT_HEADER needs TRUST_PROXY/],
    [{ TLS_CLIENT_CERT_HEADER: 'x-ssl-client-cert', TRUST_PROXY: '10.0.0.1' }, /^TLS_CLIENT_CERT_FORMAT is required with TLS_CLIENT_CERT_HEADER: one of escaped-pem, xfcc, base64-der/],
    [{ TLS_CLIENT_CERT_HEADER: 'x ssl', TLS_CLIENT_CERT_FORMAT: 'xfcc', TRUST_PROXY: '10.0.0.1' }, /^TLS_CLIENT_CERT_HEADER must be a header name/],
    [{ TLS_CLIENT_CERT_HEADER: 'x-ssl-client-cert', TLS_CLIENT_CERT_FORMAT: 'pem', TRUST_PROXY: '10.0.0.1' }, /^TLS_CLIENT_CERT_FORMAT must be equal to one of the allowed values/],
    [{ TLS_CLIENT_CERT_FORMAT: 'xfcc' }, /^TLS_CLIENT_CERT_FORMAT is only used with TLS_CLIENT_CERT_HEADER/]
  ]
  for (const [env, message] of cases) {
    t.throws(() => loadConfig({ ...issuer, ...env }), { name: 'ConfigError', message }, JSON.stringify(env))
  }
})

t.test('TLS_CLIENT_CERT_HEADER behind TRUST_PROXY names the header and its format', async t => {
  const config = loadConfig({ ...issuer, TLS_CLIENT_CERT_HEADER: 'X-Forwarded-Client-Cert', TLS_CLIENT_CERT_FORMAT: 'xfcc', TRUST_PROXY: '10.0.0.1' })
  t.same(config.clientCertHeader, { name: 'X-Forwarded-Client-Cert', format: 'xfcc' })
})
