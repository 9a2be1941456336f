import { ConfigError } from './error.js'
import type { Env } from './schema.js'
import { parseTrustProxy } from './server.js'

export const DPOP_MODES = ['allowed', 'required', 'off'] as const
/** DPOP_REPLAY_CACHE_SIZE's default, the plugin's own. */
export const DEFAULT_REPLAY_CACHE_SIZE = 100_000

/** The service's DPoP settings, from DPOP, DPOP_NONCE, DPOP_REPLAY_CACHE_SIZE, REDIS_URL, PUBLIC_URL and TRUST_PROXY. */
export interface DpopConfig {
  mode: typeof DPOP_MODES[number]
  nonce: boolean
  /** Live proofs the in-memory replay cache holds; one key may hold a tenth (on Redis: that many per proof max age). */
  replayCacheSize: number
  /** The shared replay cache; undefined keeps it in memory (one replica). */
  redisUrl: string | undefined
  /** The origins proofs may name in htu; 'forwarded' among them for what a trusted proxy forwards. */
  origin: string[]
  /** With 'forwarded': the proxies trusted to name the origin (TRUST_PROXY, as Fastify takes it). */
  trustProxy: true | string | undefined
}

/**
 * Proofs name the URL the client called (htu). That origin is PUBLIC_URL when set;
 * otherwise the addresses the server listens on, and, for a request that comes
 * through a trusted proxy (TRUST_PROXY), the scheme and host that proxy forwards.
 * Never the Host header, nor X-Forwarded-* from a client that is not a trusted proxy.
 */
export function resolveDpop (env: Env): DpopConfig {
  let origin: string[]
  let trustProxy: DpopConfig['trustProxy']
  if (env.PUBLIC_URL !== undefined) {
    let url: URL | undefined
    try {
      url = new URL(env.PUBLIC_URL)
    } catch {}
    if (url === undefined || !/^https?:$/.test(url.protocol) || url.origin !== env.PUBLIC_URL.replace(/\/$/, '')) {
      throw new ConfigError(`PUBLIC_URL must be an origin such as https://api.example.com, the address clients call (got ${JSON.stringify(env.PUBLIC_URL)})`)
    }
    origin = [url.origin]
  } else {
    const hosts = new Set(['localhost', '127.0.0.1', env.HOST])
    for (const any of ['0.0.0.0', '::', '[::]']) hosts.delete(any)
    // HTTPS when the server serves it (TLS_CERT_FILE).
    const scheme = env.TLS_CERT_FILE === undefined ? 'http' : 'https'
    origin = [...hosts].map(host => `${scheme}://${host.includes(':') && !host.startsWith('[') ? `[${host}]` : host}:${env.PORT}`)
    const trusted = parseTrustProxy(env.TRUST_PROXY)
    if (trusted !== false) {
      origin.push('forwarded')
      trustProxy = trusted
    }
  }

  let redisUrl: string | undefined
  if (env.REDIS_URL !== undefined) {
    let url: URL | undefined
    try {
      url = new URL(env.REDIS_URL)
    } catch {}
    // Never echo the value: it may carry a password.
    if (url === undefined || !['redis:', 'rediss:'].includes(url.protocol) || url.hostname === '') {
      throw new ConfigError('REDIS_URL must be a redis:// or rediss:// URL, such as redis://localhost:6379 (ioredis\'s form, with user, password and database if needed)')
    }
    redisUrl = env.REDIS_URL
  }

  return { mode: env.DPOP, nonce: env.DPOP_NONCE === 'on', replayCacheSize: env.DPOP_REPLAY_CACHE_SIZE ?? DEFAULT_REPLAY_CACHE_SIZE, redisUrl, origin, trustProxy }
}
