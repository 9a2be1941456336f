import { createHash, X509Certificate } from 'node:crypto'
import type { CertificateHeaderFormat } from './types.js'
import { parseXfcc } from './xfcc.js'

/** A client certificate as the binding check needs it: its thumbprint and, when known, validity in ms since the epoch. */
export interface PresentedCertificate {
  /** RFC 8705 §3.1: the base64url SHA-256 of the certificate's DER, as `cnf.x5t#S256` names it. */
  thumbprint: string
  notBefore: number
  notAfter: number
}

/** The thumbprint and validity of a parsed certificate; its DER as parsed, never the bytes around it. */
export function describeCertificate (certificate: X509Certificate): PresentedCertificate {
  return {
    thumbprint: createHash('sha256').update(certificate.raw).digest('base64url'),
    notBefore: Date.parse(certificate.validFrom),
    notAfter: Date.parse(certificate.validTo)
  }
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/
const HEX_SHA256 = /^[0-9A-Fa-f]{64}$/
const PEM_BEGIN = '-----BEGIN CERTIFICATE-----'

/**
 * The certificate a trusted proxy's header carries, in its format; undefined when the
 * header carries none (nginx sends an empty value then) or cannot be read. Certificates
 * are parsed by node:crypto's X509Certificate only.
 */
export function readCertificateHeader (value: string, format: CertificateHeaderFormat): PresentedCertificate | undefined {
  switch (format) {
    case 'escaped-pem': return fromEscapedPem(value)
    case 'base64-der': return value !== '' && BASE64.test(value) ? parse(Buffer.from(value, 'base64')) : undefined
    case 'xfcc': {
      const element = parseXfcc(value)
      if (element === undefined) return undefined
      const { cert, hash } = element
      if (hash !== undefined && !HEX_SHA256.test(hash)) return undefined
      const hashed = hash === undefined ? undefined : Buffer.from(hash, 'hex').toString('base64url')
      if (cert === undefined) {
        // Hash alone: the proxy's word for the thumbprint, with no validity to check.
        return hashed === undefined ? undefined : { thumbprint: hashed, notBefore: -Infinity, notAfter: Infinity }
      }
      const presented = fromEscapedPem(cert)
      // Both given: they must name the same certificate.
      if (presented === undefined || (hashed !== undefined && hashed !== presented.thumbprint)) return undefined
      return presented
    }
  }
}

function fromEscapedPem (value: string): PresentedCertificate | undefined {
  let pem: string
  try {
    pem = decodeURIComponent(value)
  } catch {
    return undefined
  }
  // One certificate: X509Certificate would read the first of several and ignore the rest.
  if (!pem.startsWith(PEM_BEGIN) || pem.indexOf(PEM_BEGIN, 1) !== -1) return undefined
  return parse(pem)
}

function parse (input: string | Buffer): PresentedCertificate | undefined {
  try {
    return describeCertificate(new X509Certificate(input))
  } catch {
    return undefined
  }
}
