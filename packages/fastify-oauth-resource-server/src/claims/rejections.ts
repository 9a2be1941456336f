/**
 * Why a token was rejected: each code with the short error_description a client
 * reads. Codes are what logs and metrics carry; the text is never a library's own words.
 */
export const Rejections = {
  malformed: 'The access token is malformed',
  algorithm: 'The access token algorithm is not accepted',
  type: 'The access token type is not accepted',
  kid: 'The access token header names no usable key id',
  unknownKey: 'The access token was signed by an unknown key',
  signature: 'The access token signature is invalid',
  crit: 'The access token has an unsupported critical header',
  expired: 'The access token expired',
  notYetValid: 'The access token is not valid yet',
  issuedInFuture: 'The access token was issued in the future',
  issuer: 'The access token issuer is not trusted',
  issuerNotAllowed: 'The access token issuer is not accepted here',
  tenant: 'The access token tenant is not accepted',
  tokenUse: 'The token is not an access token',
  inactive: 'The access token is not active',
  audience: 'The access token is not meant for this API',
  noExpiry: 'The access token has no expiry',
  claimType: 'The access token has a claim of the wrong type',
  nested: 'The access token has claims nested too deeply',
  invalid: 'The access token is invalid'
} as const

export type Rejection = keyof typeof Rejections

export function isRejection (value: unknown): value is Rejection {
  return typeof value === 'string' && Object.hasOwn(Rejections, value)
}
