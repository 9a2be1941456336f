import type { AudienceClaim } from '../types.js'
import type { Rejection } from './rejections.js'

export interface ClaimPolicy {
  /** The `iss` required, exactly. */
  issuer: string
  /** The audience claim (`audienceClaim`, default `aud`) must name one of these. */
  audience: readonly string[]
  /** Default `'aud'`. */
  audienceClaim?: AudienceClaim
  /** In ms. */
  clockTolerance: number
}

// The claims this plugin, its users' routes and the service read, as strings when present
// (RFC 7519 StringOrURI, RFC 9068, RFC 8693 for client_id). A JWT's `scope` and
// `permissions` of another type grant nothing (grants() reads only a string and an array
// of strings), so a route answers 403 as for any permission not granted.
const STRING_CLAIMS = ['sub', 'client_id', 'azp', 'jti', 'acr'] as const

/**
 * The rules a token's claims meet, for a JWT (only once its signature has verified) and
 * an introspection answer alike: `iss` exactly the issuer, not marked as another kind of
 * token (isAccessToken), `aud` (or `client_id`) naming this API, `exp`
 * required and not past, `nbf` and `iat` not in the future (all within the clock
 * tolerance), and every claim that is read of its type, so that `sub: {}` never
 * reaches a route as "[object Object]". Run once per token, before it is cached: a
 * cached token costs nothing more. Undefined when the claims pass.
 */
export function judgeClaims (claims: Readonly<Record<string, unknown>>, { issuer, audience, audienceClaim = 'aud', clockTolerance }: ClaimPolicy): Rejection | undefined {
  if (claims.iss !== issuer) return 'issuer'
  if (!isAccessToken(claims)) return 'tokenUse'
  const { exp, nbf, iat } = claims
  const aud = claims[audienceClaim]
  const audiences: readonly unknown[] = Array.isArray(aud) ? aud : [aud]
  if (!audiences.some(each => audience.includes(each as string))) return 'audience'
  if (!audiences.every(each => typeof each === 'string')) return 'claimType'

  if (exp === undefined) return 'noExpiry'
  if (typeof exp !== 'number' || (nbf !== undefined && typeof nbf !== 'number') || (iat !== undefined && typeof iat !== 'number')) return 'claimType'
  const now = Date.now()
  if (now > exp * 1000 + clockTolerance) return 'expired'
  if (nbf !== undefined && (nbf as number) * 1000 > now + clockTolerance) return 'notYetValid'
  if (iat !== undefined && (iat as number) * 1000 > now + clockTolerance) return 'issuedInFuture'

  for (const name of STRING_CLAIMS) {
    const value = claims[name]
    if (value !== undefined && typeof value !== 'string') return 'claimType'
  }
  const authTime = claims.auth_time
  if (authTime !== undefined && typeof authTime !== 'number') return 'claimType'
  return undefined
}

// Keycloak's own token types (its `typ` claim): an access token is `Bearer`, or `DPoP` when bound.
const ACCESS_TYPES = new Set(['bearer', 'dpop'])

/**
 * Whether a token that says what kind it is says it is an access token. An ID token
 * names its client in `aud`, so with the client as the audience it would otherwise pass:
 * Amazon Cognito marks its tokens `token_use` (`access` or `id`), Keycloak `typ`
 * (`Bearer`, or `ID`, `Refresh`, `Logout`). Any other value of either claim is refused,
 * whatever the audience claim: a token without them is judged by the other rules.
 */
function isAccessToken (claims: Readonly<Record<string, unknown>>): boolean {
  const { token_use: use, typ } = claims
  if (use !== undefined && use !== 'access') return false
  return typ === undefined || (typeof typ === 'string' && ACCESS_TYPES.has(typ.toLowerCase()))
}
