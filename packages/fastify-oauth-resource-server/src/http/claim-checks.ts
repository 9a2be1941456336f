import type { FastifyInstance, FastifyRequest, HookHandlerDoneFunction, preHandlerHookHandler } from 'fastify'
import { segmentProblem } from '../claims/claim-path.js'
import { listed } from '../claims/permissions.js'
import { channels, refusedMessage } from '../diagnostics/channels.js'
import type { AccessTokenClaims } from '../types.js'
import { AuthError, challenge, MissingTokenError } from './errors.js'

/** A JSON value `requireClaimEquals` compares with `===`. */
export type JsonPrimitive = string | number | boolean | null

/** A claim's name: any string, and the names declared on AccessTokenClaims are typed. */
export type ClaimName = Extract<keyof AccessTokenClaims, string>

/** What a claim may equal: its declared type's JSON primitives, or any primitive for an undeclared claim. */
export type ClaimValue<K extends ClaimName> = unknown extends AccessTokenClaims[K] ? JsonPrimitive : Extract<AccessTokenClaims[K], JsonPrimitive>

type MemberOf<V> = V extends string ? string : V extends ReadonlyArray<infer E> ? Extract<E, string> : never
/** What a claim may include: strings, for a claim declared as a string or an array of strings (or undeclared). */
export type ClaimMember<K extends ClaimName> = unknown extends AccessTokenClaims[K] ? string : MemberOf<Exclude<AccessTokenClaims[K], undefined>>

/** A check over the verified, frozen claims; only `true` lets the request through. */
export type ClaimPredicate = (claims: Readonly<AccessTokenClaims>) => boolean

/**
 * A verified token whose claims do not meet a route's claim check: 403 insufficient_scope
 * (RFC 6750 §3.1, "the request requires higher privileges than provided by the access
 * token"). The token is valid, so not invalid_token: a client that got 401 would fetch a
 * new token with the same claims and retry. No `scope` parameter: no scope would help.
 */
export class ClaimCheckError extends AuthError {
  readonly statusCode = 403
  readonly code = 'FST_AUTH_CLAIM_CHECK'
  readonly reason = 'claim_check'
  constructor (realm: string) {
    const description = 'The access token does not grant access to this resource'
    super('Permission denied', {
      'www-authenticate': challenge('Bearer', realm, { error: 'insufficient_scope', error_description: description })
    }, 'insufficient_scope', description)
  }
}

declare module 'fastify' {
  interface FastifyInstance {
    /** preHandler factory: the claim must be present and equal this JSON primitive (`===`, never coerced). */
    requireClaimEquals: <K extends ClaimName>(claim: K, value: ClaimValue<K>) => preHandlerHookHandler
    /** preHandler factory: the claim, an array of strings or a space-separated string, must include every value. */
    requireClaimIncludes: <K extends ClaimName>(claim: K, ...values: Array<ClaimMember<K>>) => preHandlerHookHandler
    /** preHandler factory: the predicate over the verified claims must return `true` (a throw refuses). */
    requireClaims: (predicate: ClaimPredicate) => preHandlerHookHandler
  }
}

const isPrimitive = (value: unknown): value is JsonPrimitive =>
  value === null || typeof value === 'string' || typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value))

/** The token's own claim: never one inherited through the prototype. */
const own = (claims: AccessTokenClaims, name: string): unknown => Object.hasOwn(claims, name) ? claims[name] : undefined

/**
 * The claim-check preHandler factories, bound to the plugin's realm. Each checks its
 * arguments when the route is declared (a mistake fails at start-up, naming the guard) and
 * answers 401 without a verified token, 403 ClaimCheckError when the check fails.
 */
export function createClaimGuards (realm: string, annotate: (error: AuthError, request: FastifyRequest) => AuthError) {
  function refuse (request: FastifyRequest, done: HookHandlerDoneFunction, error: AuthError) {
    if (channels.authDecision.hasSubscribers) channels.authDecision.publish(refusedMessage(error.reason))
    done(annotate(error, request))
  }

  function guard (check: (claims: AccessTokenClaims) => unknown): preHandlerHookHandler {
    return function checkClaims (request, reply, done) {
      const claims = request.claims
      // Fail closed when the route forgot `onRequest: fastify.authenticate`.
      if (claims === null) return refuse(request, done, new MissingTokenError(realm))
      let passed = false
      try {
        passed = check(claims) === true
      } catch {
        // A predicate that throws on a claim of an unexpected shape refuses; never a 500.
        request.log.debug({ reason: 'claim_check_threw' }, 'claim check threw')
      }
      if (passed) return done()
      request.log.debug({ reason: 'claim_check' }, 'access token refused')
      refuse(request, done, new ClaimCheckError(realm))
    }
  }

  function claimName (guardName: string, claim: unknown): string {
    const problem = segmentProblem(claim)
    if (problem !== undefined) throw new Error(`${guardName}: the claim name ${problem}`)
    return claim as string
  }

  function requireClaimEquals (claim: string, value: unknown): preHandlerHookHandler {
    const name = claimName('requireClaimEquals', claim)
    if (!isPrimitive(value)) throw new Error(`requireClaimEquals: the value for ${JSON.stringify(name)} must be a string, a finite number, a boolean or null`)
    return guard(claims => own(claims, name) === value)
  }

  function requireClaimIncludes (claim: string, ...values: string[]): preHandlerHookHandler {
    const name = claimName('requireClaimIncludes', claim)
    if (values.length === 0) throw new Error(`requireClaimIncludes: ${JSON.stringify(name)} needs at least one value`)
    for (const value of values) {
      if (typeof value !== 'string' || value === '') throw new Error(`requireClaimIncludes: ${JSON.stringify(value)} is not a non-empty string`)
    }
    const required = Object.freeze([...values])
    return guard(claims => {
      const actual = own(claims, name)
      if (typeof actual === 'string') return required.every(value => listed(actual, value))
      if (Array.isArray(actual)) return required.every(value => actual.includes(value))
      return false
    })
  }

  function requireClaims (predicate: ClaimPredicate): preHandlerHookHandler {
    if (typeof predicate !== 'function') throw new Error('requireClaims needs a predicate: (claims) => boolean')
    return guard(predicate)
  }

  return {
    // The declared signatures type the arguments; these check them again at run time.
    requireClaimEquals: requireClaimEquals as FastifyInstance['requireClaimEquals'],
    requireClaimIncludes: requireClaimIncludes as FastifyInstance['requireClaimIncludes'],
    requireClaims
  }
}
