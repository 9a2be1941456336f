import type { Seconds } from '../units.js'
import type { ReplayCache } from './replay-cache.js'

/** Asymmetric JWS algorithms a DPoP proof may use: never `none` or HMAC. */
export const DPOP_ALGORITHMS = ['ES256', 'ES384', 'ES512', 'EdDSA', 'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'] as const

export type DpopAlgorithm = typeof DPOP_ALGORITHMS[number]

/**
 * off: Bearer only (the DPoP scheme is not understood); allowed: Bearer or DPoP;
 * required: DPoP only. A DPoP-bound token (`cnf.jkt`) sent as Bearer is refused in every mode.
 */
export type DpopMode = 'off' | 'allowed' | 'required'

export interface DpopNonceOptions {
  /**
   * The secret nonces are derived from (at least 16 characters). Replicas that share it
   * accept each other's nonces; without it each process makes its own at start (one
   * replica only). Or a function returning the current one, read on every use, for a
   * secret shared through a store that may change it.
   */
  secret?: string | (() => string)
  /** How long one nonce is handed out, in seconds (10 to 86,400); the previous one is still accepted. Default 300. */
  rotation?: Seconds
}

export interface DpopOptions {
  /** For every route that runs `authenticate`, unless the route's `config.dpop` says otherwise. Default `'off'`. */
  mode?: DpopMode
  /**
   * The public origin clients call (`https://api.example.com`), or several, which
   * a proof's `htu` must name. `'forwarded'`, alone or among them, also accepts the
   * origin a proxy of `trustProxy` forwards (X-Forwarded-Proto, X-Forwarded-Host)
   * for a request whose socket peer is that proxy. Never the request's Host header.
   * Required unless mode is off.
   */
  origin?: string | string[]
  /**
   * With origin `'forwarded'`, and only then (required): the proxies trusted to name the
   * origin, as Fastify's `trustProxy` takes them: addresses, CIDRs or `loopback`,
   * `linklocal`, `uniquelocal` (an array or a comma-separated string), a function
   * `(address, hop) => boolean`, or `true` for any peer (only when nothing but the
   * proxy can reach the server). Fastify does not show its own setting to plugins.
   */
  trustProxy?: true | string | string[] | ((address: string, hop: number) => boolean)
  /** Accepted proof algorithms. Default `['ES256', 'EdDSA', 'RS256', 'PS256']`. */
  algorithms?: DpopAlgorithm[]
  /** How long after its `iat` a proof is accepted, in seconds (1 to 600). Default 60. */
  maxAge?: Seconds
  /** How far in the future a proof's `iat` may be, in seconds (0 to 60). Default 5. */
  clockTolerance?: Seconds
  /** Where seen proofs are remembered. Default: in memory, bounded by `replayCacheSize`. */
  replayCache?: ReplayCache
  /** Most proofs the default in-memory cache holds; when full, new proofs are refused (503). Default 100,000. */
  replayCacheSize?: number
  /** Most of them one key (one `jkt`) may hold; past it, that key's proofs are refused (429). Default a tenth of `replayCacheSize`. */
  replayCachePerKey?: number
  /** Require server nonces (RFC 9449 §8): true, or how to make them. Default off. */
  nonce?: boolean | DpopNonceOptions
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** This route's DPoP mode, overriding the plugin's `dpop.mode`. */
    dpop?: DpopMode
  }
}
