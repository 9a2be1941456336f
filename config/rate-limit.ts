import { ConfigError } from './error.js'
import type { Env } from './schema.js'

/** RATE_LIMIT_PER_MINUTE's range: a typo such as 10000000000 is an error, not "no limit". */
export const MAX_RATE_LIMIT_PER_MINUTE = 1_000_000

/** The service's rate limit, from RATE_LIMIT_PER_MINUTE; shared through REDIS_URL when set. */
export interface RateLimitConfig {
  /** Requests a minute each subject (or, without a verified token, each client address) may make to the API. */
  perMinute: number
}

/**
 * RATE_LIMIT_PER_MINUTE turns the limit on (off while unset): a whole number of
 * requests a minute, from 1. Throws ConfigError naming the variable.
 */
export function resolveRateLimit (env: Env): RateLimitConfig | undefined {
  const given = env.RATE_LIMIT_PER_MINUTE
  if (given === undefined) return undefined
  const trimmed = given.trim()
  if (trimmed === '') throw new ConfigError('RATE_LIMIT_PER_MINUTE is set but blank: give it a number, or unset it to turn the limit off')
  const perMinute = /^\d+$/.test(trimmed) ? Number(trimmed) : Number.NaN
  if (!(perMinute >= 1 && perMinute <= MAX_RATE_LIMIT_PER_MINUTE)) {
    throw new ConfigError(`RATE_LIMIT_PER_MINUTE must be a whole number of requests a minute from 1 to ${MAX_RATE_LIMIT_PER_MINUTE}, or unset for no limit (got ${JSON.stringify(given)})`)
  }
  return { perMinute }
}
