import { createPrivateKey, X509Certificate } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { ConfigError } from './error.js'
import type { Env } from './schema.js'

export const CLIENT_CERT_FORMATS = ['escaped-pem', 'xfcc', 'base64-der'] as const

/** HTTPS from TLS_CERT_FILE and TLS_KEY_FILE; client certificates from TLS_CLIENT_CA_FILE. */
export interface TlsConfig {
  certFile: string
  keyFile: string
  /** Undefined: the server asks no client for a certificate. */
  clientCaFile: string | undefined
  /** The files' contents as read at start-up (PEM). */
  files: TlsFiles
}

export interface TlsFiles {
  cert: string
  key: string
  clientCa: string | undefined
}

/** TLS_CLIENT_CERT_HEADER: the header a trusted proxy (TRUST_PROXY) passes the client certificate in, and its format. */
export interface ClientCertHeaderConfig {
  name: string
  format: typeof CLIENT_CERT_FORMATS[number]
}

/** HTTPS settings, or undefined when TLS_CERT_FILE is unset (plain HTTP); throws ConfigError naming the variable. */
export function resolveTls (env: Env): TlsConfig | undefined {
  const { TLS_CERT_FILE: certFile, TLS_KEY_FILE: keyFile, TLS_CLIENT_CA_FILE: clientCaFile } = env
  if (certFile === undefined && keyFile === undefined) {
    if (clientCaFile !== undefined) throw new ConfigError('TLS_CLIENT_CA_FILE needs TLS_CERT_FILE and TLS_KEY_FILE: client certificates come with HTTPS')
    return undefined
  }
  if (certFile === undefined) throw new ConfigError('TLS_CERT_FILE is required with TLS_KEY_FILE: the server certificate (PEM)')
  if (keyFile === undefined) throw new ConfigError('TLS_KEY_FILE is required with TLS_CERT_FILE: the server certificate\'s private key (PEM)')
  const tls = { certFile, keyFile, clientCaFile }
  return { ...tls, files: readTlsFiles(tls) }
}

/**
 * Reads and checks the files, at start-up and again on SIGHUP (a renewed certificate):
 * each readable, the certificate and key PEM that belong together, the CA a certificate.
 * Throws ConfigError naming the variable.
 */
export function readTlsFiles ({ certFile, keyFile, clientCaFile }: Pick<TlsConfig, 'certFile' | 'keyFile' | 'clientCaFile'>): TlsFiles {
  const cert = readPem('TLS_CERT_FILE', certFile)
  const key = readPem('TLS_KEY_FILE', keyFile)
  let certificate: X509Certificate
  try {
    certificate = new X509Certificate(cert)
  } catch {
    throw new ConfigError(`TLS_CERT_FILE must hold a PEM certificate (${certFile} does not)`)
  }
  let privateKey
  try {
    privateKey = createPrivateKey(key)
  } catch {
    throw new ConfigError(`TLS_KEY_FILE must hold an unencrypted PEM private key (${keyFile} does not)`)
  }
  if (!certificate.checkPrivateKey(privateKey)) {
    throw new ConfigError(`TLS_KEY_FILE does not match the certificate in TLS_CERT_FILE (${keyFile}, ${certFile})`)
  }
  let clientCa: string | undefined
  if (clientCaFile !== undefined) {
    clientCa = readPem('TLS_CLIENT_CA_FILE', clientCaFile)
    let ca: X509Certificate | undefined
    try {
      ca = new X509Certificate(clientCa)
    } catch {}
    if (ca?.ca !== true) throw new ConfigError(`TLS_CLIENT_CA_FILE must hold the PEM certificate of the CA that signs client certificates (${clientCaFile} does not)`)
  }
  return { cert, key, clientCa }
}

/** The certificate header, which only a trusted proxy may set: TRUST_PROXY is required with it. */
export function resolveClientCertHeader (env: Env, trustProxy: boolean | string): ClientCertHeaderConfig | undefined {
  const { TLS_CLIENT_CERT_HEADER: name, TLS_CLIENT_CERT_FORMAT: format } = env
  if (name === undefined) {
    if (format !== undefined) throw new ConfigError('TLS_CLIENT_CERT_FORMAT is only used with TLS_CLIENT_CERT_HEADER')
    return undefined
  }
  if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) throw new ConfigError(`TLS_CLIENT_CERT_HEADER must be a header name (got ${JSON.stringify(name)})`)
  if (format === undefined) throw new ConfigError(`TLS_CLIENT_CERT_FORMAT is required with TLS_CLIENT_CERT_HEADER: one of ${CLIENT_CERT_FORMATS.join(', ')}`)
  if (trustProxy === false) {
    throw new ConfigError('TLS_CLIENT_CERT_HEADER needs TRUST_PROXY, the proxies that set it: from anyone else the header would name a certificate the client does not hold')
  }
  return { name, format }
}

function readPem (variable: string, file: string): string {
  try {
    return readFileSync(file, 'utf8')
  } catch (error) {
    throw new ConfigError(`${variable} cannot be read: ${file} (${(error as NodeJS.ErrnoException).code ?? 'error'})`)
  }
}
