import type { FastifyRequest, preHandlerHookHandler } from 'fastify'
import { channels, refusedMessage } from '../diagnostics/channels.js'
import { judgeAuthContext, type AuthContext, type AuthContextShortfall } from '../claims/auth-context.js'
import { optionChecks } from '../option-checks.js'
import type { AuthContextRequirement } from '../types.js'
import { MissingTokenError, type AuthError } from './errors.js'
import { InsufficientUserAuthenticationError, type StepUpParams } from './step-up-errors.js'

// An acr value fit to list in the space-separated, quoted acr_values (the scope-token charset, RFC 6749 §3.3).
const ACR_VALUE = /^[\x21\x23-\x5B\x5D-\x7E]+$/
// A year: a larger maxAge is most likely in ms.
const MAX_AGE_LIMIT = 366 * 24 * 60 * 60

// RFC 9470 §3's own examples, and the two together.
const Descriptions = {
  acr: 'A different authentication level is required',
  authTime: 'More recent authentication is required',
  both: 'A different authentication level and more recent authentication are required'
} as const

const describe = ({ acr, authTime }: AuthContextShortfall): string => acr && authTime ? Descriptions.both : acr ? Descriptions.acr : Descriptions.authTime

/** Checks a route's requirement; throws naming the bad option. */
function resolveAuthContext (requirement: AuthContextRequirement): AuthContext {
  const { fail, seconds } = optionChecks('requireAuthContext: option ')
  if (typeof requirement !== 'object' || requirement === null) fail('acrValues', 'or maxAge is required')
  const { acrValues, maxAge } = requirement
  if (acrValues === undefined && maxAge === undefined) fail('acrValues', 'or maxAge is required')
  if (acrValues !== undefined && (!Array.isArray(acrValues) || acrValues.length === 0 || !acrValues.every(each => typeof each === 'string' && ACR_VALUE.test(each)))) {
    fail('acrValues', 'must be a non-empty array of acr values, each without spaces, quotes or backslashes')
  }
  if (maxAge !== undefined && !Number.isInteger(maxAge)) fail('maxAge', 'must be a whole number of seconds')
  return {
    acrValues: acrValues === undefined ? undefined : Object.freeze([...acrValues]),
    maxAge: maxAge === undefined ? undefined : seconds('maxAge', maxAge, 0, 0, MAX_AGE_LIMIT)
  }
}

/**
 * The preHandler factory `requireAuthContext({ acrValues, maxAge })` (RFC 9470): the
 * token's `acr` among `acrValues`, and its `auth_time` at most `maxAge` seconds ago.
 * Short of it, 401 `insufficient_user_authentication` whose challenge asks for the
 * route's whole requirement, so that one new sign-in meets it. `fit` gives the error
 * the challenge the request's scheme and route call for (DPoP, resource metadata).
 */
export function createAuthContextGuard (realm: string, clockTolerance: number, fit: (error: AuthError, request: FastifyRequest) => AuthError) {
  return function requireAuthContext (requirement: AuthContextRequirement): preHandlerHookHandler {
    const context = resolveAuthContext(requirement)
    const params: StepUpParams = {
      ...(context.acrValues !== undefined && { acr_values: context.acrValues.join(' ') }),
      ...(context.maxAge !== undefined && { max_age: String(context.maxAge / 1000) })
    }
    return function checkAuthContext (request, reply, done) {
      const claims = request.claims
      // Fail closed when the route forgot `onRequest: fastify.authenticate`.
      if (claims === null) return done(fit(new MissingTokenError(realm), request))
      const shortfall = judgeAuthContext(claims, context, Date.now(), clockTolerance)
      if (shortfall === undefined) return done()
      const error = new InsufficientUserAuthenticationError(realm, describe(shortfall), params)
      // The reason code only: never the token or its claims.
      request.log.debug({ reason: error.reason }, 'access token refused')
      if (channels.authDecision.hasSubscribers) channels.authDecision.publish(refusedMessage(error.reason))
      done(fit(error, request))
    }
  }
}
