import { interactionPolicy, type KoaContextWithOIDC } from 'oidc-provider'
import { LocalAcr } from './issuer-info.js'

/**
 * Step-up at the local issuer (RFC 9470's authorization server side). A client that got
 * `insufficient_user_authentication` sends the user back with `acr_values` and/or
 * `max_age`: oidc-provider's own `max_age` check asks for a new sign-in when the last is
 * too old; the check below asks for one when the client accepts only the TOTP `acr` and
 * the session's sign-in was a password alone. The access token then carries the sign-in's
 * `acr` and `auth_time` (oidc-provider puts neither in access tokens by itself).
 */

/** Whether the `acr_values` asked for (in order of preference) need the second factor: the TOTP acr among them, the password's not. */
export function requiresTotp (acrValues: unknown): boolean {
  if (typeof acrValues !== 'string') return false
  const values = acrValues.split(' ')
  return values.includes(LocalAcr.totp) && !values.includes(LocalAcr.password)
}

/** oidc-provider's default interaction policy, with the login prompt also asked for a TOTP step-up. */
export function createInteractionPolicy () {
  const policy = interactionPolicy.base()
  policy.get('login')?.checks.add(new interactionPolicy.Check(
    'acr_values',
    'the client asks for a sign-in with a second factor',
    ctx => requiresTotp(ctx.oidc.params?.acr_values) && ctx.oidc.acr !== LocalAcr.totp
      ? interactionPolicy.Check.REQUEST_PROMPT
      : interactionPolicy.Check.NO_NEED_TO_PROMPT
  ))
  return policy
}

/** The sign-in's `acr` and `auth_time` for a user's access token, from the code or refresh token it is issued for. */
export function signInClaims (ctx: KoaContextWithOIDC): { acr?: string, auth_time?: number } {
  const { AuthorizationCode: code, RefreshToken: refresh } = ctx.oidc.entities
  const from = code ?? refresh
  if (from === undefined) return {}
  return {
    ...(typeof from.acr === 'string' && { acr: from.acr }),
    ...(typeof from.authTime === 'number' && { auth_time: from.authTime })
  }
}
