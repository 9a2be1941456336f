import { createHash } from 'node:crypto'
import { isIP } from 'node:net'
import { normalizeIP } from '@fastify/rate-limit'
import type { FastifyRequest } from 'fastify'

/** Whose budget a request spends: a verified subject's, or a client address's. */
export type Budget = 'subject' | 'address'

const SUBJECT = 's:'
const ADDRESS = 'a:'
// One IPv6 client usually holds a whole /64: counted as one address, it cannot spread its requests over 2^64 budgets.
const IPV6_SUBNET = 64

const subjectKeys = new WeakMap<object, string>()

/** SHA-256 of the parts, 128 bits of it: a key part of fixed length, whatever the input's. */
function digest (...parts: string[]): string {
  const hash = createHash('sha256')
  for (const part of parts) hash.update(part).update('\n')
  return hash.digest('base64url').slice(0, 22)
}

/**
 * The budget key of a request, in Redis after the limiter's prefix. With a verified
 * token: its subject, `sub` (RFC 9068 §2.2: for a client credentials token, the
 * client; Auth0's `<client_id>@clients`), or, without one, its `client_id`, then its
 * `azp`, scoped by the issuer that verified it, so two issuers' subjects never share
 * one budget. Hashed (SHA-256, 128 bits kept): a key of fixed length whatever the
 * subject's, and no user id or email stored in Redis. Without a verified token (none
 * sent, or refused): the client address, `request.ip` (what a trusted proxy forwards
 * under TRUST_PROXY, never a header from anyone else), hashed if it is not an address.
 * Only the verifier decides `request.claims`: a forged token never names a budget.
 */
export function rateLimitKey (request: FastifyRequest): string {
  const claims = request.claims
  if (claims !== null) {
    // A cached token's claims are the same frozen object on every request: hashed once.
    const known = subjectKeys.get(claims)
    if (known !== undefined) return known
    const subject = claims.sub ?? claims.client_id ?? claims.azp
    if (typeof subject === 'string') {
      const key = SUBJECT + digest(claims.iss, subject)
      subjectKeys.set(claims, key)
      return key
    }
  }
  const ip = request.ip
  // Under TRUST_PROXY=true, request.ip is whatever X-Forwarded-For begins with: any string a client writes.
  if (isIP(ip) === 0) return ADDRESS + '#' + digest(ip)
  return ADDRESS + normalizeIP(ip, IPV6_SUBNET)
}

/** Which budget a key is. */
export const budgetOf = (key: string): Budget => key.startsWith(SUBJECT) ? 'subject' : 'address'
