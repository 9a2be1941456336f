import type { DpopMode } from '../dpop/types.js'
import { ProofRejections, type ProofRejection } from '../dpop/proof.js'
import { AuthError, challenge } from './errors.js'

/**
 * RFC 9449 §7.1 errors and challenges. A DPoP challenge names the accepted proof
 * algorithms (`algs`); where both schemes are accepted, every 401 carries both
 * challenges, the error on the one the client used.
 */

/** A DPoP challenge: its parameters, then the accepted proof algorithms. */
function dpopChallenge (realm: string, algs: string, params: Record<string, string> = {}): string {
  return challenge('DPoP', realm, { ...params, algs })
}

/** The proof is missing, malformed, or fails a check of RFC 9449 §4.3. */
export class InvalidDpopProofError extends AuthError {
  readonly statusCode = 401
  readonly code = 'FST_AUTH_INVALID_DPOP_PROOF'
  readonly reason: string
  constructor (realm: string, algs: string, rejection: ProofRejection) {
    const description = ProofRejections[rejection]
    super(description, {
      'www-authenticate': dpopChallenge(realm, algs, { error: 'invalid_dpop_proof', error_description: description })
    }, 'invalid_dpop_proof', description)
    this.reason = `dpop_${rejection}`
  }
}

/** The proof carries no nonce, or a stale one: retry with the one in `DPoP-Nonce` (§8). */
export class UseDpopNonceError extends AuthError {
  readonly statusCode = 401
  readonly code = 'FST_AUTH_USE_DPOP_NONCE'
  readonly reason = 'dpop_nonce'
  constructor (realm: string, algs: string, nonce: string) {
    const description = 'Resource server requires nonce in DPoP proof'
    super(description, {
      'www-authenticate': dpopChallenge(realm, algs, { error: 'use_dpop_nonce', error_description: description }),
      'dpop-nonce': nonce
    }, 'use_dpop_nonce', description)
  }
}

/** The route takes DPoP-bound tokens only, and the request brought none. */
export class DpopRequiredError extends AuthError {
  readonly statusCode = 401
  readonly code = 'FST_AUTH_DPOP_REQUIRED'
  readonly reason = 'dpop_required'
  constructor (realm: string, algs: string) {
    super('Requires a DPoP-bound access token and a DPoP proof', { 'www-authenticate': dpopChallenge(realm, algs) })
  }
}

/**
 * The replay cache cannot take the proof now: full, its shared store lost its memory
 * since the proof could have been accepted (reset: a new proof is taken after
 * Retry-After), or its store not answering. Refused, never accepted unchecked.
 */
export class ReplayCacheUnavailableError extends AuthError {
  readonly statusCode = 503
  readonly code = 'FST_AUTH_REPLAY_CACHE_UNAVAILABLE'
  readonly reason: 'dpop_replay_cache_full' | 'dpop_replay_cache_reset' | 'dpop_replay_cache_unavailable'
  constructor (retryAfterSeconds: number, reason: ReplayCacheUnavailableError['reason']) {
    super('DPoP proofs cannot be checked right now; try again later', { 'retry-after': String(retryAfterSeconds) })
    this.reason = reason
  }
}

/** The proof's key holds its whole share of the replay cache: this key's proofs wait, others still fit. */
export class TooManyDpopProofsError extends AuthError {
  readonly statusCode = 429
  readonly code = 'FST_AUTH_TOO_MANY_DPOP_PROOFS'
  readonly reason = 'dpop_replay_cache_key_full'
  constructor (retryAfterSeconds: number) {
    super('Too many DPoP proofs with this key; try again later', { 'retry-after': String(retryAfterSeconds) })
  }
}

/**
 * Fits a 401/400 error's challenge to the route's mode and the scheme the client
 * used: an error about DPoP credentials speaks DPoP (with `algs`); with both schemes
 * accepted the other scheme's bare challenge is added. Mode off and 403s are left as they are.
 */
export function createChallengeFitter (realm: string, algorithms: readonly string[]) {
  const algs = algorithms.join(' ')
  const bareDpop = dpopChallenge(realm, algs)
  const bareBearer = `Bearer realm="${realm}"`
  return {
    algs,
    fit (error: AuthError, mode: DpopMode, scheme: 'Bearer' | 'DPoP' | undefined): AuthError {
      const current = error.headers['www-authenticate']
      if (mode === 'off' || current === undefined || error.statusCode === 403) return error
      let challenge: string
      if (current.startsWith('DPoP ')) {
        challenge = current
      } else if (scheme === 'DPoP') {
        challenge = `DPoP ${current.slice('Bearer '.length)}, algs="${algs}"`
      } else {
        return setChallenge(error, mode === 'required' ? bareDpop : `${current}, ${bareDpop}`)
      }
      return setChallenge(error, mode === 'allowed' ? `${bareBearer}, ${challenge}` : challenge)
    }
  }
}

function setChallenge (error: AuthError, challenge: string): AuthError {
  error.headers['www-authenticate'] = challenge
  return error
}
