import type { IntrospectionResponse } from 'oauth4webapi'
import { judgeClaims, type ClaimPolicy } from '../claims/rules.js'
import { freezeClaims } from '../claims/claims.js'
import type { Rejection } from '../claims/rejections.js'
import type { AccessTokenClaims } from '../types.js'

/** The issuer is the one that answered, exactly as discovery (or the configuration) spells it. */
export type IntrospectionPolicy = ClaimPolicy

/**
 * Holds an RFC 7662 introspection response to the rules a JWT's claims meet (judgeClaims:
 * issuer, audience, exp required, nbf, iat, the types of the claims read), and to being
 * active and a bearer token. The authorization server's word that a token is active is
 * not enough: a server that answers for another API's token must not open this one.
 */
export function judgeIntrospection (response: IntrospectionResponse, policy: IntrospectionPolicy): AccessTokenClaims | Rejection {
  if (response.active !== true) return 'inactive'
  const { active, ...rest } = response
  // iss is optional in RFC 7662: the claims always name the issuer that answered.
  const claims = { ...rest, iss: rest.iss ?? policy.issuer } as Record<string, unknown>
  const rejection = judgeClaims(claims, policy)
  if (rejection !== undefined) return rejection
  // A bearer token only: one bound to a key (DPoP: token_type DPoP or a cnf claim) presented
  // as a bearer token is refused, not accepted without its proof. A token bound to a client
  // certificate alone (RFC 8705 §3.2: cnf with x5t#S256) is a Bearer token; authenticate checks its certificate.
  const { token_type: tokenType, cnf, scope, permissions } = claims
  // RFC 7662 §2.2: scope is a space-separated string; permissions (Auth0's form), strings.
  if (scope !== undefined && typeof scope !== 'string') return 'claimType'
  if (permissions !== undefined && !(Array.isArray(permissions) && permissions.every(each => typeof each === 'string'))) return 'claimType'
  if (tokenType !== undefined && (typeof tokenType !== 'string' || tokenType.toLowerCase() !== 'bearer')) return 'type'
  if (cnf !== undefined && !isCertificateBinding(cnf)) return 'type'
  if (!freezeClaims(claims)) return 'nested'
  return claims as AccessTokenClaims
}

/** `cnf` naming a client certificate's thumbprint and nothing else. */
function isCertificateBinding (cnf: unknown): boolean {
  if (typeof cnf !== 'object' || cnf === null || Array.isArray(cnf)) return false
  const keys = Object.keys(cnf)
  return keys.length === 1 && keys[0] === 'x5t#S256' && typeof (cnf as Record<string, unknown>)['x5t#S256'] === 'string'
}
