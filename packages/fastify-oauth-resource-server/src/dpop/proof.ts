import { createPublicKey, hash, type JsonWebKey } from 'node:crypto'
import { createDecoder, createVerifier } from 'fast-jwt'
import type { JWK } from 'jose'
import type { ResolvedDpopOptions } from './options.js'
import type { ReplayVerdict } from './replay-cache.js'
import { normalizeMediaType } from '../media-type.js'

// jose (46 modules) is loaded with the first proof key, not with the plugin: an app that
// never receives a DPoP proof never loads it. The thumbprint is a promise either way.
let jose: Promise<typeof import('jose')> | undefined
const thumbprintOf = (jwk: JWK): Promise<string> => (jose ??= import('jose')).then(({ calculateJwkThumbprint }) => calculateJwkThumbprint(jwk, 'sha256'))

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
 * replay cache that cannot take it (full, full for this key, reset since the proof
 * was made, or not answering): never accepted unchecked.
 */
export type ProofVerdict = 'valid' | ProofRejection | 'useNonce' | 'full' | 'keyFull' | 'reset' | 'unavailable'

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
// Proof keys remembered: a client signs many proofs with one key, under one header.
export const MAX_KEYS = 1_000
// A longer header is checked on every proof, not remembered (a 4,096-bit RSA jwk makes about 1,000 characters, 8,192 bits 1,900).
const MAX_REMEMBERED_HEADER = 2_048

interface ProofKey {
  /** Verifies a proof's signature (and typ, crit, required claims) under this key and alg. */
  verify: (proof: string) => { payload: Record<string, unknown> }
  /** Its RFC 7638 thumbprint, once jose has computed it. */
  jkt: string | undefined
  thumbprint: Promise<string>
  /** Set when read again; spares the key once when it comes up for eviction (second chance). */
  used: boolean
}

const REJECTION_BY_CODE: Record<string, ProofRejection> = {
  FAST_JWT_INVALID_ALGORITHM: 'algorithm',
  FAST_JWT_INVALID_SIGNATURE: 'signature',
  FAST_JWT_MISSING_SIGNATURE: 'signature',
  FAST_JWT_INVALID_TYPE: 'type',
  FAST_JWT_MISSING_REQUIRED_CLAIM: 'claims',
  FAST_JWT_INVALID_CLAIM_TYPE: 'claims'
}

const decodeHeader = createDecoder({ complete: true }) as unknown as (token: string) => { header: Record<string, unknown> }

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
 * The key a proof's JOSE header names, or why it is refused: typ dpop+jwt, an
 * allowed alg, a jwk with no private members that node:crypto imports as a public
 * key. Each key gets one fast-jwt verifier for its alg (node:crypto's synchronous
 * verify, with fast-jwt's checks of alg against the key, crit and typ) and its
 * thumbprint from jose. Both are remembered by the header's exact encoded segment,
 * which a client's proofs share, so its next proofs skip the header's decoding,
 * these checks and the import; nothing from the payload is kept, and the signature
 * is still checked on every proof, by fast-jwt, which decodes the header again.
 * Throws fast-jwt's errors and PRIVATE_KEY.
 *
 * At most MAX_KEYS headers are remembered; a new one takes the place of the least
 * recently used, approximately (CLOCK, as the token cache): a ring keeps headers in
 * insertion order, a read sets the key's flag, and the insertion that needs a place
 * walks the ring from its oldest header, clearing flags, to the first header not read
 * since the walk last passed it. So a client sending unique headers only ever evicts
 * headers nobody used, never a key that is in use. No Map entry is moved on a hit:
 * V8 leaves a tombstone for each delete, which a delete + set on every hit would pile up.
 * A walk clears at most one flag per header it passes (each set by a request), so it is
 * O(1) amortised and never longer than the ring.
 */
export function createProofKeyReader (allowed: ReadonlySet<string>, requiredClaims: string[]) {
  const keys = new Map<string, ProofKey>()
  const ring = new Array<string>(MAX_KEYS)
  let head = 0
  let filled = 0
  return {
    /** Keys remembered: at most MAX_KEYS. */
    get size (): number {
      return keys.size
    },
    read
  }

  function remember (header: string, proofKey: ProofKey): void {
    if (filled < MAX_KEYS) {
      ring[(head + filled++) % MAX_KEYS] = header
    } else {
      for (;;) {
        const oldest = keys.get(ring[head] as string)
        if (oldest?.used !== true) break
        oldest.used = false
        head = (head + 1) % MAX_KEYS
      }
      keys.delete(ring[head] as string)
      ring[head] = header
      head = (head + 1) % MAX_KEYS
    }
    keys.set(header, proofKey)
  }

  function read (proof: string): ProofKey | ProofRejection {
    const end = proof.indexOf('.')
    const known = end === -1 ? undefined : keys.get(proof.slice(0, end))
    if (known !== undefined) {
      known.used = true
      return known
    }
    const { header } = decodeHeader(proof)
    const { alg, typ, jwk } = header
    if (normalizeMediaType(typ) !== 'dpop+jwt') return 'type'
    if (typeof alg !== 'string' || !allowed.has(alg)) return 'algorithm'
    if (jwk === null || typeof jwk !== 'object' || Array.isArray(jwk)) return 'malformed'
    if (PRIVATE_MEMBERS.some(member => Object.hasOwn(jwk, member))) throw PRIVATE_KEY
    // Throws on anything that is not a public key node:crypto can use: a malformed proof.
    const key = createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' })
    if (key.type !== 'public') throw PRIVATE_KEY
    const pem = key.export({ type: 'spki', format: 'pem' }) as string
    const verify = createVerifier({ key: pem, algorithms: [alg as 'ES256'], checkTyp: 'dpop+jwt', requiredClaims, complete: true, cache: false })
    const proofKey: ProofKey = { verify: verify as unknown as ProofKey['verify'], jkt: undefined, thumbprint: thumbprintOf(jwk as JWK), used: false }
    proofKey.thumbprint.then(jkt => { proofKey.jkt = jkt }, () => {})
    if (end <= MAX_REMEMBERED_HEADER) remember(proof.slice(0, end), proofKey)
    return proofKey
  }
}

/**
 * Checks a DPoP proof against its request and access token as RFC 9449 §4.3 says,
 * with fast-jwt for the JWS: typ dpop+jwt, an allowed asymmetric alg, the signature
 * under the embedded public jwk; then htm, htu, iat within the window, ath, the
 * key's RFC 7638 thumbprint against cnf.jkt, the nonce when asked for; and last
 * the jti in the replay cache, so only a proof that passed everything else is remembered.
 *
 * The verdict is returned as is when it is known at once (a known key, an in-memory
 * replay cache: the hot path), and as a promise when the key's thumbprint or the
 * replay cache's answer is still to come. A promise never rejects.
 */
export function createProofVerifier (options: ResolvedDpopOptions) {
  const { algorithms, maxAge, clockTolerance, nonce } = options
  const replayCache = options.replayCache as NonNullable<typeof options.replayCache>
  const proofKeys = createProofKeyReader(new Set<string>(algorithms), ['jti', 'htm', 'htu', 'iat'])

  /** The binding to the token, the nonce and the replay cache, once the key's thumbprint is known. */
  function bindAndRemember (jkt: string, payload: Record<string, unknown>, context: ProofContext, ttl: number, acceptableFrom: number): ProofVerdict | Promise<ProofVerdict> {
    if (jkt !== context.jkt) return 'keyBinding'
    if (nonce !== undefined && !nonce.accepts(payload.nonce)) return 'useNonce'
    // Keyed by the key as well, so no client can burn another's jti.
    const id = hash('sha256', `${jkt}:${payload.jti as string}`, 'base64url')
    let seen: ReturnType<typeof replayCache.remember>
    try {
      seen = replayCache.remember(id, ttl, jkt, acceptableFrom)
    } catch {
      return 'unavailable'
    }
    return typeof seen === 'string' ? verdictOf(seen) : Promise.resolve(seen).then(verdictOf, () => 'unavailable' as const)
  }

  return function verifyProof (proof: string, context: ProofContext): ProofVerdict | Promise<ProofVerdict> {
    let payload: Record<string, unknown>
    let proofKey: ProofKey
    // A rejected proof is expected input, not a bug: its errors carry no stack.
    const stackTraceLimit = Error.stackTraceLimit
    Error.stackTraceLimit = 0
    try {
      const read = proofKeys.read(proof)
      if (typeof read === 'string') return read
      proofKey = read
      payload = proofKey.verify(proof).payload
    } catch (error) {
      if (error === PRIVATE_KEY) return 'privateKey'
      return REJECTION_BY_CODE[String((error as { code?: unknown } | null)?.code)] ?? 'malformed'
    } finally {
      Error.stackTraceLimit = stackTraceLimit
    }

    const { jti, htm, htu, iat, ath } = payload
    if (typeof jti !== 'string' || jti === '' || jti.length > MAX_JTI_LENGTH || typeof htm !== 'string' ||
      typeof htu !== 'string' || typeof iat !== 'number' || !Number.isFinite(iat)) return 'claims'
    if (htm !== context.method) return 'method'
    // Most clients send the normalised URL itself; only another spelling is parsed.
    if (!context.urls.includes(htu)) {
      const url = normalizeHtu(htu)
      if (url === undefined || !context.urls.includes(url)) return 'url'
    }
    const now = Date.now()
    if (iat * 1000 > now + clockTolerance) return 'future'
    // Accepted until maxAge after iat, with the tolerance for the client's clock.
    const acceptedUntil = iat * 1000 + maxAge + clockTolerance
    if (acceptedUntil < now) return 'stale'
    if (ath !== hash('sha256', context.accessToken, 'base64url')) return 'accessTokenHash'
    const ttl = Math.max(1, acceptedUntil - now)
    // The earliest a server (with the same tolerance) could have accepted this proof.
    const acceptableFrom = iat * 1000 - clockTolerance
    if (proofKey.jkt !== undefined) return bindAndRemember(proofKey.jkt, payload, context, ttl, acceptableFrom)
    return proofKey.thumbprint.then(jkt => bindAndRemember(jkt, payload, context, ttl, acceptableFrom), () => 'malformed' as const)
  }
}

function verdictOf (seen: ReplayVerdict): ProofVerdict {
  switch (seen) {
    case 'fresh': return 'valid'
    case 'replayed': return 'replayed'
    case 'full': return 'full'
    case 'keyFull': return 'keyFull'
    case 'reset': return 'reset'
    default: return 'unavailable'
  }
}
