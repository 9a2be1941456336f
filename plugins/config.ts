import fastifyEnv from '@fastify/env'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { ConfigError } from './config-error.js'
import { resolveDpop, type DpopConfig } from './dpop-config.js'
import { EnvSchema, type Env } from './env-schema.js'
import { resolveIssuer, type IssuerChoice } from './issuer-choice.js'
import { resolveMetricsConfig, type MetricsConfig } from './metrics-config.js'

export { ConfigError } from './config-error.js'
export { EnvSchema, LOG_LEVELS, type Env } from './env-schema.js'
export { DEFAULT_LOCAL_AUDIENCE } from './issuer-choice.js'
export { parseTrustProxy, resolveServerOptions } from './server-options.js'

/** The service's settings, read from the environment and checked. */
export interface Config extends IssuerChoice {
  port: number
  host: string
  clientOrigin: string
  /** Where Prometheus scrapes; undefined when METRICS_PORT is unset (metrics off). */
  metrics: MetricsConfig | undefined
  dpop: DpopConfig
  /** PUBLIC_URL's origin, the address clients call; undefined when unset. */
  publicUrl: string | undefined
}

declare module 'fastify' {
  interface FastifyInstance {
    config: Config
  }
}

export interface ConfigOptions {
  /** The environment to read; the caller passes it, so tests never see the machine's. */
  env: Record<string, string | undefined>
}

/**
 * Turns checked environment variables into settings; throws ConfigError naming the variable.
 * `raw` is the whole environment, for the numbered ISSUER_<n>_* variables.
 */
export function resolveConfig (env: Env, raw: Readonly<Record<string, unknown>> = env): Config {
  const { auth, localIssuer } = resolveIssuer(env, raw)

  let origin: URL | undefined
  try {
    origin = new URL(env.CLIENT_ORIGIN_URL)
  } catch {}
  if (origin === undefined || !/^https?:$/.test(origin.protocol) || origin.origin !== env.CLIENT_ORIGIN_URL.replace(/\/$/, '')) {
    throw new ConfigError(`CLIENT_ORIGIN_URL must be an origin such as http://localhost:4040 (got ${JSON.stringify(env.CLIENT_ORIGIN_URL)})`)
  }

  const dpop = resolveDpop(env)
  // resolveDpop has checked PUBLIC_URL (an http(s) origin) and stopped start-up on a bad one.
  const publicUrl = env.PUBLIC_URL === undefined ? undefined : new URL(env.PUBLIC_URL).origin
  return { port: env.PORT, host: env.HOST, clientOrigin: origin.origin, auth, localIssuer, metrics: resolveMetricsConfig(env), dpop, publicUrl }
}

async function config (fastify: FastifyInstance, opts: ConfigOptions) {
  try {
    await fastify.register(fastifyEnv, { schema: EnvSchema, data: opts.env, env: false, dotenv: false, confKey: 'env' })
  } catch (error) {
    // env-schema reports Ajv errors; name the variable, not the schema path.
    const [first] = (error as { errors?: Array<{ instancePath: string, message?: string }> }).errors ?? []
    if (first === undefined) throw error
    throw new ConfigError(`${first.instancePath.slice(1)} ${first.message ?? 'is invalid'}`)
  }
  const env = (fastify as unknown as { env: Env }).env
  fastify.decorate('config', resolveConfig(env, opts.env))
}

export default fp(config, { name: 'config', fastify: '5.x' })
