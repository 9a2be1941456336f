import { createDecoder, createVerifier } from 'fast-jwt'
import { InvalidTokenError } from './errors.js'
import { createHeaderReader } from './jose-header.js'
import type { CreateKeyVerifier, KeyRecord, KeyStore } from './jwks.js'
import { returningErrors } from './returning-errors.js'
import { isUsableKid } from './signing-keys.js'
import type { TokenCache } from './token-cache.js'
import type { AccessTokenClaims, Algorithm } from './types.js'

/** The error_description of each rejection; short, and never a library's own words. */
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
  audience: 'The access token is not meant for this API',
  noExpiry: 'The access token has no expiry',
  claimType: 'The access token has a claim of the wrong type',
  nested: 'The access token has claims nested too deeply',
  invalid: 'The access token is invalid'
} as const

/** Why a token was rejected: a key of Rejections, logged and counted as it is. */
export type Rejection = keyof typeof Rejections

const REJECTION_BY_CODE: Record<string, Rejection> = {
  FAST_JWT_MALFORMED: 'malformed',
  FAST_JWT_INVALID_PAYLOAD: 'malformed',
  FAST_JWT_INVALID_ALGORITHM: 'algorithm',
  FAST_JWT_INVALID_SIGNATURE: 'signature',
  FAST_JWT_MISSING_SIGNATURE: 'signature',
  FAST_JWT_INVALID_CRIT_HEADER: 'crit',
  FAST_JWT_EXPIRED: 'expired',
  FAST_JWT_INACTIVE: 'notYetValid'
}

// Deeper claims than any issuer sends; past this a token is refused rather than walked.
const MAX_CLAIM_DEPTH = 32

const CLAIM_CODES = new Set(['FAST_JWT_INVALID_CLAIM_VALUE', 'FAST_JWT_INVALID_CLAIM_TYPE', 'FAST_JWT_MISSING_REQUIRED_CLAIM'])

export interface TokenVerifierOptions {
  algorithms: ReadonlySet<Algorithm>
  audience: readonly string[]
  /** In ms. */
  clockTolerance: number
  requireAccessTokenType: boolean
  realm: string
}

type Payload = Record<string, unknown>

/** One fast-jwt verifier per key, built once when the key is first trusted. */
export function createKeyVerifierFactory ({ audience, clockTolerance }: TokenVerifierOptions): CreateKeyVerifier {
  return (key, issuer) => returningErrors(createVerifier({
    key: key.pem,
    algorithms: key.algorithms,
    allowedIss: issuer,
    allowedAud: [...audience],
    requiredClaims: ['iss', 'aud', 'exp'],
    clockTolerance,
    cache: false
  }) as (token: string) => AccessTokenClaims)
}

/** The claims of a valid token, or why it was rejected. */
type Verdict = AccessTokenClaims | InvalidTokenError

/**
 * Verifies a bearer token: synchronously when its key is known (the hot path),
 * through the key store when it is not. A rejected token is returned as an
 * InvalidTokenError, not thrown (a throw through Fastify's hooks costs several µs
 * per bad token); only KeysUnavailableError rejects the promise.
 */
export function createTokenVerifier (store: KeyStore, cache: TokenCache, options: TokenVerifierOptions) {
  const { algorithms, audience, clockTolerance, requireAccessTokenType, realm } = options
  const acceptedTypes = new Set(requireAccessTokenType ? ['at+jwt'] : ['jwt', 'at+jwt'])
  // Only the JOSE header is needed to pick the key; fast-jwt parses the whole token
  // when it verifies, so parsing the payload here too cost a second decode per token.
  const readHeader = createHeaderReader()
  const readPayload = createDecoder() as (token: string) => Payload
  const reject = (reason: Rejection) => new InvalidTokenError(realm, Rejections[reason], reason)

  function check (key: KeyRecord, token: string, id: string | undefined): Verdict {
    const claims = key.verify(token)
    if (claims instanceof Error) return reject(describe(claims, token, key.issuer))
    const { iat } = claims
    if (iat !== undefined && (typeof iat !== 'number' || iat * 1000 > Date.now() + clockTolerance)) {
      return reject(typeof iat === 'number' ? 'issuedInFuture' : 'claimType')
    }
    if (!deepFreeze(claims)) return reject('nested')
    if (id !== undefined) cache.set(id, claims, key)
    return claims
  }

  /**
   * A claim failure names the claim. The payload is parsed again only for that (rare)
   * case; fast-jwt raised the claim error after parsing it, so this parse succeeds.
   */
  function describe (error: Error, token: string, issuer: string): Rejection {
    const code = String((error as { code?: unknown }).code)
    if (!CLAIM_CODES.has(code)) return REJECTION_BY_CODE[code] ?? 'invalid'
    const payload = readPayload(token)
    if (payload.iss !== issuer) return 'issuer'
    const aud = payload.aud
    const audiences = Array.isArray(aud) ? aud : [aud]
    if (!audiences.some(a => typeof a === 'string' && audience.includes(a))) return 'audience'
    if (payload.exp === undefined) return 'noExpiry'
    return 'claimType'
  }

  return function verifyToken (token: string): Verdict | Promise<Verdict> {
    const id = cache.idOf(token)
    if (id !== undefined) {
      const claims = cache.get(id)
      if (claims !== undefined) return claims
    }

    const header = readHeader(token)
    if (header === undefined) return reject('malformed')
    if (typeof header.alg !== 'string' || !algorithms.has(header.alg as Algorithm)) return reject('algorithm')
    const typ = header.typ
    if (typ === undefined ? requireAccessTokenType : !acceptedTypes.has(normalizeType(typ))) return reject('type')
    const kid = header.kid
    if (!isUsableKid(kid)) return reject('kid')

    const key = store.get(kid)
    if (key !== undefined) return check(key, token, id)
    return store.fetchUnknown(kid).then(found => found === undefined ? reject('unknownKey') : check(found, token, id))
  }
}

function normalizeType (typ: unknown): string {
  return typeof typ === 'string' ? typ.toLowerCase().replace(/^application\//, '') : ''
}

/**
 * Freezes the claims and everything in them, walking with a stack rather than
 * recursion: a signed payload nested thousands deep must not overflow the call
 * stack. False (nothing half-trusted is kept) when it nests past MAX_CLAIM_DEPTH.
 */
function deepFreeze (claims: object): boolean {
  const pending: Array<[object, number]> = [[claims, 0]]
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const [value, depth] = next
    if (depth > MAX_CLAIM_DEPTH) return false
    Object.freeze(value)
    for (const child of Object.values(value)) {
      if (typeof child === 'object' && child !== null && !Object.isFrozen(child)) pending.push([child, depth + 1])
    }
  }
  return true
}
