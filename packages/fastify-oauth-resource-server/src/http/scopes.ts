import type { FastifyRequest, HookHandlerDoneFunction, preHandlerHookHandler } from 'fastify'
import { channels, refusedMessage } from '../diagnostics/channels.js'
import { grants as defaultGrants } from '../claims/claims.js'
import type { Grants } from '../claims/permissions.js'
import { InsufficientScopeError, MissingTokenError, type AuthError } from './errors.js'

// A scope-token (RFC 6749 §3.3), which also keeps the WWW-Authenticate header well formed.
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/

/**
 * The preHandler factories, bound to the plugin's realm; `annotate` may add to an error's
 * challenge; `grants` reads the permissions where the `permissionsClaim` option says.
 */
export function createScopeGuards (realm: string, annotate: (error: AuthError, request: FastifyRequest) => AuthError, grants: Grants = defaultGrants) {
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
      if (claims === null) return refuse(request, done, new MissingTokenError(realm))
      const granted = every ? required.every(s => grants(claims, s)) : required.some(s => grants(claims, s))
      if (granted) return done()
      request.log.debug({ reason: 'insufficient_scope' }, 'access token refused')
      refuse(request, done, new InsufficientScopeError(realm, required))
    }
  }

  function refuse (request: FastifyRequest, done: HookHandlerDoneFunction, error: AuthError) {
    if (channels.authDecision.hasSubscribers) channels.authDecision.publish(refusedMessage(error.reason))
    done(annotate(error, request))
  }

  return {
    requireScopes: (...scopes: string[]) => guard(scopes, true),
    requireAnyScope: (...scopes: string[]) => guard(scopes, false)
  }
}
