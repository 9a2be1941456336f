export const LocalClients = {
  machine: 'local-machine',
  browser: 'local-spa',
  /** The API itself, introspecting opaque tokens. */
  api: 'local-api',
  /** A machine client authenticating with its TLS certificate (RFC 8705), when the service has TLS_CLIENT_CA_FILE. */
  mtls: 'local-mtls'
} as const

/** Where the local issuer keeps its state unless LOCAL_ISSUER_DATA says otherwise. */
export const DEFAULT_DATA_DIR = '.local-issuer'

/**
 * The `acr` of a sign-in at the local issuer (RFC 9470 step-up): a password alone, or a
 * password and a TOTP code. The second is the OpenID PAPE multi-factor URI, the value
 * Auth0 uses for MFA, so ADMIN_ACR_VALUES can name the same value for both issuers.
 */
export const LocalAcr = {
  password: 'urn:local-issuer:acr:password',
  totp: 'http://schemas.openid.net/pape/policies/2007/06/multi-factor'
} as const
