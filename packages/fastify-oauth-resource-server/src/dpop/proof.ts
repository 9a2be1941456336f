import { hash } from 'node:crypto'
import { calculateJwkThumbprint, EmbeddedJWK, jwtVerify, type CryptoKey, type FlattenedJWSInput, type JWK, type JWSHeaderParameters } from 'jose'
import type { ResolvedDpopOptions } from './options.js'
import type { ReplayVerdict } from './replay-cache.js'

/**
 * Why a DPoP proof was refused: each code with the short error_description a
 * client reads. Codes are what logs and metrics carry.
 */
export const ProofRejections = {
  missing: 'A DPoP proof is required with the DPoP scheme',
  multiple: 'Send exactly one DPoP proof header',
  malformed: 'The DPoP proof is malformed',
  type: 'The DPoP proof typ must be dpop+jwt',
  algorithm: 'The DPoP proof algorithm is not accepted',
  privateKey: 'The DPoP proof jwk must be a public key',
  signature: 'The DPoP proof signature is invalid',
  claims: 'The DPoP proof lacks jti, htm, htu or iat, or has one of the wrong type',
  method: 'The DPoP proof htm does not match the request method',
  url: 'The DPoP proof htu does not match the request URL',
  stale: 'The DPoP proof is too old',
  future: 'The DPoP proof was issued in the future',
  accessTokenHash: 'The DPoP proof ath does not match the access token',
  keyBinding: 'The DPoP proof key is not the one the access token is bound to',
  replayed: 'The DPoP proof was already used'
} as const

export type ProofRejection = keyof typeof ProofRejections

/**
 * A proof the request passes, or why not: a rejection, a nonce to ask for, or a
 * replay cache that cannot take it (full, or not answering): never accepted unchecked.
 */
export type ProofVerdict = 'valid' | ProofRejection | 'useNonce' | 'full' | 'unavailable'

export interface ProofContext {
  method: string
  /** The request's URL as htu may name it: origin and path, normalised (see `normalizeHtu`); one per accepted origin. */
  urls: readonly string[]
  accessToken: string
  /** The access token's `cnf.jkt`. */
  jkt: string
}

// Members only a private or symmetric key has (RFC 7518 §6.2.2, §6.3.2, §6.4; RFC 8037).
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const
const PRIVATE_KEY = Symbol('private key in jwk')
const MAX_JTI_LENGTH = 256
// Imported proof keys remembered: a client signs many proofs with one key.
const MAX_KEYS = 1_000

interface ProofKey {
  key: CryptoKey
  /** Its RFC 7638 thumbprint. */
  jkt: Promise<string>
}

const REJECTION_BY_CODE: Record<string, ProofRejection> = {
  ERR_JOSE_ALG_NOT_ALLOWED: 'algorithm',
  ERR_JOSE_NOT_SUPPORTED: 'algorithm',
  ERR_JWS_SIGNATURE_VERIFICATION_FAILED: 'signature',
  ERR_JWT_EXPIRED: 'stale'
}

/** An http(s) URL as `scheme://host[:port]/path`, lowercase scheme and host, no default port, query or fragment (RFC 9449 §4.3, RFC 3986 §6). */
export function normalizeHtu (value: string): string | undefined {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    return undefined
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return undefined
  return `${url.protocol}//${url.host}${url.pathname}`
}

/**
 * The embedded jwk as jose imports it (EmbeddedJWK: a public key, fit for the alg),
 * refused first when it carries private members (jose would refuse some; the reason is
 * ours). Imported keys and their thumbprints are remembered by alg and exact jwk, so a
 * client's next proofs skip the import; the signature is still checked on every proof.
 */
function createKeyImporter () {
  const keys = new Map<string, ProofKey>()
  return async function importProofKey (header: JWSHeaderParameters, token: FlattenedJWSInput): Promise<ProofKey> {
    const jwk = header.jwk as Record<string, unknown> | undefined
    if (jwk !== null && typeof jwk === 'object' && PRIVATE_MEMBERS.some(member => Object.hasOwn(jwk, member))) {
      throw PRIVATE_KEY
    }
    const id = `${String(header.alg)}.${JSON.stringify(jwk)}`
    let known = keys.get(id)
    if (known === undefined) {
      const key = await EmbeddedJWK(header, token)
      known = { key, jkt: calculateJwkThumbprint(jwk as JWK, 'sha256') }
      known.jkt.catch(() => {})
      if (keys.size >= MAX_KEYS) keys.clear()
      keys.set(id, known)
    }
    return known
  }
}

/**
 * Checks a DPoP proof against its request and access token as RFC 9449 §4.3 says,
 * with jose for the JWS: typ dpop+jwt, an allowed asymmetric alg, the signature
 * under the embedded public jwk; then htm, htu, iat within the window, ath, the
 * key's RFC 7638 thumbprint against cnf.jkt, the nonce when asked for; and last
 * the jti in the replay cache, so only a proof that passed everything else is remembered.
 */
export function createProofVerifier (options: ResolvedDpopOptions) {
  const { algorithms, maxAge, clockTolerance, replayCache, nonce } = options
  const verifyOptions = { typ: 'dpop+jwt', algorithms, requiredClaims: ['jti', 'htm', 'htu', 'iat'] }
  const importProofKey = createKeyImporter()

  return async function verifyProof (proof: string, context: ProofContext): Promise<ProofVerdict> {
    let payload: Record<string, unknown>
    let proofKey: ProofKey | undefined
    try {
      const verified = await jwtVerify(proof, async (header: JWSHeaderParameters, token: FlattenedJWSInput) => {
        proofKey = await importProofKey(header, token)
        return proofKey.key
      }, verifyOptions)
      payload = verified.payload
    } catch (error) {
      if (error === PRIVATE_KEY) return 'privateKey'
      const { code, claim } = error as { code?: string, claim?: string }
      if (code === 'ERR_JWT_CLAIM_VALIDATION_FAILED') return claim === 'typ' ? 'type' : 'claims'
      return REJECTION_BY_CODE[code ?? ''] ?? 'malformed'
    }

    const { jti, htm, htu, iat, ath } = payload
    if (typeof jti !== 'string' || jti === '' || jti.length > MAX_JTI_LENGTH || typeof htm !== 'string' ||
      typeof htu !== 'string' || typeof iat !== 'number' || !Number.isFinite(iat)) return 'claims'
    if (htm !== context.method) return 'method'
    const url = normalizeHtu(htu)
    if (url === undefined || !context.urls.includes(url)) return 'url'
    const now = Date.now()
    if (iat * 1000 > now + clockTolerance) return 'future'
    // Accepted until maxAge after iat, with the tolerance for the client's clock.
    const acceptedUntil = iat * 1000 + maxAge + clockTolerance
    if (acceptedUntil < now) return 'stale'
    if (ath !== hash('sha256', context.accessToken, 'base64url')) return 'accessTokenHash'
    const jkt = await (proofKey as ProofKey).jkt
    if (jkt !== context.jkt) return 'keyBinding'
    if (nonce !== undefined && !nonce.accepts(payload.nonce)) return 'useNonce'

    // Keyed by the key as well, so no client can burn another's jti.
    const id = hash('sha256', `${jkt}:${jti}`, 'base64url')
    let seen: ReplayVerdict
    try {
      seen = await (replayCache as NonNullable<typeof replayCache>).remember(id, Math.max(1, acceptedUntil - now))
    } catch {
      seen = 'unavailable'
    }
    switch (seen) {
      case 'fresh': return 'valid'
      case 'replayed': return 'replayed'
      case 'full': return 'full'
      default: return 'unavailable'
    }
  }
}
