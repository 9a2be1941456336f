import { ConfigError } from './error.js'
import type { Env } from './schema.js'

export interface MetricsConfig {
  port: number
  host: string
}

/** Loopback: the metrics reveal traffic and the identity provider's health, not for the public. */
export const DEFAULT_METRICS_HOST = '127.0.0.1'

/**
 * METRICS_PORT turns the Prometheus endpoint on, on a port of its own (never the
 * API's); METRICS_HOST (loopback by default) is where it listens. Throws ConfigError naming the variable.
 */
export function resolveMetricsConfig (env: Env): MetricsConfig | undefined {
  const host = env.METRICS_HOST?.trim()
  if (host === '') throw new ConfigError('METRICS_HOST is set but blank: give it a value, or unset it')
  if (env.METRICS_PORT === undefined) {
    if (host !== undefined) throw new ConfigError('METRICS_HOST is set but METRICS_PORT is not: set METRICS_PORT to turn metrics on, or unset METRICS_HOST')
    return undefined
  }
  if (env.METRICS_PORT !== 0 && env.METRICS_PORT === env.PORT) {
    throw new ConfigError(`METRICS_PORT must differ from PORT (${env.PORT}): metrics are never served on the API's port`)
  }
  if (env.METRICS_PORT !== 0 && env.METRICS_PORT === env.LOCAL_ISSUER_PORT) {
    throw new ConfigError(`METRICS_PORT must differ from LOCAL_ISSUER_PORT (${env.LOCAL_ISSUER_PORT})`)
  }
  return { port: env.METRICS_PORT, host: host ?? DEFAULT_METRICS_HOST }
}
