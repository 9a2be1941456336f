/**
 * allowed: Bearer tokens with or without a certificate binding; required: only tokens
 * bound to a client certificate (`cnf.x5t#S256`). A bound token is checked in every mode.
 */
export type MtlsMode = 'allowed' | 'required'

/**
 * How a TLS-terminating proxy passes the client certificate on:
 * `escaped-pem`, the URL-encoded PEM of nginx's `$ssl_client_escaped_cert`;
 * `xfcc`, Envoy's `x-forwarded-client-cert` (its `Cert=` or `Hash=`, one element);
 * `base64-der`, the DER in plain base64.
 */
export type CertificateHeaderFormat = 'escaped-pem' | 'xfcc' | 'base64-der'

export interface CertificateHeaderOptions {
  /** The header's name, such as `x-ssl-client-cert` or `x-forwarded-client-cert`. */
  name: string
  format: CertificateHeaderFormat
  /**
   * The proxies that set it (required): addresses, CIDRs or `loopback`, `linklocal`,
   * `uniquelocal` (an array or a comma-separated string), a function `(address, hop) => boolean`,
   * or `true` for any peer (only when nothing but the proxy can reach the server). The header
   * is read only when the socket peer is one of them, and ignored from anyone else.
   */
  trustProxy: true | string | string[] | ((address: string, hop: number) => boolean)
  /** Longest header value read, in bytes; a longer one counts as no certificate. Default 16,384. */
  maxBytes?: number
}

/**
 * Certificate-bound access tokens (RFC 8705 §3). A token whose `cnf` has `x5t#S256` is
 * accepted only with the client certificate of that SHA-256 thumbprint, whether or not
 * this option is given; the option says where certificates come from and what a route requires.
 */
export interface MtlsOptions {
  /** For every route that runs `authenticate`, unless the route's `config.mtls` says otherwise. Default `'allowed'`. */
  mode?: MtlsMode
  /**
   * Count a certificate the client presented on the TLS connection though the handshake
   * did not verify it against the server's CAs (`requestCert` with `rejectUnauthorized:
   * false`), as for self-signed client certificates (RFC 8705 §2.2). The handshake still
   * proved the client holds its key. Default false: only verified certificates count.
   */
  acceptUnverified?: boolean
  /** Behind a TLS-terminating proxy: the header it passes the client certificate in. */
  certificateHeader?: CertificateHeaderOptions
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** This route's certificate-binding mode, overriding the plugin's `mtls.mode`. */
    mtls?: MtlsMode
  }
}
