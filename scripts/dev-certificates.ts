import { execFile } from 'node:child_process'
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { promisify } from 'node:util'
import { LocalClients } from '../local-issuer/issuer-info.js'

/** The files `npm run dev-certs` makes, by role (absolute paths). */
export interface DevCertificates {
  dir: string
  caCert: string
  caKey: string
  serverCert: string
  serverKey: string
  clientCert: string
  clientKey: string
}

export class DevCertificatesError extends Error {}

const FILES = {
  caCert: 'ca.pem',
  caKey: 'ca.key',
  serverCert: 'server.pem',
  serverKey: 'server.key',
  clientCert: 'client.pem',
  clientKey: 'client.key'
} as const

const EXTENSIONS = [
  '[server]', 'basicConstraints = critical,CA:FALSE', 'keyUsage = critical,digitalSignature', 'extendedKeyUsage = serverAuth',
  'subjectAltName = DNS:localhost,IP:127.0.0.1',
  '[client]', 'basicConstraints = critical,CA:FALSE', 'keyUsage = critical,digitalSignature', 'extendedKeyUsage = clientAuth', ''
].join('\n')

/** Long enough not to get in a developer's way, short enough that a leaked development CA dies. */
const DAYS = '90'

/**
 * A development CA, a server certificate for localhost and 127.0.0.1, and a client
 * certificate, made with openssl (EC P-256) in `dir`. Refuses a folder that already holds
 * a CA key: new files would silently invalidate certificates made from the old CA.
 */
/** The client certificate's subject is CN=local-mtls: the local issuer's client for certificate-bound tokens. */
export async function createDevCertificates (dir: string, { openssl = 'openssl', clientName = LocalClients.mtls as string } = {}): Promise<DevCertificates> {
  const abs = resolve(dir)
  const files = Object.fromEntries(Object.entries(FILES).map(([role, name]) => [role, join(abs, name)])) as Omit<DevCertificates, 'dir'>
  if (existsSync(files.caKey)) throw new DevCertificatesError(`${files.caKey} exists: remove ${abs} to make new certificates`)
  mkdirSync(abs, { recursive: true, mode: 0o700 })
  const run = async (args: string[]) => {
    try {
      await promisify(execFile)(openssl, args, { cwd: abs })
    } catch (error) {
      const { code, stderr } = error as { code?: unknown, stderr?: string }
      if (code === 'ENOENT') throw new DevCertificatesError(`openssl is not installed (${openssl}): on Debian, sudo apt-get install -y openssl`)
      throw new DevCertificatesError(`openssl ${args[0] ?? ''} failed: ${(stderr ?? String(error)).trim()}`)
    }
  }
  const newKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes']
  const extFile = join(abs, 'extensions.cnf')
  writeFileSync(extFile, EXTENSIONS)
  try {
    await run(['req', '-x509', ...newKey, '-keyout', FILES.caKey, '-out', FILES.caCert, '-days', DAYS, '-subj', '/CN=Hello World API development CA',
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'])
    for (const [name, cert, key, subject] of [
      ['server', FILES.serverCert, FILES.serverKey, '/CN=localhost'],
      ['client', FILES.clientCert, FILES.clientKey, `/CN=${clientName}`]
    ] as const) {
      const csr = `${name}.csr`
      await run(['req', ...newKey, '-keyout', key, '-out', csr, '-subj', subject])
      await run(['x509', '-req', '-in', csr, '-CA', FILES.caCert, '-CAkey', FILES.caKey, '-CAcreateserial', '-days', DAYS,
        '-sha256', '-extfile', extFile, '-extensions', name, '-out', cert])
      rmSync(join(abs, csr))
    }
  } finally {
    rmSync(extFile, { force: true })
    rmSync(join(abs, 'ca.srl'), { force: true })
  }
  return { dir: abs, ...files }
}

/** What to set (and run) to use them: the service's variables and a curl with the client certificate. */
export function devCertificatesGuide (certs: DevCertificates): string[] {
  return [
    `Development certificates in ${certs.dir} (not for production; the CA key can sign anything).`,
    'Serve HTTPS and ask clients for certificates of this CA (in .env or the environment):',
    `  TLS_CERT_FILE=${certs.serverCert}`,
    `  TLS_KEY_FILE=${certs.serverKey}`,
    `  TLS_CLIENT_CA_FILE=${certs.caCert}`,
    'With the local issuer, npm start then prints a token endpoint for client local-mtls (this client certificate): docs/mtls.md.',
    'A client with its certificate:',
    `  curl --cacert ${certs.caCert} --cert ${certs.clientCert} --key ${certs.clientKey} https://localhost:6060/api/messages/public`
  ]
}
