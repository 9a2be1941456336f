import { execFile } from 'node:child_process'
import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto'
import { mkdtempSync, readFileSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import { createDevCertificates, DevCertificatesError } from '../scripts/dev-certificates.js'
import { programPath, requires } from './fixtures/requires.js'
import { compiled, plainNode } from './helper.js'

const cert = (file: string) => new X509Certificate(readFileSync(file))
const keyMatches = (certFile: string, keyFile: string) =>
  cert(certFile).checkPrivateKey(createPrivateKey(readFileSync(keyFile)))

t.test('npm run dev-certs: a CA, a server certificate for localhost and 127.0.0.1 and a client certificate it signed', requires('openssl'), async t => {
  const dir = join(mkdtempSync(join(tmpdir(), 'dev-certs-')), 'certs')
  const { stdout } = await promisify(execFile)(...plainNode([compiled('scripts/dev-certs'), dir]), { env: { PATH: process.env.PATH ?? '' }, timeout: 300_000 })
  const ca = cert(join(dir, 'ca.pem'))
  const server = cert(join(dir, 'server.pem'))
  const client = cert(join(dir, 'client.pem'))
  t.ok(ca.ca, 'the CA certificate is a CA')
  t.notOk(client.ca, 'the client certificate is not a CA')
  t.equal(client.subject, 'CN=local-mtls', 'the subject of the local issuer\'s local-mtls client')
  t.ok(client.verify(createPublicKey(ca.publicKey.export({ type: 'spki', format: 'pem' }))), 'the CA signed the client certificate')
  t.ok(client.checkIssued(ca), 'the client certificate names the CA as issuer')
  t.ok(server.verify(ca.publicKey) && server.checkIssued(ca), 'the CA signed the server certificate')
  t.equal(server.checkHost('localhost'), 'localhost')
  t.equal(server.checkIP('127.0.0.1'), '127.0.0.1')
  t.ok(client.keyUsage?.includes('1.3.6.1.5.5.7.3.2'), 'the client certificate is for client authentication')
  t.ok(keyMatches(join(dir, 'client.pem'), join(dir, 'client.key')), 'client.key is the client certificate\'s key')
  t.ok(keyMatches(join(dir, 'server.pem'), join(dir, 'server.key')), 'server.key is the server certificate\'s key')
  t.notOk(keyMatches(join(dir, 'client.pem'), join(dir, 'server.key')), 'the two keys differ')
  t.equal(statSync(join(dir, 'ca.key')).mode & 0o077, 0, 'the CA key is readable by its owner only')
  t.match(stdout, `TLS_CERT_FILE=${join(dir, 'server.pem')}`)
  t.match(stdout, `TLS_KEY_FILE=${join(dir, 'server.key')}`)
  t.match(stdout, `TLS_CLIENT_CA_FILE=${join(dir, 'ca.pem')}`)
})

t.test('npm run dev-certs refuses a folder that already holds a CA key, and keeps it', requires('openssl'), async t => {
  const dir = mkdtempSync(join(tmpdir(), 'dev-certs-'))
  const openssl = programPath('openssl')
  await createDevCertificates(dir, { openssl })
  const before = readFileSync(join(dir, 'ca.key'), 'utf8')
  await t.rejects(createDevCertificates(dir, { openssl }), new DevCertificatesError(`${join(dir, 'ca.key')} exists: remove ${dir} to make new certificates`))
  t.equal(readFileSync(join(dir, 'ca.key'), 'utf8'), before, 'the CA key is untouched')
})

t.test('npm run dev-certs without openssl says how to install it', async t => {
  const dir = mkdtempSync(join(tmpdir(), 'dev-certs-'))
  await t.rejects(createDevCertificates(dir, { openssl: join(dir, 'no-openssl') }), { message: /openssl is not installed .*apt-get install -y openssl/ })
})
