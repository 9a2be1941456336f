/**
 * RFC 6750 §3 errors (RFC 9449's own are in dpop-errors.ts). Each carries its status, code and WWW-Authenticate header,
 * so any error handler (Fastify's default included) answers correctly.
 */

export type BearerErrorCode = 'invalid_request' | 'invalid_token' | 'insufficient_scope' | 'invalid_dpop_proof' | 'use_dpop_nonce' | 'insufficient_user_authentication'

export abstract class AuthError extends Error {
  abstract readonly statusCode: number
  abstract readonly code: string
  /** The RFC 6750 error code, when the response carries one. */
  readonly error: BearerErrorCode | undefined
  readonly error_description: string | undefined
  readonly headers: Record<string, string>
  /** Why, as a fixed code for logs and metrics (never the token or its claims). */
  abstract readonly reason: string

  constructor (message: string, headers: Record<string, string>, error?: BearerErrorCode, description?: string) {
    // A rejected credential is expected input, not a bug: its stack says nothing and,
    // captured through Fastify's hooks, is costly on every bad request.
    const stackTraceLimit = Error.stackTraceLimit
    Error.stackTraceLimit = 0
    super(message)
    Error.stackTraceLimit = stackTraceLimit
    this.name = new.target.name
    this.error = error
    this.error_description = description
    this.headers = headers
  }

  /** The JSON body: `{ message, error, error_description }`. */
  toJSON () {
    return { message: this.message, error: this.error, error_description: this.error_description }
  }
}

/** A WWW-Authenticate challenge: the scheme, its realm, then each parameter quoted, in order (RFC 6750 §3, RFC 9449 §7.1). */
export function challenge (scheme: 'Bearer' | 'DPoP', realm: string, params: Record<string, string> = {}): string {
  let value = `${scheme} realm="${realm}"`
  for (const [name, param] of Object.entries(params)) value += `, ${name}="${param}"`
  return value
}

/** No credentials at all, or another scheme: 401 with no error code (§3.1). */
export class MissingTokenError extends AuthError {
  readonly statusCode = 401
  readonly code = 'FST_AUTH_NO_TOKEN'
  readonly reason = 'missing_token'
  constructor (realm: string) {
    super('Requires authentication', { 'www-authenticate': challenge('Bearer', realm) })
  }
}

export class InvalidRequestError extends AuthError {
  readonly statusCode = 400
  readonly code = 'FST_AUTH_INVALID_REQUEST'
  readonly reason = 'invalid_request'
  constructor (realm: string, description: string) {
    super(description, {
      'www-authenticate': challenge('Bearer', realm, { error: 'invalid_request', error_description: description })
    }, 'invalid_request', description)
  }
}

export class InvalidTokenError extends AuthError {
  readonly statusCode = 401
  readonly code = 'FST_AUTH_INVALID_TOKEN'
  readonly reason: string
  /** `reason` names the rejection (`expired`, `audience`…); `description` is what the client reads. */
  constructor (realm: string, description: string, reason = 'invalid') {
    super(description, {
      'www-authenticate': challenge('Bearer', realm, { error: 'invalid_token', error_description: description })
    }, 'invalid_token', description)
    this.reason = reason
  }
}

export class InsufficientScopeError extends AuthError {
  readonly statusCode = 403
  readonly code = 'FST_AUTH_INSUFFICIENT_SCOPE'
  readonly reason = 'insufficient_scope'
  constructor (realm: string, scopes: readonly string[]) {
    const description = 'The access token does not grant the required permission'
    super('Permission denied', {
      'www-authenticate': challenge('Bearer', realm, {
        error: 'insufficient_scope',
        error_description: description,
        scope: scopes.join(' ')
      })
    }, 'insufficient_scope', description)
  }
}

/** The signing key could not be obtained from the provider: the client did nothing wrong. */
export class KeysUnavailableError extends AuthError {
  readonly statusCode = 503
  readonly code = 'FST_AUTH_KEYS_UNAVAILABLE'
  readonly reason = 'keys_unavailable'
  constructor (retryAfterSeconds: number) {
    super('The identity provider is unavailable; try again later', { 'retry-after': String(retryAfterSeconds) })
  }
}

/** The authorization server's introspection endpoint is down, slow or busy: the client did nothing wrong. */
export class IntrospectionUnavailableError extends AuthError {
  readonly statusCode = 503
  readonly code = 'FST_AUTH_INTROSPECTION_UNAVAILABLE'
  readonly reason = 'introspection_unavailable'
  constructor (retryAfterSeconds: number) {
    super('The authorization server cannot check the access token now; try again later', { 'retry-after': String(retryAfterSeconds) })
  }
}
