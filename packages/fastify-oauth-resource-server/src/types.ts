import type { onRequestHookHandler, preHandlerHookHandler } from 'fastify'
import type { DpopOptions } from './dpop/types.js'
import type { MtlsOptions } from './mtls/types.js'
import type { Seconds } from './units.js'

/**
 * Where a token's permissions are: one claim path, or several (their permissions add up).
 * A path is text (`'realm_access.roles'`, `'["https://example.com/roles"]'`) or its keys
 * (`['resource_access', 'my.client', 'roles']`).
 */
export type PermissionsClaim = string | ReadonlyArray<string | readonly string[]>

/** JWS algorithms a resource server may accept: asymmetric only, never `none` or HMAC. */
export const SUPPORTED_ALGORITHMS = [
  'RS256', 'RS384', 'RS512',
  'PS256', 'PS384', 'PS512',
  'ES256', 'ES384', 'ES512',
  'EdDSA'
] as const

export type Algorithm = typeof SUPPORTED_ALGORITHMS[number]

export type { Seconds } from './units.js'

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

/**
 * RFC 7662 introspection of opaque (non-JWT) access tokens, for one issuer. Results
 * are cached by a SHA-256 of the token; calls are bounded in number and time.
 */
export interface IntrospectionOptions {
  /** The client the resource server authenticates as at the introspection endpoint. */
  clientId: string
  clientSecret: string
  /** Default `'client_secret_basic'`. */
  clientAuthMethod?: 'client_secret_basic' | 'client_secret_post'
  /** The introspection endpoint; default the discovery document's `introspection_endpoint`. */
  endpoint?: string
  /** Time limit for one introspection call, in seconds (up to 60). Default 5. */
  timeout?: Seconds
  /** How long an active result is reused, in seconds (up to 3,600); never past the token's `exp`. Default 60. */
  maxCacheAge?: Seconds
  /** How long an inactive or refused result is reused, in seconds (up to 300). Default 5. */
  inactiveCacheAge?: Seconds
  /** Most results remembered. Default 10,000. */
  cacheSize?: number
  /** Most introspection calls in flight at once. Default 8. */
  concurrency?: number
  /** Most calls waiting for a free slot; past it, a new token gets 503 at once. Default 64. */
  queueLimit?: number
  /**
   * Most introspection calls a second, on average (at least 0.01), with bursts of one
   * second's worth; past it a new token gets 503 with Retry-After, cached results still
   * answer. Per plugin instance, so per replica. Default 50.
   */
  maxCallsPerSecond?: number
}

/** One trusted issuer, with its own audience, keys and algorithms. */
export interface IssuerOptions {
  /** The issuer's base URL; discovery is read from `<issuer>/.well-known/openid-configuration`. */
  issuer: string
  /** The API identifier this issuer's tokens must name in `aud` (one of several, if an array). */
  audience: string | string[]
  /** The JWKS address; skips discovery, and `iss` must then equal `issuer` exactly. */
  jwksUri?: string
  /** Accepted JWS algorithms. Default `['RS256']`. */
  algorithms?: Algorithm[]
  /** Check opaque tokens by RFC 7662 introspection at this issuer (at most one issuer). */
  introspection?: IntrospectionOptions
  /** Where this issuer's tokens carry their permissions; default the top-level `permissionsClaim`. */
  permissionsClaim?: PermissionsClaim
  /**
   * The claim that carries the audience: `'aud'` (the default), or `'client_id'` for
   * providers whose access tokens name the client instead (Amazon Cognito). `audience`
   * then lists the accepted client ids.
   */
  audienceClaim?: AudienceClaim
  /**
   * Tenant ids accepted from a multi-tenant issuer whose discovery names a template
   * (`https://login.microsoftonline.com/{tenantid}/v2.0`): each fills `{tenantid}`, and a
   * token's `tid` must be the tenant its `iss` names. Required with a templated issuer.
   */
  tenants?: string[]
  /**
   * Other `iss` values this issuer's keys sign for (Entra ID v1.0 tokens:
   * `https://sts.windows.net/<tenant>/`); with `tenants`, `{tenantid}` is filled as above.
   */
  issuerAliases?: string[]
}

/** Where an access token carries its audience. */
export type AudienceClaim = 'aud' | 'client_id'

export interface AuthOptions {
  /** The issuer's base URL (one issuer; or give `issuers`). */
  issuer?: string
  /** The API identifier every token's `aud` must contain (one of several, if an array). */
  audience?: string | string[]
  /** The JWKS address; skips discovery, and `iss` must then equal `issuer` exactly. */
  jwksUri?: string
  /** Accepted JWS algorithms. Default `['RS256']`. */
  algorithms?: Algorithm[]
  /** RFC 7662 introspection of opaque tokens, for the one `issuer`. */
  introspection?: IntrospectionOptions
  /** Where the audience is carried, for the one `issuer`: see IssuerOptions. */
  audienceClaim?: AudienceClaim
  /** Accepted tenants of a templated (multi-tenant) `issuer`: see IssuerOptions. */
  tenants?: string[]
  /** Other `iss` values of the one `issuer`: see IssuerOptions. */
  issuerAliases?: string[]
  /**
   * Several trusted issuers, each with its own audience, keys and algorithms, instead
   * of `issuer`/`audience`/`jwksUri`/`algorithms`/`introspection` (and the options above). A token's `iss`
   * selects one by exact match; an unknown `iss` is refused without any fetch.
   */
  issuers?: IssuerOptions[]
  /** Leeway for `exp`, `nbf` and `iat`, in seconds (0 to 300). Default 5. */
  clockTolerance?: Seconds
  /** Require the RFC 9068 header `typ: at+jwt`. Default false (`JWT`, `at+jwt` or none). */
  requireAccessTokenType?: boolean
  /** The `realm` of the `WWW-Authenticate` challenges. Default `'api'`. */
  realm?: string
  keys?: KeyOptions
  /**
   * Serve RFC 9728 protected resource metadata at /.well-known/oauth-protected-resource
   * and point every challenge at it. Default off. Its `resource` is `resource` when given
   * (the origin clients call, such as `https://api.example.com`), else the origin each
   * request was sent to (`request.protocol` and `request.host`, which follow Fastify's
   * `trustProxy`): RFC 9728 §3.3 wants it identical to the URL the metadata was fetched for.
   */
  resourceMetadata?: boolean | { scopesSupported?: string[], resource?: string }
  /** Most verified tokens remembered (0 turns the cache off). Default 20,000. */
  tokenCacheSize?: number
  /** DPoP (RFC 9449): sender-constrained tokens. Default off (Bearer only). */
  dpop?: DpopOptions
  /**
   * Where the scope guards find a token's permissions: claim paths such as
   * `'realm_access.roles'` or `['roles', 'scp']`. Default `['permissions', 'scope']`.
   */
  permissionsClaim?: PermissionsClaim
  /**
   * OpenTelemetry spans (made only when an SDK is registered). `subject: true` adds the
   * token's `sub` to the authenticate span as `user.id`; default false: a trace then
   * names no user.
   */
  tracing?: { subject?: boolean }
  /**
   * Certificate-bound tokens (RFC 8705): where client certificates come from (the TLS
   * connection, or a trusted proxy's header) and whether routes require bound tokens.
   * A bound token (`cnf.x5t#S256`) is checked with or without this option.
   */
  mtls?: MtlsOptions
}

/**
 * A route's authentication context (RFC 9470), for `requireAuthContext`: the token's
 * `acr` among `acrValues`, and/or its `auth_time` at most `maxAge` seconds ago.
 */
export type AuthContextRequirement =
  | { acrValues: readonly string[], maxAge?: Seconds }
  | { acrValues?: readonly string[], maxAge: Seconds }

/** The claims of a verified access token; those named here are of their type whenever present. */
export interface AccessTokenClaims {
  iss: string
  aud: string | string[]
  exp: number
  sub?: string
  iat?: number
  nbf?: number
  scope?: string
  permissions?: string[]
  client_id?: string
  azp?: string
  jti?: string
  acr?: string
  auth_time?: number
  [claim: string]: unknown
}

export interface AuthStatus {
  /** True once every issuer's key set has been loaded and while each is within its stale-if-error bound. */
  keysLoaded: boolean
  /** Verified tokens held in the cache (a token is stored on its second verification). */
  cachedTokens: number
  /** Each issuer, in the configured order. */
  issuers: IssuerStatus[]
}

export interface IssuerStatus {
  issuer: string
  /** True while this issuer's key set is loaded and within its stale-if-error bound. */
  keysLoaded: boolean
  /** Present when this issuer introspects opaque tokens. */
  introspection?: { cachedResults: number, inFlight: number, queued: number }
}

declare module 'fastify' {
  interface FastifyInstance {
    /** onRequest hook: verifies the access token (Bearer, or DPoP with its proof) and sets `request.claims`. */
    authenticate: onRequestHookHandler
    /**
     * onRequest hook for optional authentication: a request without an Authorization
     * header goes through with `request.claims` null; a token that is present is verified
     * as by `authenticate`, and a bad one is a 401.
     */
    authenticateOptional: onRequestHookHandler
    /** preHandler factory: every listed permission must be granted. */
    requireScopes: (...scopes: string[]) => preHandlerHookHandler
    /** preHandler factory: at least one listed permission must be granted. */
    requireAnyScope: (...scopes: string[]) => preHandlerHookHandler
    /** preHandler factory: the token must come from one of these configured issuers. */
    requireIssuer: (...issuers: string[]) => preHandlerHookHandler
    /**
     * preHandler factory (RFC 9470): the user's sign-in must meet this context, else 401
     * `insufficient_user_authentication` with `acr_values` and/or `max_age`.
     */
    requireAuthContext: (requirement: AuthContextRequirement) => preHandlerHookHandler
    authStatus: () => AuthStatus
  }
  interface FastifyRequest {
    /**
     * The verified access token's claims, frozen; null until `authenticate` has run.
     * `iss` is always the issuer that verified it (for an opaque token, the one that introspected it).
     * Not `request.user`, which an app's own @fastify/jwt keeps for its session tokens.
     */
    claims: AccessTokenClaims | null
    /**
     * The verified claims, non-null and typed, for handlers behind `authenticate`.
     * Without a verified token (an anonymous request under `authenticateOptional`, or a
     * route that forgot `authenticate`) it throws the 401 `MissingTokenError`: fail closed.
     */
    verifiedClaims: <T extends AccessTokenClaims = AccessTokenClaims>() => Readonly<T>
  }
}
