import type { IntrospectionResponse } from 'oauth4webapi'
import { freezeClaims } from '../token/claims.js'
import type { Rejection } from '../token/rejections.js'
import type { AccessTokenClaims } from '../types.js'

export interface IntrospectionPolicy {
  /** The issuer the token must come from, exactly as discovery (or the configuration) spells it. */
  issuer: string
  audience: readonly string[]
  /** In ms. */
  clockTolerance: number
}

/**
 * Holds an RFC 7662 introspection response to the rules a JWT's claims meet: active,
 * not expired (exp is required), not before nbf or iat, meant for this API, from this
 * issuer, a bearer token. The authorization server's word that a token is active is not
 * enough: a server that answers for another API's token must not open this one.
 */
export function judgeIntrospection (response: IntrospectionResponse, { issuer, audience, clockTolerance }: IntrospectionPolicy): AccessTokenClaims | Rejection {
  if (response.active !== true) return 'inactive'
  const { iss, aud, exp, nbf, iat, scope, token_type: tokenType, cnf } = response
  if (iss !== undefined && iss !== issuer) return 'issuer'

  const now = Date.now()
  if (exp === undefined) return 'noExpiry'
  if (typeof exp !== 'number') return 'claimType'
  if (now > exp * 1000 + clockTolerance) return 'expired'
  if (nbf !== undefined && (typeof nbf !== 'number' || nbf * 1000 > now + clockTolerance)) {
    return typeof nbf === 'number' ? 'notYetValid' : 'claimType'
  }
  if (iat !== undefined && (typeof iat !== 'number' || iat * 1000 > now + clockTolerance)) {
    return typeof iat === 'number' ? 'issuedInFuture' : 'claimType'
  }

  const audiences = Array.isArray(aud) ? aud : [aud]
  if (!audiences.some(a => typeof a === 'string' && audience.includes(a))) return 'audience'
  if (scope !== undefined && typeof scope !== 'string') return 'claimType'
  // A bearer token only: one bound to a key (DPoP, mTLS: token_type DPoP or a cnf claim)
  // presented as a bearer token is refused, not accepted without its proof.
  if (tokenType !== undefined && (typeof tokenType !== 'string' || tokenType.toLowerCase() !== 'bearer')) return 'type'
  if (cnf !== undefined) return 'type'

  const { active, ...rest } = response
  // iss is optional in RFC 7662: the claims always name the issuer that answered.
  const claims = { ...rest, iss: iss ?? issuer, aud: aud as string | string[], exp } as AccessTokenClaims
  if (!freezeClaims(claims)) return 'nested'
  return claims
}
