import proxyAddr from '@fastify/proxy-addr'
import { optionChecks, type Fail } from '../option-checks.js'
import { defaultPerKey, MemoryReplayCache, type ReplayCache } from './replay-cache.js'
import { NonceSource } from './nonce.js'
import { DPOP_ALGORITHMS, type DpopAlgorithm, type DpopMode, type DpopOptions } from './types.js'

export const DPOP_MODES: readonly DpopMode[] = ['off', 'allowed', 'required']

export interface ResolvedDpopOptions {
  mode: DpopMode
  /** Normalised origins (`https://api.example.com`); undefined only when mode is off and no origin is given. */
  origins: readonly string[] | undefined
  /** With origin 'forwarded': whether a socket peer (and hop) is a trusted proxy, whose forwarded origin proofs may name. */
  trustedProxy: ((address: string, hop: number) => boolean) | undefined
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
  const { fail, seconds } = optionChecks('auth plugin: option dpop.')
  const dpop = options ?? {}
  if (typeof dpop !== 'object' || dpop === null) fail('', 'must be an object')

  const mode = dpop.mode ?? 'off'
  if (!DPOP_MODES.includes(mode)) fail('mode', `must be one of ${DPOP_MODES.join(', ')}; got ${JSON.stringify(mode)}`)

  const algorithms = dpop.algorithms ?? DEFAULT_ALGORITHMS
  if (!Array.isArray(algorithms) || algorithms.length === 0) fail('algorithms', 'must be a non-empty array')
  for (const alg of algorithms) {
    if (!(DPOP_ALGORITHMS as readonly string[]).includes(alg)) {
      fail('algorithms', `has ${JSON.stringify(alg)}; supported: ${DPOP_ALGORITHMS.join(', ')} (never none or HMAC)`)
    }
  }

  let origins: string[] | undefined
  let forwarded = false
  if (dpop.origin !== undefined) {
    origins = []
    for (const origin of [dpop.origin].flat()) {
      if (origin === 'forwarded') {
        forwarded = true
        continue
      }
      let url: URL | undefined
      try {
        url = new URL(origin)
      } catch {}
      if (url === undefined || !/^https?:$/.test(url.protocol) || url.username !== '' || url.password !== '' ||
        url.pathname !== '/' || url.search !== '' || url.hash !== '') {
        fail('origin', `must be origins such as https://api.example.com (scheme, host, port only), or 'forwarded'; got ${JSON.stringify(origin)}`)
      }
      origins.push((url as URL).origin)
    }
    if (origins.length === 0 && !forwarded) fail('origin', 'must name at least one origin')
  } else if (mode !== 'off') {
    fail('origin', 'is required: the origin clients call (https://api.example.com), which proofs name in htu; or \'forwarded\' with dpop.trustProxy')
  }
  const trustedProxy = resolveTrustProxy(dpop.trustProxy, forwarded, fail)

  let replayCache = dpop.replayCache
  if (replayCache !== undefined && typeof replayCache?.remember !== 'function') fail('replayCache', 'must have a remember(id, ttl, jkt, acceptableFrom) method')
  const size = dpop.replayCacheSize ?? 100_000
  if (!Number.isInteger(size) || size < 1) fail('replayCacheSize', 'must be an integer ≥ 1')
  const perKey = dpop.replayCachePerKey ?? defaultPerKey(size)
  if (!Number.isInteger(perKey) || perKey < 1 || perKey > size) fail('replayCachePerKey', `must be an integer from 1 to replayCacheSize (${size})`)
  if (replayCache === undefined && origins !== undefined) replayCache = new MemoryReplayCache(size, perKey)

  let nonce: NonceSource | undefined
  if (dpop.nonce !== undefined && dpop.nonce !== false) {
    const settings = dpop.nonce === true ? {} : dpop.nonce
    if (settings.secret !== undefined && typeof settings.secret !== 'function' && (typeof settings.secret !== 'string' || settings.secret.length < 16)) {
      fail('nonce.secret', 'must be a string of at least 16 characters, or a function returning one')
    }
    nonce = new NonceSource(settings.secret, seconds('nonce.rotation', settings.rotation, 300, 10, 86_400))
  }

  return {
    mode,
    origins,
    trustedProxy,
    algorithms: [...algorithms],
    maxAge: seconds('maxAge', dpop.maxAge, 60, 1, 600),
    clockTolerance: seconds('clockTolerance', dpop.clockTolerance, 5, 0, 60),
    replayCache,
    nonce
  }
}

/**
 * The proxies trusted to name the origin, as Fastify's trustProxy takes them, compiled
 * with proxy-addr as Fastify compiles its own (which it does not show to plugins).
 * Required with origin 'forwarded', refused without it.
 */
function resolveTrustProxy (value: DpopOptions['trustProxy'], forwarded: boolean, fail: Fail) {
  if (!forwarded) {
    if (value !== undefined) fail('trustProxy', 'is only used with origin \'forwarded\'')
    return undefined
  }
  if (value === undefined || (value as unknown) === false) {
    fail('origin', '\'forwarded\' needs dpop.trustProxy, the addresses or CIDRs of the proxies that set X-Forwarded-Proto and X-Forwarded-Host ' +
      '(as Fastify\'s trustProxy, which plugins cannot read): without it any client could name the origin with its own Host or X-Forwarded-Host header')
  }
  if (value === true) return () => true
  if (typeof value === 'function') return value
  const list = typeof value === 'string' ? value.split(',').map(each => each.trim()) : value
  if (!Array.isArray(list) || list.length === 0 || list.some(each => typeof each !== 'string' || each === '')) {
    fail('trustProxy', 'must be true, addresses/CIDRs (an array or a comma-separated string) or a function (address, hop) => boolean; a hop count cannot tell a proxy from a client')
  }
  try {
    return proxyAddr.compile(list as string[])
  } catch (error) {
    return fail('trustProxy', `has an address proxy-addr cannot read: ${(error as Error).message}`)
  }
}
