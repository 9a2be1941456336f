import type { FastifyRequest, preHandlerHookHandler } from 'fastify'
import { grants } from '../token/claims.js'
import { InsufficientScopeError, MissingTokenError, type AuthError } from './errors.js'

// A scope-token (RFC 6749 §3.3), which also keeps the WWW-Authenticate header well formed.
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/

/** The preHandler factories, bound to the plugin's realm; `annotate` may add to an error's challenge. */
export function createScopeGuards (realm: string, annotate: (error: AuthError, request: FastifyRequest) => AuthError) {
  function guard (scopes: string[], every: boolean): preHandlerHookHandler {
    if (scopes.length === 0) throw new Error('requireScopes needs at least one permission')
    for (const scope of scopes) {
      if (typeof scope !== 'string' || !SCOPE_TOKEN.test(scope)) {
        throw new Error(`requireScopes: ${JSON.stringify(scope)} is not a valid scope`)
      }
    }
    const required = Object.freeze([...scopes])
    return function checkScopes (request, reply, done) {
      const claims = request.claims
      // Fail closed when the route forgot `onRequest: fastify.authenticate`.
      if (claims === null) return done(annotate(new MissingTokenError(realm), request))
      const granted = every ? required.every(s => grants(claims, s)) : required.some(s => grants(claims, s))
      if (granted) return done()
      request.log.debug({ reason: 'insufficient_scope' }, 'access token refused')
      done(annotate(new InsufficientScopeError(realm, required), request))
    }
  }

  return {
    requireScopes: (...scopes: string[]) => guard(scopes, true),
    requireAnyScope: (...scopes: string[]) => guard(scopes, false)
  }
}
