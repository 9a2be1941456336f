import { createHash, randomUUID } from 'node:crypto'
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose'

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
