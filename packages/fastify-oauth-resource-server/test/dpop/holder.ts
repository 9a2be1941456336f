import { calculateJwkThumbprint, exportJWK, importJWK, type CryptoKey, type JWK } from 'jose'
import type { DpopHolder as Holder } from '../../src/testing/index.js'

// The test kit's DPoP client, under the names these tests use.
export {
  accessTokenHash as ath,
  createDpopHolder as createHolder,
  createDpopProof as makeProof,
  dpopHeaders as dpop,
  type DpopHolder as Holder,
  type DpopProofParts as ProofParts
} from '../../src/testing/index.js'

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
