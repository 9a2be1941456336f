import type { FastifyRequest } from 'fastify'
import type { DpopMode } from '../dpop/types.js'
import { readBearerToken } from './bearer.js'
import { InvalidRequestError, type AuthError } from './errors.js'
import { countHeader } from './headers.js'

/** The access token a request presents, by scheme; a DPoP one with its proof header. */
export type Credential =
  | { scheme: 'Bearer', token: string }
  | { scheme: 'DPoP', token: string, proof: string | undefined, proofCount: number }

// RFC 9449 §7.1: credentials = "DPoP" 1*SP token68; the scheme is case-insensitive.
const DPOP_CREDENTIALS = /^DPoP +([A-Za-z0-9\-._~+/]+=*)$/i
const DPOP_SCHEME = /^DPoP(?: |$)/i

/**
 * The Authorization header as Bearer or, unless DPoP is off for the route, DPoP
 * credentials with the DPoP header(s); or the error to answer with.
 */
export function readCredential (request: FastifyRequest, realm: string, mode: DpopMode): Credential | AuthError {
  const header = request.headers.authorization
  if (mode !== 'off' && header !== undefined && DPOP_SCHEME.test(header)) {
    const match = DPOP_CREDENTIALS.exec(header)
    if (match === null) return new InvalidRequestError(realm, 'The Authorization header must be DPoP followed by one token')
    if (countHeader(request.raw.rawHeaders, 'authorization') > 1) return new InvalidRequestError(realm, 'Send one Authorization header')
    const proofCount = countHeader(request.raw.rawHeaders, 'dpop')
    const proof = request.headers.dpop
    return { scheme: 'DPoP', token: match[1] as string, proof: typeof proof === 'string' ? proof : undefined, proofCount }
  }
  const token = readBearerToken(request, realm)
  return typeof token === 'string' ? { scheme: 'Bearer', token } : token
}

/** Whether the request's Authorization header uses the DPoP scheme, on a route that takes it. */
export function usesDpopScheme (request: FastifyRequest, mode: DpopMode): boolean {
  const header = request.headers.authorization
  return mode !== 'off' && header !== undefined && DPOP_SCHEME.test(header)
}
