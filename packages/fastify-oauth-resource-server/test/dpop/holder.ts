import { createHash, randomUUID } from 'node:crypto'
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, SignJWT, type CryptoKey, type JWK } from 'jose'

/** A DPoP client's key pair, as a client makes one, and its RFC 7638 thumbprint. */
export interface Holder {
  alg: string
  privateKey: CryptoKey
  jwk: JWK
  jkt: string
}

export async function createHolder (alg = 'ES256'): Promise<Holder> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true })
  const jwk = await exportJWK(publicKey)
  return { alg, privateKey, jwk, jkt: await calculateJwkThumbprint(jwk) }
}

// P-256's field prime and group order (SEC 2, §2.4.2).
const P256_P = 2n ** 256n - 2n ** 224n + 2n ** 192n + 2n ** 96n - 1n
const P256_N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n

/**
 * Another real ES256 key with the same x as the holder's: its negation, the point
 * (x, p − y), whose private key is n − d. What an attacker who reuses a known x gets.
 */
export async function createMirrorHolder (holder: Holder): Promise<Holder> {
  const { d, x, y } = await exportJWK(holder.privateKey)
  const toInt = (value: string) => BigInt(`0x${Buffer.from(value, 'base64url').toString('hex')}`)
  const toMember = (value: bigint) => Buffer.from(value.toString(16).padStart(64, '0'), 'hex').toString('base64url')
  const jwk: JWK = { kty: 'EC', crv: 'P-256', x, y: toMember(P256_P - toInt(y as string)) }
  const privateKey = await importJWK({ ...jwk, d: toMember(P256_N - toInt(d as string)) }, 'ES256') as CryptoKey
  return { alg: 'ES256', privateKey, jwk, jkt: await calculateJwkThumbprint(jwk) }
}

export const ath = (token: string) => createHash('sha256').update(token).digest('base64url')

export interface ProofParts {
  htm?: string
  htu: string
  /** The access token the proof goes with (for ath); `ath` overrides it. */
  token?: string
  claims?: Record<string, unknown>
  header?: Record<string, unknown>
  /** Sign with this key instead of the holder's own (the header still names the holder's jwk). */
  signWith?: CryptoKey | Uint8Array
}

/** A DPoP proof signed for real with jose; claims set to undefined are left out. */
export async function makeProof (holder: Holder, { htm = 'GET', htu, token, claims = {}, header = {}, signWith }: ProofParts): Promise<string> {
  const payload: Record<string, unknown> = {
    jti: randomUUID(),
    htm,
    htu,
    iat: Math.floor(Date.now() / 1000),
    ...(token !== undefined && { ath: ath(token) }),
    ...claims
  }
  for (const [name, value] of Object.entries(payload)) if (value === undefined) delete payload[name]
  return new SignJWT(payload)
    .setProtectedHeader({ typ: 'dpop+jwt', alg: holder.alg, jwk: holder.jwk, ...header } as { alg: string })
    .sign(signWith ?? holder.privateKey)
}

export const dpop = (token: string, proof: string) => ({ authorization: `DPoP ${token}`, dpop: proof })
