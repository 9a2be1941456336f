import type { FastifyRequest, preHandlerHookHandler } from 'fastify'
import { InsufficientScopeError, MissingTokenError } from './errors.js'
import type { AccessTokenClaims } from './types.js'

// A scope-token (RFC 6749 §3.3), which also keeps the WWW-Authenticate header well formed.
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/

/**
 * Whether the claims grant a permission: in the Auth0 RBAC `permissions` array
 * or the space-separated `scope` string. Exact, case-sensitive matches only.
 */
export function grants (claims: AccessTokenClaims, permission: string): boolean {
  const { permissions, scope } = claims
  if (Array.isArray(permissions) && permissions.includes(permission)) return true
  return typeof scope === 'string' && scope.split(' ').includes(permission)
}

/** The preHandler factories, bound to the plugin's realm; `annotate` may add to an error's challenge. */
export function createScopeGuards (realm: string, annotate: (error: unknown, request: FastifyRequest) => unknown) {
  function guard (scopes: string[], every: boolean): preHandlerHookHandler {
    if (scopes.length === 0) throw new Error('requireScopes needs at least one permission')
    for (const scope of scopes) {
      if (typeof scope !== 'string' || !SCOPE_TOKEN.test(scope)) {
        throw new Error(`requireScopes: ${JSON.stringify(scope)} is not a valid scope`)
      }
    }
    const required = Object.freeze([...scopes])
    return function checkScopes (request, reply, done) {
      const claims = request.user
      // Fail closed when the route forgot `onRequest: fastify.authenticate`.
      if (claims === null) return done(annotate(new MissingTokenError(realm), request) as Error)
      const granted = every ? required.every(s => grants(claims, s)) : required.some(s => grants(claims, s))
      if (granted) return done()
      request.log.debug({ reason: 'insufficient_scope' }, 'access token refused')
      done(annotate(new InsufficientScopeError(realm, required), request) as Error)
    }
  }

  return {
    requireScopes: (...scopes: string[]) => guard(scopes, true),
    requireAnyScope: (...scopes: string[]) => guard(scopes, false)
  }
}
