import { IntrospectionUnavailable } from '../introspection/introspector.js'
import { KeysUnavailable } from '../keys/key-store.js'
import { Rejections, type Rejection } from '../claims/rejections.js'
import { IntrospectionUnavailableError, InvalidTokenError, KeysUnavailableError, type AuthError } from './errors.js'

/** The one place a token's rejection, a key outage or an introspection outage becomes an HTTP answer. */
export function refusal (reason: Rejection | KeysUnavailable | IntrospectionUnavailable, realm: string): AuthError {
  if (reason instanceof KeysUnavailable) return new KeysUnavailableError(reason.retryAfterSeconds)
  if (reason instanceof IntrospectionUnavailable) return new IntrospectionUnavailableError(reason.retryAfterSeconds)
  return new InvalidTokenError(realm, Rejections[reason], reason)
}
