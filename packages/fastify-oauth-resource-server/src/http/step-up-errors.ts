import { AuthError, challenge } from './errors.js'

/** The RFC 9470 §3 challenge parameters: what the client asks the authorization server for. */
export interface StepUpParams {
  /** Space-separated, in order of preference. */
  acr_values?: string
  /** Seconds. */
  max_age?: string
}

/**
 * RFC 9470 §3: the token is good, but the user's sign-in behind it is not the kind or
 * not recent enough. 401, so that the client sends the user back to the authorization
 * server with the challenge's `acr_values` and `max_age`.
 */
export class InsufficientUserAuthenticationError extends AuthError {
  readonly statusCode = 401
  readonly code = 'FST_AUTH_INSUFFICIENT_USER_AUTHENTICATION'
  readonly reason = 'insufficient_user_authentication'
  constructor (realm: string, description: string, params: StepUpParams) {
    super(description, {
      'www-authenticate': challenge('Bearer', realm, {
        error: 'insufficient_user_authentication',
        error_description: description,
        ...params
      })
    }, 'insufficient_user_authentication', description)
  }
}
