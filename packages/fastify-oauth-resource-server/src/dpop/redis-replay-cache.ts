import type { ReplayCache, ReplayVerdict } from './replay-cache.js'

/**
 * The one command the Redis replay cache sends: `SET key value PX ms NX`, which
 * ioredis (a client, a Cluster, or @fastify/redis's `fastify.redis`) answers with
 * 'OK' when the key was absent and null when it was there.
 */
export interface RedisSetClient {
  set: (key: string, value: string, px: 'PX', milliseconds: number, nx: 'NX') => Promise<'OK' | null | unknown>
}

export interface RedisReplayCacheOptions {
  /** Prepended to every key. Default `'dpop:jti:'`. */
  prefix?: string
  /** How long one answer may take before the request is refused as unavailable, in seconds (0.001 to 10). Default 0.5. */
  timeout?: number
}

/**
 * A replay cache every replica shares: one atomic set-if-absent with expiry per
 * proof, so two replicas never both accept one proof. An error, or no answer
 * within `timeout`, is `unavailable`: the request is refused and may be retried,
 * and no proof is ever accepted without Redis having said it was new.
 * The plugin needs no Redis library: the app passes its own client in.
 */
export function createRedisReplayCache (client: RedisSetClient, options: RedisReplayCacheOptions = {}): ReplayCache {
  if (client === null || typeof client !== 'object' || typeof client.set !== 'function') {
    throw new Error('createRedisReplayCache: client must be an ioredis-compatible client (with set)')
  }
  const prefix = options.prefix ?? 'dpop:jti:'
  const timeout = options.timeout ?? 0.5
  if (typeof timeout !== 'number' || !(timeout >= 0.001)) throw new Error('createRedisReplayCache: timeout must be a number of seconds ≥ 0.001')
  if (timeout > 10) throw new Error(`createRedisReplayCache: timeout is in seconds: at most 10, got ${timeout} (in ms? then write ${timeout / 1000})`)
  const timeoutMs = timeout * 1000

  return {
    remember (id: string, ttl: number): Promise<ReplayVerdict> {
      return new Promise(resolve => {
        const timer = setTimeout(() => resolve('unavailable'), timeoutMs)
        let sent: Promise<unknown>
        try {
          sent = client.set(prefix + id, '1', 'PX', Math.max(1, Math.ceil(ttl)), 'NX')
        } catch {
          clearTimeout(timer)
          return resolve('unavailable')
        }
        sent.then(answer => {
          clearTimeout(timer)
          resolve(answer === 'OK' ? 'fresh' : answer === null ? 'replayed' : 'unavailable')
        }, () => {
          clearTimeout(timer)
          resolve('unavailable')
        })
      })
    }
  }
}
