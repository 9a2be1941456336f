import { optionChecks } from '../option-checks.js'
import { compileTrustedProxies, type TrustedProxy } from '../trusted-proxies.js'
import type { CertificateHeaderFormat, MtlsMode, MtlsOptions } from './types.js'

export const MTLS_MODES: readonly MtlsMode[] = ['allowed', 'required']
export const CERTIFICATE_HEADER_FORMATS: readonly CertificateHeaderFormat[] = ['escaped-pem', 'xfcc', 'base64-der']

export interface ResolvedCertificateHeader {
  /** Lower case, as Node names request headers. */
  name: string
  format: CertificateHeaderFormat
  trustedProxy: TrustedProxy
  maxBytes: number
}

export interface ResolvedMtlsOptions {
  /** Whether the option was given: certificates are expected to reach the plugin (RFC 9728 metadata says so). */
  enabled: boolean
  mode: MtlsMode
  acceptUnverified: boolean
  header: ResolvedCertificateHeader | undefined
}

// RFC 9110 §5.1: a header name is a token.
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/

/** Checks the `mtls` options and fills in defaults; throws naming the bad option. */
export function resolveMtlsOptions (options: MtlsOptions | undefined): ResolvedMtlsOptions {
  const { fail, number } = optionChecks('auth plugin: option mtls.')
  if (options === undefined) return { enabled: false, mode: 'allowed', acceptUnverified: false, header: undefined }
  if (typeof options !== 'object' || options === null) fail('', 'must be an object')

  const mode = options.mode ?? 'allowed'
  if (!MTLS_MODES.includes(mode)) fail('mode', `must be one of ${MTLS_MODES.join(', ')}; got ${JSON.stringify(mode)}`)
  const acceptUnverified = options.acceptUnverified ?? false
  if (typeof acceptUnverified !== 'boolean') fail('acceptUnverified', 'must be a boolean')

  let header: ResolvedCertificateHeader | undefined
  const given = options.certificateHeader
  if (given !== undefined) {
    if (typeof given !== 'object' || given === null) fail('certificateHeader', 'must be an object')
    if (typeof given.name !== 'string' || !HEADER_NAME.test(given.name)) fail('certificateHeader.name', `must be a header name; got ${JSON.stringify(given.name)}`)
    if (!CERTIFICATE_HEADER_FORMATS.includes(given.format)) {
      fail('certificateHeader.format', `must be one of ${CERTIFICATE_HEADER_FORMATS.join(', ')}; got ${JSON.stringify(given.format)}`)
    }
    if (given.trustProxy === undefined || (given.trustProxy as unknown) === false) {
      fail('certificateHeader.trustProxy', 'is required: the addresses or CIDRs of the proxies that set the header; ' +
        'without it any client could name a certificate it does not hold')
    }
    header = {
      name: given.name.toLowerCase(),
      format: given.format,
      trustedProxy: compileTrustedProxies(given.trustProxy, 'certificateHeader.trustProxy', fail),
      maxBytes: Math.floor(number('certificateHeader.maxBytes', given.maxBytes, 16_384, 256))
    }
  }
  return { enabled: true, mode, acceptUnverified, header }
}
