/**
 * Makes a development CA, a server certificate for localhost and 127.0.0.1 and a client
 * certificate, for HTTPS and certificate-bound tokens on one machine (docs/mtls.md).
 *   npm run dev-certs               into .dev-certs/
 *   npm run dev-certs -- <folder>
 */
import { createDevCertificates, devCertificatesGuide, DevCertificatesError } from './dev-certificates.js'

try {
  const certs = await createDevCertificates(process.argv[2] ?? '.dev-certs')
  for (const line of devCertificatesGuide(certs)) console.log(line)
} catch (error) {
  console.error(error instanceof DevCertificatesError ? error.message : error)
  process.exitCode = 1
}
