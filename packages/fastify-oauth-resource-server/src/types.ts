import type { onRequestHookHandler, preHandlerHookHandler } from 'fastify'
import type { DpopOptions } from './dpop/types.js'

/** JWS algorithms a resource server may accept: asymmetric only, never `none` or HMAC. */
export const SUPPORTED_ALGORITHMS = [
  'RS256', 'RS384', 'RS512',
  'PS256', 'PS384', 'PS512',
  'ES256', 'ES384', 'ES512',
  'EdDSA'
] as const

export type Algorithm = typeof SUPPORTED_ALGORITHMS[number]

/** A duration in seconds (fractions allowed). Every duration option is in seconds. */
export type Seconds = number

export interface KeyOptions {
  /** How long a fetched key set is trusted before it is refreshed, in seconds (1 to 86,400). Default 600. */
  maxAge?: Seconds
  /** The least time between two fetches of the key set, in seconds (0 to 3,600). Default 30. */
  cooldown?: Seconds
  /** Time limit for one fetch (connect, headers and body), in seconds (up to 60). Default 5. */
  fetchTimeout?: Seconds
  /** How long the last good key set keeps verifying while the provider fails, in seconds (up to 7 days). Default 86,400. */
  staleIfError?: Seconds
  /** Largest discovery or JWKS response accepted, in bytes. Default 512 KiB. */
  maxResponseBytes?: number
}

export interface AuthOptions {
  /** The issuer's base URL; discovery is read from `<issuer>/.well-known/openid-configuration`. */
  issuer: string
  /** The API identifier every token's `aud` must contain (one of several, if an array). */
  audience: string | string[]
  /** The JWKS address; skips discovery, and `iss` must then equal `issuer` exactly. */
  jwksUri?: string
  /** Accepted JWS algorithms. Default `['RS256']`. */
  algorithms?: Algorithm[]
  /** Leeway for `exp`, `nbf` and `iat`, in seconds (0 to 300). Default 5. */
  clockTolerance?: Seconds
  /** Require the RFC 9068 header `typ: at+jwt`. Default false (`JWT`, `at+jwt` or none). */
  requireAccessTokenType?: boolean
  /** The `realm` of the `WWW-Authenticate` challenges. Default `'api'`. */
  realm?: string
  keys?: KeyOptions
  /**
   * Serve RFC 9728 protected resource metadata at /.well-known/oauth-protected-resource
   * and point every challenge at it. Default off.
   */
  resourceMetadata?: boolean | { scopesSupported?: string[] }
  /** Most verified tokens remembered (0 turns the cache off). Default 20,000. */
  tokenCacheSize?: number
  /** DPoP (RFC 9449): sender-constrained tokens. Default off (Bearer only). */
  dpop?: DpopOptions
}

/** The claims of a verified access token. */
export interface AccessTokenClaims {
  iss: string
  aud: string | string[]
  exp: number
  sub?: string
  iat?: number
  nbf?: number
  scope?: string
  permissions?: string[]
  [claim: string]: unknown
}

export interface AuthStatus {
  /** True once a key set has been loaded and while it is within its stale-if-error bound. */
  keysLoaded: boolean
  /** Verified tokens held in the cache. */
  cachedTokens: number
}

declare module 'fastify' {
  interface FastifyInstance {
    /** onRequest hook: verifies the access token (Bearer, or DPoP with its proof) and sets `request.claims`. */
    authenticate: onRequestHookHandler
    /** preHandler factory: every listed permission must be granted. */
    requireScopes: (...scopes: string[]) => preHandlerHookHandler
    /** preHandler factory: at least one listed permission must be granted. */
    requireAnyScope: (...scopes: string[]) => preHandlerHookHandler
    authStatus: () => AuthStatus
  }
  interface FastifyRequest {
    /**
     * The verified access token's claims, frozen; null until `authenticate` has run.
     * Not `request.user`, which an app's own @fastify/jwt keeps for its session tokens.
     */
    claims: AccessTokenClaims | null
  }
}
