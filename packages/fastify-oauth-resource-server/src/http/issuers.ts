import type { FastifyRequest, preHandlerHookHandler } from 'fastify'
import { Rejections } from '../claims/rejections.js'
import type { TrustedIssuer, TrustedIssuers } from '../token/trusted-issuers.js'
import { InvalidTokenError, MissingTokenError, type AuthError } from './errors.js'

/**
 * The preHandler factory `requireIssuer(...)`: the route takes tokens from the listed
 * issuers only. Each must be a configured issuer (a typo fails at start-up, not at the
 * first request). A token from another trusted issuer gets 401 invalid_token: the client
 * needs a token from one of these issuers.
 */
export function createIssuerGuard (issuers: TrustedIssuers, realm: string, annotate: (error: AuthError, request: FastifyRequest) => AuthError) {
  return function requireIssuer (...names: string[]): preHandlerHookHandler {
    if (names.length === 0) throw new Error('requireIssuer needs at least one issuer')
    const allowed = new Set<TrustedIssuer>()
    for (const name of names) {
      const trusted = issuers.select(name)
      if (trusted === undefined) throw new Error(`requireIssuer: ${JSON.stringify(name)} is not a configured issuer`)
      allowed.add(trusted)
    }
    return function checkIssuer (request, reply, done) {
      const claims = request.claims
      // Fail closed when the route forgot `onRequest: fastify.authenticate`.
      if (claims === null) return done(annotate(new MissingTokenError(realm), request))
      const trusted = issuers.select(claims.iss)
      if (trusted !== undefined && allowed.has(trusted)) return done()
      request.log.debug({ reason: 'issuerNotAllowed' }, 'access token refused')
      done(annotate(new InvalidTokenError(realm, Rejections.issuerNotAllowed, 'issuerNotAllowed'), request))
    }
  }
}
