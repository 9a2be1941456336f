import { createPublicKey, type JsonWebKey } from 'node:crypto'
import type { Algorithm } from '../types.js'

/** A public key from the provider's JWKS, fit for at least one allowed algorithm. */
export interface SigningKey {
  kid: string
  /** SPKI PEM, the form fast-jwt takes; parsed once per key, never per request. */
  pem: string
  /** The allowed algorithms this key's type and size fit. */
  algorithms: Algorithm[]
}

const MAX_KID_LENGTH = 256
const MAX_KEYS = 100
const MIN_RSA_BITS = 2048
const RSA_ALGORITHMS: Algorithm[] = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512']
const CURVE_ALGORITHMS: Record<string, Algorithm[]> = {
  'P-256': ['ES256'],
  'P-384': ['ES384'],
  'P-521': ['ES512'],
  Ed25519: ['EdDSA']
}

export function isUsableKid (kid: unknown): kid is string {
  return typeof kid === 'string' && kid.length > 0 && kid.length <= MAX_KID_LENGTH
}

/**
 * The usable signing keys of a JWKS document, by kid. Keys for encryption, of a
 * type or size unfit for the allowed algorithms, without a kid, or that Node
 * cannot import are left out; the first of two keys with one kid wins.
 */
export function importSigningKeys (document: unknown, allowed: ReadonlySet<Algorithm>): Map<string, SigningKey> {
  const keys = new Map<string, SigningKey>()
  const jwks = (document as { keys?: unknown } | null)?.keys
  if (!Array.isArray(jwks)) return keys
  for (const jwk of jwks) {
    if (keys.size === MAX_KEYS) break
    const key = importSigningKey(jwk, allowed)
    if (key !== undefined && !keys.has(key.kid)) keys.set(key.kid, key)
  }
  return keys
}

function importSigningKey (jwk: unknown, allowed: ReadonlySet<Algorithm>): SigningKey | undefined {
  if (typeof jwk !== 'object' || jwk === null) return
  const { kid, kty, crv, alg, use, key_ops: keyOps, d } = jwk as Record<string, unknown>
  if (!isUsableKid(kid) || d !== undefined) return
  if (use !== undefined && use !== 'sig') return
  if (keyOps !== undefined && !(Array.isArray(keyOps) && keyOps.includes('verify'))) return

  const fit = kty === 'RSA' ? RSA_ALGORITHMS : kty === 'EC' || kty === 'OKP' ? CURVE_ALGORITHMS[String(crv)] ?? [] : []
  const algorithms = fit.filter(a => allowed.has(a) && (alg === undefined || alg === a))
  if (algorithms.length === 0) return

  try {
    const publicKey = createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' })
    const bits = publicKey.asymmetricKeyDetails?.modulusLength
    if (kty === 'RSA' && (bits === undefined || bits < MIN_RSA_BITS)) return
    return { kid, algorithms, pem: publicKey.export({ type: 'spki', format: 'pem' }) as string }
  } catch {
    // Not a key Node can import (bad members, wrong curve for its kty…).
  }
}
