import type { FastifyJWTOptions } from '@fastify/jwt'
import { createDecoder } from 'fast-jwt'
import type { FastifyRequest } from 'fastify'
import { KeysUnavailable, type KeyRecord, type KeyStore } from '../keys/key-store.js'
import { isUsableKid } from '../keys/signing-keys.js'
import { withoutTrailingSlash } from '../keys/provider-url.js'
import type { AccessTokenClaims, Algorithm } from '../types.js'
import { freezeClaims } from './claims.js'
import { isRejection, type Rejection } from './rejections.js'
import type { TokenCache } from './token-cache.js'

export interface TokenVerifierOptions {
  issuer: string
  algorithms: ReadonlySet<Algorithm>
  audience: readonly string[]
  /** In ms. */
  clockTolerance: number
  requireAccessTokenType: boolean
}

/** The claims of a valid token, why it was rejected, or that its key cannot be had now. */
export type Verdict = AccessTokenClaims | Rejection | KeysUnavailable

// @fastify/jwt registered under its own namespace, so an app's own @fastify/jwt keeps
// `request.user`, `request.jwtVerify` and `fastify.jwt` for itself.
const NAMESPACE = 'oauthResourceServer'
const VERIFY = `${NAMESPACE}JwtVerify` as const

// Per-request slots, declared once so requests keep one shape.
const kToken = Symbol('oauth-resource-server.token')
const kKey = Symbol('oauth-resource-server.key')

interface VerifyingRequest extends FastifyRequest {
  [kToken]: string | null
  [kKey]: KeyRecord | null
  [VERIFY]: (options: undefined, callback: (error: unknown, payload: AccessTokenClaims) => void) => void
}

// @fastify/jwt's own codes and fast-jwt's codes it passes through. Its
// FST_JWT_AUTHORIZATION_TOKEN_INVALID covers a bad signature, a bad claim value, a
// missing claim and a malformed token alike; `explain` tells them apart.
const REJECTION_BY_CODE: Record<string, Rejection> = {
  FST_JWT_AUTHORIZATION_TOKEN_EXPIRED: 'expired',
  FAST_JWT_EXPIRED: 'expired',
  FAST_JWT_MISSING_SIGNATURE: 'signature',
  FAST_JWT_INVALID_SIGNATURE: 'signature',
  FAST_JWT_INVALID_ALGORITHM: 'algorithm',
  FAST_JWT_INVALID_CRIT_HEADER: 'crit',
  FAST_JWT_INACTIVE: 'notYetValid',
  FAST_JWT_MALFORMED: 'malformed',
  FAST_JWT_INVALID_PAYLOAD: 'malformed'
}

/**
 * Verifies access tokens with @fastify/jwt (fast-jwt inside), its `secret`
 * callback fed by the key store. The callback returns the key's one PEM string,
 * so @fastify/jwt reuses one fast-jwt verifier per key; every policy lives in
 * its global `verify` options, and requests pass none (per-call options would
 * build a verifier per request).
 *
 * `verify` settles synchronously when the key is known (the hot path) and after
 * the key store's fetch when it is not. It never throws: every outcome is a Verdict.
 */
export function createTokenVerifier (store: KeyStore, cache: TokenCache, options: TokenVerifierOptions) {
  const { issuer, algorithms, audience, clockTolerance, requireAccessTokenType } = options
  const acceptedTypes = new Set(requireAccessTokenType ? ['at+jwt'] : ['jwt', 'at+jwt'])
  const readPayload = createDecoder() as (token: string) => Record<string, unknown>

  /**
   * The header checks that pick the key; a token failing them never reaches the key
   * store. A refusal goes back through @fastify/jwt's error channel as its reason code.
   */
  function secret (request: FastifyRequest, decoded: { header: Record<string, unknown> }, answer: (error: unknown, pem?: string) => void): void {
    const { alg, typ, kid } = decoded.header
    if (typeof alg !== 'string' || !algorithms.has(alg as Algorithm)) return answer('algorithm')
    if (typ === undefined ? requireAccessTokenType : !acceptedTypes.has(normalizeType(typ))) return answer('type')
    if (!isUsableKid(kid)) return answer('kid')
    const use = (key: KeyRecord) => {
      if (!key.algorithms.includes(alg as Algorithm)) return answer('algorithm')
      ;(request as VerifyingRequest)[kKey] = key
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
      // Either spelling of the configured issuer; `accept` then holds the token to the
      // exact issuer its key came from (the one discovery named).
      allowedIss: [...new Set([issuer, withoutTrailingSlash(issuer), `${withoutTrailingSlash(issuer)}/`])],
      allowedAud: [...audience],
      requiredClaims: ['iss', 'aud', 'exp'],
      clockTolerance,
      // The verified-token cache is ours: bounded, and emptied when a key leaves.
      cache: false
    }
  }

  function accept (claims: AccessTokenClaims, key: KeyRecord, id: string | undefined): Verdict {
    if (claims.iss !== key.issuer) return 'issuer'
    const { iat } = claims
    if (iat !== undefined && (typeof iat !== 'number' || iat * 1000 > Date.now() + clockTolerance)) {
      return typeof iat === 'number' ? 'issuedInFuture' : 'claimType'
    }
    if (!freezeClaims(claims)) return 'nested'
    if (id !== undefined) cache.set(id, claims, key)
    return claims
  }

  /**
   * What a failure means. A claim failure names the claim: the payload is parsed
   * again only for that (rare) case, and only after the signature check passed.
   */
  function explain (error: unknown, token: string, key: KeyRecord | null): Verdict {
    if (isRejection(error) || error instanceof KeysUnavailable) return error
    const code = String((error as { code?: unknown } | null)?.code)
    const claimType = code === 'FAST_JWT_INVALID_CLAIM_TYPE'
    if (code !== 'FST_JWT_AUTHORIZATION_TOKEN_INVALID' && !claimType) return REJECTION_BY_CODE[code] ?? 'invalid'
    // Invalid before a key was picked: the token did not even decode.
    if (key === null) return 'malformed'
    const payload = readPayload(token)
    if (payload.iss !== key.issuer) return 'issuer'
    const aud = payload.aud
    const audiences = Array.isArray(aud) ? aud : [aud]
    if (!audiences.some(a => typeof a === 'string' && audience.includes(a))) return 'audience'
    if (payload.exp === undefined) return 'noExpiry'
    return claimType ? 'claimType' : 'signature'
  }

  return {
    jwtOptions,
    /** Declares the per-request slots; call once, on the instance the plugin decorates. */
    slots: [kToken, kKey] as const,
    verify (request: FastifyRequest, token: string, settle: (verdict: Verdict) => void): void {
      const id = cache.idOf(token)
      if (id !== undefined) {
        const claims = cache.get(id)
        if (claims !== undefined) return settle(claims)
      }

      const verifying = request as VerifyingRequest
      verifying[kToken] = token
      verifying[kKey] = null
      // A rejected credential is expected input, not a bug: errors made on the synchronous
      // path carry no stack (each cost several µs). The verdict is settled after the guard,
      // so the route's own code runs with the usual stacks.
      let verdict: Verdict | undefined
      let sync = true
      const stackTraceLimit = Error.stackTraceLimit
      Error.stackTraceLimit = 0
      try {
        verifying[VERIFY](undefined, (error, payload) => {
          const key = verifying[kKey]
          const settled = error ? explain(error, token, key) : accept(payload, key as KeyRecord, id)
          if (sync) verdict = settled
          else settle(settled)
        })
      } catch (error) {
        verdict = explain(error, token, verifying[kKey])
      } finally {
        sync = false
        Error.stackTraceLimit = stackTraceLimit
      }
      if (verdict !== undefined) settle(verdict)
    }
  }
}

function normalizeType (typ: unknown): string {
  return typeof typ === 'string' ? typ.toLowerCase().replace(/^application\//, '') : ''
}
