import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { channels, type DpopReplayMessage } from '../diagnostics/channels.js'
import { DPOP_MODES, type ResolvedDpopOptions } from '../dpop/options.js'
import { createProofVerifier, type ProofVerdict } from '../dpop/proof.js'
import type { DpopMode } from '../dpop/types.js'
import type { AccessTokenClaims } from '../types.js'
import type { Credential } from './credentials.js'
import { DpopRequiredError, InvalidDpopProofError, ReplayCacheUnavailableError, TooManyDpopProofsError, UseDpopNonceError, createChallengeFitter } from './dpop-errors.js'
import { createHtuList } from './dpop-htu.js'
import { InvalidTokenError, type AuthError } from './errors.js'

// Seconds a client should wait after the replay cache could not answer, or refused its key.
const RETRY_AFTER = 1
const REPLAY: DpopReplayMessage = Object.freeze({ reason: 'replay' })

/**
 * The DPoP step of `authenticate`: each route's mode (the plugin's, or the route's
 * `config.dpop`), and after the access token verified, the binding between the two:
 * a bound token (`cnf.jkt`) only with its proof, the proof checked on every request
 * (the token cache holds claims, never a proof's verdict).
 */
export function createDpopStep (fastify: FastifyInstance, options: ResolvedDpopOptions, realm: string) {
  const { origins, nonce } = options
  const verifyProof = origins === undefined ? undefined : createProofVerifier(options)
  const urlsOf = createHtuList(origins ?? [], options.trustedProxy)
  // After the shared replay cache lost its memory, a proof is taken once its iat is past
  // the moment that was noticed plus the clock tolerance: a new proof made then.
  const retryAfterReset = Math.ceil(options.clockTolerance / 1000) + 1
  const { algs, fit } = createChallengeFitter(realm, options.algorithms)
  let routesOverride = false

  const { replayCache } = options
  if (verifyProof !== undefined && replayCache?.ready !== undefined) {
    fastify.addHook('onReady', async () => {
      try {
        await replayCache.ready?.()
      } catch {}
    })
  }

  fastify.addHook('onRoute', route => {
    const mode = (route.config as { dpop?: unknown } | undefined)?.dpop
    if (mode === undefined) return
    if (!DPOP_MODES.includes(mode as DpopMode)) {
      throw new Error(`auth plugin: route ${route.method} ${route.url} has config.dpop ${JSON.stringify(mode)}; use one of ${DPOP_MODES.join(', ')}`)
    }
    if (mode !== 'off' && origins === undefined) {
      throw new Error(`auth plugin: route ${route.method} ${route.url} accepts DPoP but the plugin has no dpop.origin`)
    }
    routesOverride = true
  })

  /** The proof's verdict as the request's answer. */
  function answer (verdict: ProofVerdict, reply: FastifyReply, settle: (error: AuthError | null) => void): void {
    switch (verdict) {
      case 'valid':
        if (nonce !== undefined) reply.header('dpop-nonce', nonce.current())
        return settle(null)
      case 'useNonce': return settle(new UseDpopNonceError(realm, algs, (nonce as NonNullable<typeof nonce>).current()))
      case 'full': return settle(new ReplayCacheUnavailableError(RETRY_AFTER, 'dpop_replay_cache_full'))
      case 'reset': return settle(new ReplayCacheUnavailableError(retryAfterReset, 'dpop_replay_cache_reset'))
      case 'unavailable': return settle(new ReplayCacheUnavailableError(RETRY_AFTER, 'dpop_replay_cache_unavailable'))
      case 'keyFull': return settle(new TooManyDpopProofsError(RETRY_AFTER))
      case 'replayed':
        if (channels.dpopReplay.hasSubscribers) channels.dpopReplay.publish(REPLAY)
        return settle(new InvalidDpopProofError(realm, algs, verdict))
      default: return settle(new InvalidDpopProofError(realm, algs, verdict))
    }
  }

  return {
    mode: options.mode,
    metadata: { algorithms: options.algorithms, enabled: options.mode !== 'off', required: options.mode === 'required' },

    modeOf (request: FastifyRequest): DpopMode {
      return routesOverride ? request.routeOptions.config.dpop ?? options.mode : options.mode
    },

    fit,

    required: () => new DpopRequiredError(realm, algs),

    /** Settles with null when the credential may be used with these claims, else with the error to answer. */
    check (request: FastifyRequest, reply: FastifyReply, credential: Credential, claims: AccessTokenClaims, settle: (error: AuthError | null) => void): void {
      const cnf = claims.cnf as { jkt?: unknown } | undefined
      const jkt = cnf?.jkt
      if (credential.scheme === 'Bearer') {
        // RFC 9449 §7.2: a bound token is not a bearer token, whoever holds it.
        if (jkt !== undefined) return settle(new InvalidTokenError(realm, 'The access token is DPoP-bound: send it with the DPoP scheme and a proof', 'dpop_bound'))
        return settle(null)
      }
      if (typeof jkt !== 'string') return settle(new InvalidTokenError(realm, 'The access token is not DPoP-bound', 'not_dpop_bound'))
      if (credential.proofCount === 0 || credential.proof === undefined) {
        return settle(new InvalidDpopProofError(realm, algs, credential.proofCount > 1 ? 'multiple' : 'missing'))
      }
      if (credential.proofCount > 1) return settle(new InvalidDpopProofError(realm, algs, 'multiple'))
      let verdict: ProofVerdict | Promise<ProofVerdict>
      try {
        verdict = (verifyProof as NonNullable<typeof verifyProof>)(credential.proof, {
          method: request.method,
          urls: urlsOf(request),
          accessToken: credential.token,
          jkt
        })
      } catch {
        verdict = 'unavailable'
      }
      // Known at once on the hot path; a promise when the replay cache answers later.
      if (typeof verdict === 'string') return answer(verdict, reply, settle)
      verdict.then(settled => answer(settled, reply, settle), () => answer('unavailable', reply, settle))
    }
  }
}
