import type { ReplayCache, ReplayVerdict } from './replay-cache.js'

/**
 * The one command the Redis replay cache sends: `EVAL script numkeys key… arg…`,
 * which ioredis (a client, a Cluster, or @fastify/redis's `fastify.redis`) answers
 * with the script's reply.
 */
export interface RedisScriptClient {
  eval: (script: string, numKeys: number, ...keysAndArgs: Array<string | number>) => Promise<unknown>
}

export interface RedisReplayCacheOptions {
  /**
   * Prepended to every key. Default `'{dpop}:'`: the braces are a Redis Cluster hash
   * tag, which puts every key the script touches in one slot, as a script needs.
   */
  prefix?: string
  /** How long one answer may take before the request is refused as unavailable, in seconds (0.001 to 10). Default 0.5. */
  timeout?: number
  /**
   * Most proofs one key (one `jkt`) may have accepted within one window (the first
   * of them's ttl: the proof max age); past it, that key's proofs get `keyFull`.
   * So one key holds at most twice this many live entries. Default 10,000.
   */
  perKey?: number
}

/**
 * One round trip per proof, atomic on the server, so replicas agree:
 * 1. `since`, the moment the store was first found without it (first use, restart,
 *    FLUSHALL, eviction of this key), is read, or set to now when missing. Every
 *    proof that could have been accepted before then is refused (`reset`): the ids
 *    remembered before are gone, so such a proof may be a replay. `since` never
 *    expires: after the window it only names proofs that are stale anyway.
 * 2. The key's count for this window is checked against perKey (`keyFull`).
 * 3. `SET id 1 PX ttl NX`: fresh, or replayed; a fresh one counts for its key.
 */
const SCRIPT = `
local since = redis.call('GET', KEYS[2])
if not since then
  since = ARGV[2]
  redis.call('SET', KEYS[2], since)
end
if tonumber(ARGV[3]) <= tonumber(since) then return 3 end
if tonumber(redis.call('GET', KEYS[3]) or '0') >= tonumber(ARGV[4]) then return 2 end
if not redis.call('SET', KEYS[1], '1', 'PX', ARGV[1], 'NX') then return 0 end
if redis.call('INCR', KEYS[3]) == 1 then redis.call('PEXPIRE', KEYS[3], ARGV[1]) end
return 1
`

// The first step alone, as the server starts: a Redis found empty then is noticed then.
const NOTICE = `
if not redis.call('GET', KEYS[1]) then redis.call('SET', KEYS[1], ARGV[1]) end
return 1
`

const VERDICTS: Record<number, ReplayVerdict> = { 0: 'replayed', 1: 'fresh', 2: 'keyFull', 3: 'reset' }

/**
 * A replay cache every replica shares: one Lua script per proof (EVAL), so two
 * replicas never both accept one proof, one key cannot fill Redis, and a Redis that
 * lost its memory (restart without persistence, FLUSHALL, eviction) is noticed
 * before it can take a replay. An error, or no answer within `timeout`, is
 * `unavailable`: the request is refused and may be retried, and no proof is ever
 * accepted without Redis having said it was new.
 * The plugin needs no Redis library: the app passes its own client in.
 *
 * The guarantee needs Redis to drop nothing silently: `maxmemory-policy noeviction`
 * (Redis's default), under which a full Redis refuses writes (unavailable). An
 * eviction policy may drop proof ids while the `since` key stays (volatile-*
 * policies never evict it, having no ttl; allkeys-lru/lfu keep it, being used by
 * every proof), and the replays those ids stood for would then be accepted.
 */
export function createRedisReplayCache (client: RedisScriptClient, options: RedisReplayCacheOptions = {}): ReplayCache {
  if (client === null || typeof client !== 'object' || typeof client.eval !== 'function') {
    throw new Error('createRedisReplayCache: client must be an ioredis-compatible client (with eval)')
  }
  const prefix = options.prefix ?? '{dpop}:'
  if (typeof prefix !== 'string') throw new Error('createRedisReplayCache: prefix must be a string')
  const timeout = options.timeout ?? 0.5
  if (typeof timeout !== 'number' || !(timeout >= 0.001)) throw new Error('createRedisReplayCache: timeout must be a number of seconds ≥ 0.001')
  if (timeout > 10) throw new Error(`createRedisReplayCache: timeout is in seconds: at most 10, got ${timeout} (in ms? then write ${timeout / 1000})`)
  const perKey = options.perKey ?? 10_000
  if (!Number.isInteger(perKey) || perKey < 1) throw new Error('createRedisReplayCache: perKey must be an integer ≥ 1')
  const timeoutMs = timeout * 1000
  const sinceKey = `${prefix}since`

  return {
    async ready (): Promise<void> {
      let timer: NodeJS.Timeout | undefined
      // Failing or late, it changes nothing: the first proof notices instead.
      const noticed = client.eval(NOTICE, 1, sinceKey, Date.now()).catch(() => {})
      await Promise.race([noticed, new Promise(resolve => { timer = setTimeout(resolve, timeoutMs) })])
      clearTimeout(timer)
    },

    remember (id: string, ttl: number, jkt: string, acceptableFrom: number): Promise<ReplayVerdict> {
      return new Promise(resolve => {
        const timer = setTimeout(() => resolve('unavailable'), timeoutMs)
        let sent: Promise<unknown>
        try {
          sent = client.eval(SCRIPT, 3, `${prefix}jti:${id}`, sinceKey, `${prefix}key:${jkt}`,
            Math.max(1, Math.ceil(ttl)), Date.now(), Math.floor(acceptableFrom), perKey)
        } catch {
          clearTimeout(timer)
          return resolve('unavailable')
        }
        sent.then(answer => {
          clearTimeout(timer)
          resolve((typeof answer === 'number' && VERDICTS[answer]) || 'unavailable')
        }, () => {
          clearTimeout(timer)
          resolve('unavailable')
        })
      })
    }
  }
}
