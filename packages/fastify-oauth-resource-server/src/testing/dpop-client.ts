import { createHash, randomUUID } from 'node:crypto'
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose'

/** A DPoP client's key pair, as a client makes one, and its RFC 7638 thumbprint (the token's `cnf.jkt`). */
export interface DpopHolder {
  alg: string
  privateKey: CryptoKey
  jwk: JWK
  jkt: string
}

/** What a proof says; every claim but `htu` has a default. */
export interface DpopProofParts {
  /** Default `'GET'`. */
  htm?: string
  /** The URL the request goes to, as the route's `dpop.origin` names it (`http://localhost/me` under inject). */
  htu: string
  /** The access token the proof goes with (for `ath`); `claims.ath` overrides it. */
  token?: string
  /** More claims, or replacements (`nonce`, `iat`…); a claim set to undefined is left out. */
  claims?: Record<string, unknown>
  /** More JOSE header members, or replacements. */
  header?: Record<string, unknown>
  /** Sign with this key instead of the holder's own (the header still names the holder's jwk): a forgery. */
  signWith?: CryptoKey | Uint8Array
}

/** A new key pair for a DPoP client (ES256 by default), made with jose as a client makes one. */
export async function createDpopHolder (alg = 'ES256'): Promise<DpopHolder> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true })
  const jwk = await exportJWK(publicKey)
  return { alg, privateKey, jwk, jkt: await calculateJwkThumbprint(jwk) }
}

/** The `ath` of an access token: base64url of its SHA-256 (RFC 9449 §4.2). */
export const accessTokenHash = (token: string): string => createHash('sha256').update(token).digest('base64url')

/** A DPoP proof (RFC 9449 §4.2) signed for real with jose: a new `jti`, `iat` now. */
export async function createDpopProof (holder: DpopHolder, { htm = 'GET', htu, token, claims = {}, header = {}, signWith }: DpopProofParts): Promise<string> {
  const payload: Record<string, unknown> = {
    jti: randomUUID(),
    htm,
    htu,
    iat: Math.floor(Date.now() / 1000),
    ...(token !== undefined && { ath: accessTokenHash(token) }),
    ...claims
  }
  for (const [name, value] of Object.entries(payload)) if (value === undefined) delete payload[name]
  return new SignJWT(payload)
    .setProtectedHeader({ typ: 'dpop+jwt', alg: holder.alg, jwk: holder.jwk, ...header } as { alg: string })
    .sign(signWith ?? holder.privateKey)
}

/** The two headers of a DPoP request: `Authorization: DPoP <token>` and `DPoP: <proof>`. */
export const dpopHeaders = (token: string, proof: string) => ({ authorization: `DPoP ${token}`, dpop: proof })

/** A DPoP client for one origin: its key, and proofs for a method and path with `htu` on that origin. */
export interface DpopClient extends DpopHolder {
  /** The origin the proofs name, as the plugin's `dpop.origin` has it. */
  readonly origin: string
  /** A proof for one request: `htu` is `url` (a path, or an absolute URL) on the origin, without query or fragment. */
  proof: (request: DpopRequest) => Promise<string>
  /** `Authorization: DPoP <token>` and a fresh proof for this request, with `ath` for the token. */
  headers: (token: string, request?: DpopRequest) => Promise<{ authorization: string, dpop: string }>
}

export interface DpopRequest {
  /** Default `'GET'`. */
  method?: string
  /** Default `'/'`. */
  url?: string
  /** The access token, for `ath` (`headers` sets it). */
  token?: string
  /** The server's `DPoP-Nonce`, when it asks for one. */
  nonce?: string
  /** More claims, or replacements; undefined leaves one out. */
  claims?: Record<string, unknown>
}

/**
 * A DPoP client bound to a new key and one origin: `'http://localhost'` by default, what
 * `app.inject` requests go to. Register the plugin with that `dpop.origin`, mint a token
 * with `idp.token({ boundTo: client })`, and send `await client.headers(token, { url })`.
 */
export async function createDpopClient ({ origin = 'http://localhost', alg = 'ES256' }: { origin?: string, alg?: string } = {}): Promise<DpopClient> {
  const base = new URL(origin)
  if (base.origin !== origin.replace(/\/$/, '')) throw new Error(`createDpopClient: origin must be an origin such as http://localhost (got ${JSON.stringify(origin)})`)
  const holder = await createDpopHolder(alg)
  const htuOf = (url: string) => {
    const target = new URL(url, base)
    return `${target.origin}${target.pathname}`
  }
  const proof = ({ method = 'GET', url = '/', token, nonce, claims = {} }: DpopRequest) =>
    createDpopProof(holder, { htm: method, htu: htuOf(url), token, claims: { ...(nonce === undefined ? {} : { nonce }), ...claims } })
  return {
    ...holder,
    origin: base.origin,
    proof,
    headers: async (token, request = {}) => dpopHeaders(token, await proof({ ...request, token }))
  }
}
