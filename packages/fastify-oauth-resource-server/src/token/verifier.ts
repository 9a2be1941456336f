import type { FastifyJWTOptions } from '@fastify/jwt'
import { createDecoder, createVerifier, TokenError, type VerifierOptions } from 'fast-jwt'
import type { FastifyRequest } from 'fastify'
import { IntrospectionUnavailable } from '../introspection/introspector.js'
import { KeysUnavailable, type KeyRecord } from '../keys/key-store.js'
import { isUsableKid } from '../keys/signing-keys.js'
import type { AccessTokenClaims, Algorithm } from '../types.js'
import { judgeClaims } from '../claims/rules.js'
import { judgeIssuer } from '../keys/issuer-naming.js'
import { freezeClaims } from '../claims/claims.js'
import { isRejection, type Rejection } from '../claims/rejections.js'
import type { TokenCache } from './token-cache.js'
import type { TrustedIssuer, TrustedIssuers } from './trusted-issuers.js'
import { normalizeMediaType } from '../media-type.js'

export interface TokenVerifierOptions {
  /** In ms. */
  clockTolerance: number
  requireAccessTokenType: boolean
}

/** The claims of a valid token, why it was rejected, or that its key or its introspection cannot be had now. */
export type Verdict = AccessTokenClaims | Rejection | KeysUnavailable | IntrospectionUnavailable

/** Whether the verified-token cache answered; undefined while it is off, and for an opaque token. */
export type CacheLookup = 'hit' | 'miss'

export function isClaims (verdict: unknown): verdict is AccessTokenClaims {
  return typeof verdict === 'object' && verdict !== null && !(verdict instanceof KeysUnavailable) && !(verdict instanceof IntrospectionUnavailable) && !(verdict instanceof Error)
}

/**
 * A compact JWS: three parts, the first a base64url JSON object (which always begins
 * `ey`). Anything else is an opaque token, for introspection when an issuer does it.
 * Only a shape test: the JWT itself is decoded and verified by fast-jwt.
 */
function isJwtShaped (token: string): boolean {
  const first = token.indexOf('.')
  const second = token.indexOf('.', first + 1)
  return token.startsWith('ey') && first > 0 && second > first && token.indexOf('.', second + 1) === -1
}

// @fastify/jwt registered under its own namespace, so an app's own @fastify/jwt keeps
// `request.user`, `request.jwtVerify` and `fastify.jwt` for itself.
const NAMESPACE = 'oauthResourceServer'

// Per-request slots, declared once so requests keep one shape.
const kToken = Symbol('oauth-resource-server.token')
const kKey = Symbol('oauth-resource-server.key')
const kIssuer = Symbol('oauth-resource-server.issuer')

interface VerifyingRequest extends FastifyRequest {
  [kToken]: string | null
  [kKey]: KeyRecord | null
  [kIssuer]: TrustedIssuer | null
}

// @fastify/jwt's own codes and fast-jwt's codes it passes through. Its
// FST_JWT_AUTHORIZATION_TOKEN_INVALID covers a malformed token (before a key is picked)
// and a bad signature alike (and claim failures, but fast-jwt is given no claim to check).
const REJECTION_BY_CODE: Record<string, Rejection> = {
  FAST_JWT_MISSING_SIGNATURE: 'signature',
  FAST_JWT_INVALID_SIGNATURE: 'signature',
  FAST_JWT_INVALID_ALGORITHM: 'algorithm',
  FAST_JWT_INVALID_CRIT_HEADER: 'crit',
  FAST_JWT_MALFORMED: 'malformed',
  FAST_JWT_INVALID_PAYLOAD: 'malformed'
}

/**
 * Verifies access tokens with @fastify/jwt's options and steps (fast-jwt inside), its
 * `secret` callback fed by the key store: decode, pick the key, then the key's one
 * fast-jwt verifier, built from @fastify/jwt's global `verify` options, where its policy
 * lives. @fastify/jwt stays registered under its own namespace (`jwtOptions`); `verify`
 * takes these steps itself, without its per-call option merging and waterfall.
 *
 * fast-jwt checks the JWS alone (algorithm, crit, signature), and the claims are judged
 * here, only once the signature held (judgeClaims, shared with introspection): @fastify/jwt
 * reports a bad signature and a bad claim with one code, so a forged token without `aud`
 * would otherwise be described, and counted, by the claims it forged.
 *
 * `verify` settles synchronously when the key is known (the hot path) and after
 * the key store's fetch when it is not. It never throws: every outcome is a Verdict.
 */
export function createTokenVerifier (issuers: TrustedIssuers, cache: TokenCache, options: TokenVerifierOptions) {
  const { clockTolerance, requireAccessTokenType } = options
  const algorithms = new Set(issuers.list.flatMap(each => [...each.algorithms]))
  const { introspecting } = issuers
  const acceptedTypes = new Set(requireAccessTokenType ? ['at+jwt'] : ['jwt', 'at+jwt'])
  const decodeComplete = createDecoder({ complete: true }) as (token: string) => { header: Record<string, unknown>, payload: unknown }
  // Per key, the fast-jwt verifier @fastify/jwt builds from its global options and the
  // key's PEM, called directly: @fastify/jwt's per-call work around it (merging its
  // options, its waterfall) cost more than what it checks.
  const verifiers = new WeakMap<KeyRecord, (token: string) => AccessTokenClaims>()
  const verifierOf = (key: KeyRecord) => {
    let verifier = verifiers.get(key)
    if (verifier === undefined) verifiers.set(key, verifier = createVerifier({ ...jwtOptions.verify as Partial<VerifierOptions>, key: key.pem }) as (token: string) => AccessTokenClaims)
    return verifier
  }

  /**
   * The checks that pick the key; a token failing them never reaches a key store. The
   * unverified `iss` only selects among the configured issuers (an unknown one is refused
   * here, with no fetch of anything), and the key is looked up among that issuer's keys
   * alone. A refusal goes back through @fastify/jwt's error channel as its reason code.
   */
  function secret (request: FastifyRequest, decoded: { header: Record<string, unknown>, payload: unknown }, answer: (error: unknown, pem?: string) => void): void {
    const trusted = issuers.select((decoded.payload as { iss?: unknown } | null)?.iss)
    if (trusted === undefined) return answer('issuer')
    const { alg, typ, kid } = decoded.header
    if (typeof alg !== 'string' || !trusted.algorithms.has(alg as Algorithm)) return answer('algorithm')
    if (typ === undefined ? requireAccessTokenType : !acceptedTypes.has(normalizeMediaType(typ))) return answer('type')
    if (!isUsableKid(kid)) return answer('kid')
    const verifying = request as VerifyingRequest
    verifying[kIssuer] = trusted
    const { store } = trusted
    const use = (key: KeyRecord) => {
      if (!key.algorithms.includes(alg as Algorithm)) return answer('algorithm')
      verifying[kKey] = key
      answer(null, key.pem)
    }
    const key = store.get(kid)
    if (key !== undefined) return use(key)
    store.fetchUnknown(kid).then(found => found === undefined ? answer('unknownKey') : found instanceof KeysUnavailable ? answer(found) : use(found), answer)
  }

  const jwtOptions: FastifyJWTOptions = {
    namespace: NAMESPACE,
    decoratorName: 'claims',
    secret: secret as unknown as FastifyJWTOptions['secret'],
    decode: { complete: true },
    verify: {
      extractToken: request => (request as VerifyingRequest)[kToken] ?? undefined,
      algorithms: [...algorithms],
      // No claim checks in fast-jwt (no allowedIss, allowedAud, requiredClaims; exp and nbf
      // ignored): `accept` judges them all once the signature held, holding the token to the
      // exact issuer its key came from (the one discovery named) and that issuer's audiences.
      ignoreExpiration: true,
      ignoreNotBefore: true,
      // The verified-token cache is ours: bounded, and emptied when a key leaves.
      cache: false
    }
  }

  /** A token whose signature held: its claims judged, then frozen and cached. */
  function accept (claims: AccessTokenClaims, key: KeyRecord, trusted: TrustedIssuer, id: string | undefined): Verdict {
    // `iss` one of those this issuer accepts, given the issuer discovery named when the key was fetched.
    const rejection = judgeIssuer(claims, trusted.accepted(key.issuer)) ??
      judgeClaims(claims, { issuer: claims.iss, audience: trusted.audience, audienceClaim: trusted.audienceClaim, clockTolerance })
    if (rejection !== undefined) return rejection
    if (!freezeClaims(claims)) return 'nested'
    if (id !== undefined) cache.set(id, claims, key)
    return claims
  }

  /**
   * What a failure means. fast-jwt checks no claim, so FST_JWT_AUTHORIZATION_TOKEN_INVALID
   * is a token that did not decode (no key picked yet) or a signature that did not verify
   * against the key picked: never described by its unverified claims.
   */
  function explain (error: unknown, key: KeyRecord | null): Verdict {
    if (isRejection(error) || error instanceof KeysUnavailable) return error
    const code = String((error as { code?: unknown } | null)?.code)
    if (code === 'FST_JWT_AUTHORIZATION_TOKEN_INVALID') return key === null ? 'malformed' : 'signature'
    return REJECTION_BY_CODE[code] ?? 'invalid'
  }

  /** The key's verifier on the token: fast-jwt's errors read by their code (a key that does not fit is a bad signature, as @fastify/jwt has it). */
  function verifyWith (token: string, key: KeyRecord, trusted: TrustedIssuer, id: string | undefined): Verdict {
    let claims: AccessTokenClaims
    try {
      claims = verifierOf(key)(token)
    } catch (error) {
      const code = String((error as { code?: unknown } | null)?.code)
      return code === TokenError.codes.invalidKey ? 'signature' : REJECTION_BY_CODE[code] ?? 'invalid'
    }
    return accept(claims, key, trusted, id)
  }

  return {
    jwtOptions,
    /** Declares the per-request slots; call once, on the instance the plugin decorates. */
    slots: [kToken, kKey, kIssuer] as const,
    /** The configured issuer a token was checked against, once the verifier picked one (for a refused token's trace). */
    issuerOf (request: FastifyRequest): string | undefined {
      const verifying = request as VerifyingRequest
      return verifying[kIssuer]?.issuer ?? (verifying[kToken] === null ? introspecting?.issuer : undefined)
    },
    verify (request: FastifyRequest, token: string, settle: (verdict: Verdict, cache?: CacheLookup) => void): void {
      if (introspecting !== undefined && !isJwtShaped(token)) {
        const verdict = introspecting.introspector!.check(token)
        if (verdict instanceof Promise) verdict.then(settle, () => settle('invalid'))
        else settle(verdict)
        return
      }
      const id = cache.idOf(token)
      if (id !== undefined) {
        const claims = cache.get(id)
        if (claims !== undefined) return settle(claims, 'hit')
      }
      const lookup: CacheLookup | undefined = id === undefined ? undefined : 'miss'

      const verifying = request as VerifyingRequest
      verifying[kToken] = token
      verifying[kKey] = null
      verifying[kIssuer] = null
      // A rejected credential is expected input, not a bug: errors made on the synchronous
      // path carry no stack (capturing one is costly). The verdict is settled after the guard,
      // so the route's own code runs with the usual stacks.
      let verdict: Verdict | undefined
      let sync = true
      let answered = false
      const stackTraceLimit = Error.stackTraceLimit
      Error.stackTraceLimit = 0
      try {
        // As @fastify/jwt does: decode, `secret` picks the key, the key's verifier checks.
        secret(request, decodeComplete(token), error => {
          if (answered) return
          answered = true
          const key = verifying[kKey]
          const settled = error ? explain(error, key) : verifyWith(token, key as KeyRecord, verifying[kIssuer] as TrustedIssuer, id)
          if (sync) verdict = settled
          else settle(settled, lookup)
        })
      } catch (error) {
        verdict = explain(error, verifying[kKey])
      } finally {
        sync = false
        Error.stackTraceLimit = stackTraceLimit
      }
      if (verdict !== undefined) settle(verdict, lookup)
    }
  }
}
