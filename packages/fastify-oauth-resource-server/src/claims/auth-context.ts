/**
 * RFC 9470 step-up authentication: whether the user's sign-in behind a token meets a
 * route's authentication context. Reasons only; http/auth-context.ts makes the answer.
 */

/** A route's requirement, checked and frozen: acr values in order of preference, ages in ms. */
export interface AuthContext {
  acrValues: readonly string[] | undefined
  /** The most time since the user signed in (`auth_time`), in ms; undefined: any. */
  maxAge: number | undefined
}

/** What fell short: the `acr`, the `auth_time`, or both. */
export interface AuthContextShortfall {
  acr: boolean
  authTime: boolean
}

/**
 * Undefined when the claims meet the context; else what fell short. A claim of another
 * type than RFC 9068's (an `acr` string, an `auth_time` number) never meets it: it is
 * not coerced. `auth_time` later than now past the clock tolerance does not meet a
 * `maxAge`: a sign-in that has not happened yet is no evidence of a recent one.
 */
export function judgeAuthContext (claims: Readonly<Record<string, unknown>>, context: AuthContext, now: number, clockTolerance: number): AuthContextShortfall | undefined {
  const { acr, auth_time: authTime } = claims
  const { acrValues, maxAge } = context
  const acrShort = acrValues !== undefined && !(typeof acr === 'string' && acrValues.includes(acr))
  const authTimeShort = maxAge !== undefined && !(
    typeof authTime === 'number' && Number.isFinite(authTime) &&
    authTime * 1000 <= now + clockTolerance &&
    now - authTime * 1000 <= maxAge + clockTolerance
  )
  return acrShort || authTimeShort ? { acr: acrShort, authTime: authTimeShort } : undefined
}
