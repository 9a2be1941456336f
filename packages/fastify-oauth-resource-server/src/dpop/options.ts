import { MemoryReplayCache, type ReplayCache } from './replay-cache.js'
import { NonceSource } from './nonce.js'
import { DPOP_ALGORITHMS, type DpopAlgorithm, type DpopMode, type DpopOptions } from './types.js'

export const DPOP_MODES: readonly DpopMode[] = ['off', 'allowed', 'required']

export interface ResolvedDpopOptions {
  mode: DpopMode
  /** Normalised origins (`https://api.example.com`), or 'forwarded'; undefined only when mode is off. */
  origins: readonly string[] | 'forwarded' | undefined
  algorithms: DpopAlgorithm[]
  // In ms.
  maxAge: number
  clockTolerance: number
  /** Set whenever origins are. */
  replayCache: ReplayCache | undefined
  nonce: NonceSource | undefined
}

const DEFAULT_ALGORITHMS: DpopAlgorithm[] = ['ES256', 'EdDSA', 'RS256', 'PS256']

/** Checks the `dpop` options and fills in defaults; throws naming the bad option. */
export function resolveDpopOptions (options: DpopOptions | undefined): ResolvedDpopOptions {
  const fail = (option: string, problem: string): never => {
    throw new Error(`auth plugin: option dpop.${option} ${problem}`)
  }
  const dpop = options ?? {}
  if (typeof dpop !== 'object' || dpop === null) fail('', 'must be an object')

  const mode = dpop.mode ?? 'off'
  if (!DPOP_MODES.includes(mode)) fail('mode', `must be one of ${DPOP_MODES.join(', ')}; got ${JSON.stringify(mode)}`)

  const seconds = (option: string, value: number | undefined, fallback: number, min: number, max: number): number => {
    if (value === undefined) return fallback * 1000
    if (typeof value !== 'number' || !Number.isFinite(value) || value < min) fail(option, `must be a number ≥ ${min}`)
    if (value > max) fail(option, `is in seconds: at most ${max}, got ${value} (in ms? then write ${value / 1000})`)
    return value * 1000
  }

  const algorithms = dpop.algorithms ?? DEFAULT_ALGORITHMS
  if (!Array.isArray(algorithms) || algorithms.length === 0) fail('algorithms', 'must be a non-empty array')
  for (const alg of algorithms) {
    if (!(DPOP_ALGORITHMS as readonly string[]).includes(alg)) {
      fail('algorithms', `has ${JSON.stringify(alg)}; supported: ${DPOP_ALGORITHMS.join(', ')} (never none or HMAC)`)
    }
  }

  let origins: string[] | 'forwarded' | undefined
  if (dpop.origin === 'forwarded') {
    origins = 'forwarded'
  } else if (dpop.origin !== undefined) {
    origins = [dpop.origin].flat().map(origin => {
      let url: URL | undefined
      try {
        url = new URL(origin)
      } catch {}
      if (url === undefined || !/^https?:$/.test(url.protocol) || url.username !== '' || url.password !== '' ||
        url.pathname !== '/' || url.search !== '' || url.hash !== '') {
        fail('origin', `must be origins such as https://api.example.com (scheme, host, port only), or 'forwarded'; got ${JSON.stringify(origin)}`)
      }
      return (url as URL).origin
    })
    if (origins.length === 0) fail('origin', 'must name at least one origin')
  } else if (mode !== 'off') {
    fail('origin', 'is required: the origin clients call (https://api.example.com), which proofs name in htu; or \'forwarded\' when Fastify\'s trustProxy is set')
  }

  let replayCache = dpop.replayCache
  if (replayCache !== undefined && typeof replayCache?.remember !== 'function') fail('replayCache', 'must have a remember(id, ttl) method')
  const size = dpop.replayCacheSize ?? 100_000
  if (!Number.isInteger(size) || size < 1) fail('replayCacheSize', 'must be an integer ≥ 1')
  if (replayCache === undefined && origins !== undefined) replayCache = new MemoryReplayCache(size)

  let nonce: NonceSource | undefined
  if (dpop.nonce !== undefined && dpop.nonce !== false) {
    const settings = dpop.nonce === true ? {} : dpop.nonce
    if (settings.secret !== undefined && (typeof settings.secret !== 'string' || settings.secret.length < 16)) {
      fail('nonce.secret', 'must be a string of at least 16 characters')
    }
    nonce = new NonceSource(settings.secret, seconds('nonce.rotation', settings.rotation, 300, 10, 86_400))
  }

  return {
    mode,
    origins,
    algorithms: [...algorithms],
    maxAge: seconds('maxAge', dpop.maxAge, 60, 1, 600),
    clockTolerance: seconds('clockTolerance', dpop.clockTolerance, 5, 0, 60),
    replayCache,
    nonce
  }
}
