import { KeysUnavailable } from '../keys/key-store.js'
import { Rejections, type Rejection } from '../token/rejections.js'
import { InvalidTokenError, KeysUnavailableError, type AuthError } from './errors.js'

/** The one place a token's rejection or a key outage becomes an HTTP answer. */
export function refusal (reason: Rejection | KeysUnavailable, realm: string): AuthError {
  if (reason instanceof KeysUnavailable) return new KeysUnavailableError(reason.retryAfterSeconds)
  return new InvalidTokenError(realm, Rejections[reason], reason)
}
