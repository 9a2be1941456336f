import { ConfigError } from './error.js'
import type { Env } from './schema.js'

export const DPOP_MODES = ['allowed', 'required', 'off'] as const

/** The service's DPoP settings, from DPOP, DPOP_NONCE, REDIS_URL and PUBLIC_URL. */
export interface DpopConfig {
  mode: typeof DPOP_MODES[number]
  nonce: boolean
  /** The shared replay cache; undefined keeps it in memory (one replica). */
  redisUrl: string | undefined
  /** The origins proofs may name in htu, or 'forwarded' behind a trusted proxy. */
  origin: string[] | 'forwarded'
}

/**
 * Proofs name the URL the client called (htu). That origin is PUBLIC_URL when set;
 * behind a trusted proxy (TRUST_PROXY) the forwarded scheme and host; otherwise the
 * addresses the server listens on. Never the Host header a client sends.
 */
export function resolveDpop (env: Env): DpopConfig {
  let origin: DpopConfig['origin']
  if (env.PUBLIC_URL !== undefined) {
    let url: URL | undefined
    try {
      url = new URL(env.PUBLIC_URL)
    } catch {}
    if (url === undefined || !/^https?:$/.test(url.protocol) || url.origin !== env.PUBLIC_URL.replace(/\/$/, '')) {
      throw new ConfigError(`PUBLIC_URL must be an origin such as https://api.example.com, the address clients call (got ${JSON.stringify(env.PUBLIC_URL)})`)
    }
    origin = [url.origin]
  } else if (env.TRUST_PROXY !== undefined && !['', 'false'].includes(env.TRUST_PROXY.trim())) {
    origin = 'forwarded'
  } else {
    const hosts = new Set(['localhost', '127.0.0.1', env.HOST])
    for (const any of ['0.0.0.0', '::', '[::]']) hosts.delete(any)
    origin = [...hosts].map(host => `http://${host.includes(':') && !host.startsWith('[') ? `[${host}]` : host}:${env.PORT}`)
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

  return { mode: env.DPOP, nonce: env.DPOP_NONCE === 'on', redisUrl, origin }
}
