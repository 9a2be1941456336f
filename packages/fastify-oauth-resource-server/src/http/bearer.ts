import type { FastifyRequest } from 'fastify'
import { InvalidRequestError, MissingTokenError } from './errors.js'
import { countHeader } from './headers.js'

// RFC 6750 §2.1: credentials = "Bearer" 1*SP b64token; the scheme is case-insensitive.
const BEARER_CREDENTIALS = /^Bearer +([A-Za-z0-9\-._~+/]+=*)$/i
const BEARER_SCHEME = /^Bearer(?: |$)/i

/**
 * The bearer token of a request, read from the Authorization header only:
 * never the query string, a form body or a cookie (RFC 6750 §2.2, §2.3 are not offered).
 * A request without a usable one gets the error to answer with, returned like the
 * verifier's rejections rather than thrown.
 */
export function readBearerToken (request: FastifyRequest, realm: string): string | MissingTokenError | InvalidRequestError {
  const header = request.headers.authorization
  if (header === undefined || header === '') return new MissingTokenError(realm)

  const match = BEARER_CREDENTIALS.exec(header)
  if (match !== null) {
    if (countHeader(request.raw.rawHeaders, 'authorization') > 1) {
      return new InvalidRequestError(realm, 'Send one Authorization header')
    }
    return match[1] as string
  }
  if (BEARER_SCHEME.test(header)) {
    return new InvalidRequestError(realm, 'The Authorization header must be Bearer followed by one token')
  }
  // Another scheme (Basic, DPoP…): the request carries no bearer credentials.
  return new MissingTokenError(realm)
}
