import { isIP } from 'node:net'
import fastifyEnv from '@fastify/env'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { Type, type Static } from 'typebox'
import { DEFAULT_DATA_DIR } from '../local-issuer/issuer-info.js'
import { parseProviderUrl } from 'fastify-oauth-resource-server'

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const

export const EnvSchema = Type.Object({
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 6060 }),
  HOST: Type.String({ minLength: 1, default: 'localhost' }),
  LOG_LEVEL: Type.Enum(LOG_LEVELS, { default: 'info' }),
  ISSUER_BASE_URL: Type.Optional(Type.String()),
  AUDIENCE: Type.Optional(Type.String()),
  AUTH0_DOMAIN: Type.Optional(Type.String()),
  AUTH0_AUDIENCE: Type.Optional(Type.String()),
  JWKS_URI: Type.Optional(Type.String()),
  CLIENT_ORIGIN_URL: Type.String({ default: 'http://localhost:4040' }),
  LOCAL_ISSUER_PORT: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535 })),
  LOCAL_ISSUER_DATA: Type.String({ minLength: 1, default: DEFAULT_DATA_DIR }),
  TRUST_PROXY: Type.Optional(Type.String())
})

export type Env = Static<typeof EnvSchema>

/** The service's settings, read from the environment and checked. */
export interface Config {
  port: number
  host: string
  clientOrigin: string
  /** The external issuer; undefined when the local development issuer runs instead. */
  auth: { issuer: string, audience: string, jwksUri: string | undefined } | undefined
  localIssuer: { port: number, dataDir: string, audience: string } | undefined
}

/** The Auth0 Hello World samples' API identifier, used by the local issuer unless AUDIENCE is set. */
export const DEFAULT_LOCAL_AUDIENCE = 'https://hello-world.example.com'

/**
 * What Fastify needs at construction, before the config plugin runs: the log
 * level and trustProxy. Read by server.ts; throws ConfigError naming the variable.
 */
export function resolveServerOptions (env: Record<string, string | undefined>) {
  const level = env.LOG_LEVEL || 'info'
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    throw new ConfigError(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')} (got ${JSON.stringify(level)})`)
  }
  return { level, trustProxy: parseTrustProxy(env.TRUST_PROXY) }
}

/**
 * Fastify's trustProxy from TRUST_PROXY: `true`, a hop count, or addresses/CIDRs
 * separated by commas.
 */
export function parseTrustProxy (value: string | undefined): boolean | string | ((address: string, hop: number) => boolean) {
  const trimmed = value?.trim() ?? ''
  if (trimmed === '' || trimmed === 'false') return false
  if (trimmed === 'true') return true
  if (/^\d+$/.test(trimmed)) {
    const hops = Number(trimmed)
    return (address, hop) => hop < hops
  }
  const addresses = trimmed.split(',').map(part => part.trim())
  for (const address of addresses) {
    const [ip = '', bits, extra] = address.split('/')
    const maxBits = isIP(ip) === 4 ? 32 : isIP(ip) === 6 ? 128 : 0
    const okBits = bits === undefined || (/^\d+$/.test(bits) && Number(bits) <= maxBits)
    if (maxBits === 0 || !okBits || extra !== undefined) {
      throw new ConfigError(`TRUST_PROXY must be true, a hop count, or IP addresses/CIDRs separated by commas (got ${JSON.stringify(value)})`)
    }
  }
  return addresses.join(',')
}

/** A setting that stops start-up; its message names the variable. */
export class ConfigError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'ConfigError'
  }
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

/** Turns checked environment variables into settings; throws ConfigError naming the variable. */
export function resolveConfig (env: Env): Config {
  const set = (value: string | undefined) => value !== undefined && value.trim() !== ''
  const url = (name: keyof Env, value: string): string => {
    const parsed = parseProviderUrl(value)
    if (typeof parsed === 'string') throw new ConfigError(`${name} ${parsed} (got ${JSON.stringify(value)})`)
    return value
  }

  let auth: Config['auth']
  let localIssuer: Config['localIssuer']
  if (set(env.ISSUER_BASE_URL) && set(env.AUTH0_DOMAIN)) {
    throw new ConfigError('Set ISSUER_BASE_URL or AUTH0_DOMAIN, not both')
  } else if (set(env.ISSUER_BASE_URL)) {
    if (!set(env.AUDIENCE)) throw new ConfigError('AUDIENCE is required with ISSUER_BASE_URL: the API identifier tokens are issued for')
    auth = { issuer: url('ISSUER_BASE_URL', env.ISSUER_BASE_URL!.trim()), audience: env.AUDIENCE!.trim(), jwksUri: undefined }
  } else if (set(env.AUTH0_DOMAIN)) {
    if (!set(env.AUTH0_AUDIENCE)) throw new ConfigError('AUTH0_AUDIENCE is required with AUTH0_DOMAIN: the API identifier tokens are issued for')
    const domain = env.AUTH0_DOMAIN!.trim().replace(/^https:\/\//, '').replace(/\/$/, '')
    if (!/^[A-Za-z0-9.-]+(:\d+)?$/.test(domain)) {
      throw new ConfigError(`AUTH0_DOMAIN must be a host name such as example.us.auth0.com (got ${JSON.stringify(env.AUTH0_DOMAIN)})`)
    }
    auth = { issuer: `https://${domain}/`, audience: env.AUTH0_AUDIENCE!.trim(), jwksUri: undefined }
  } else {
    if (set(env.JWKS_URI)) throw new ConfigError('JWKS_URI needs ISSUER_BASE_URL or AUTH0_DOMAIN: without them the local issuer runs')
    localIssuer = {
      port: env.LOCAL_ISSUER_PORT ?? (env.PORT === 0 ? 0 : env.PORT + 1),
      dataDir: env.LOCAL_ISSUER_DATA,
      audience: set(env.AUDIENCE) ? env.AUDIENCE!.trim() : DEFAULT_LOCAL_AUDIENCE
    }
  }
  if (auth !== undefined && set(env.JWKS_URI)) auth.jwksUri = url('JWKS_URI', env.JWKS_URI!.trim())

  let origin: URL | undefined
  try {
    origin = new URL(env.CLIENT_ORIGIN_URL)
  } catch {}
  if (origin === undefined || !/^https?:$/.test(origin.protocol) || origin.origin !== env.CLIENT_ORIGIN_URL.replace(/\/$/, '')) {
    throw new ConfigError(`CLIENT_ORIGIN_URL must be an origin such as http://localhost:4040 (got ${JSON.stringify(env.CLIENT_ORIGIN_URL)})`)
  }

  if (localIssuer !== undefined && localIssuer.port !== 0 && localIssuer.port === env.PORT) {
    throw new ConfigError(`LOCAL_ISSUER_PORT must differ from PORT (both ${env.PORT})`)
  }

  return { port: env.PORT, host: env.HOST, clientOrigin: origin.origin, auth, localIssuer }
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
  fastify.decorate('config', resolveConfig(env))
}

export default fp(config, { name: 'config', fastify: '5.x' })
