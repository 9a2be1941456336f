import envSchema from 'env-schema'
import type { AuthContextRequirement } from 'fastify-oauth-resource-server'
import { ConfigError } from './error.js'
import { resolveDpop, type DpopConfig } from './dpop.js'
import { EnvSchema, type Env, type LogLevel } from './schema.js'
import { resolveIssuer, type IssuerChoice } from './issuers.js'
import { resolveMetricsConfig, type MetricsConfig } from './metrics.js'
import { resolveRateLimit, type RateLimitConfig } from './rate-limit.js'
import { resolveServerOptions } from './server.js'
import { resolvePermissionsClaim } from './permissions.js'
import { resolveTracingConfig, type TracingConfig } from './tracing.js'
import { resolveAuditConfig, type AuditConfig } from './audit.js'
import { resolveAdminAuthContext } from './step-up.js'
import { resolveClientCertHeader, resolveTls, type ClientCertHeaderConfig, type TlsConfig } from './tls.js'

export { ConfigError } from './error.js'
export { readEnvironment } from './environment.js'
export { EnvSchema, LOG_LEVELS, type Env, type LogLevel } from './schema.js'
export { DEFAULT_LOCAL_AUDIENCE } from './issuers.js'
export { parseTrustProxy } from './server.js'
export type { DpopConfig } from './dpop.js'
export type { MetricsConfig } from './metrics.js'
export type { RateLimitConfig } from './rate-limit.js'
export { exportSdkEnvironment, type TracingConfig } from './tracing.js'
export type { AuditConfig } from './audit.js'
export { readTlsFiles, type ClientCertHeaderConfig, type TlsConfig, type TlsFiles } from './tls.js'

/** The service's settings, read from the environment once and checked. */
export interface Config extends IssuerChoice {
  /** Fastify's logger level (LOG_LEVEL). */
  logLevel: LogLevel
  /** Fastify's trustProxy (TRUST_PROXY): false, true, or the proxies' addresses and CIDRs. */
  trustProxy: boolean | string
  port: number
  host: string
  clientOrigin: string
  /** The local issuer's data folder (LOCAL_ISSUER_DATA), which `npm run token` and `npm run issuer` use too. */
  localIssuerData: string
  /** Where Prometheus scrapes; undefined when METRICS_PORT is unset (metrics off). */
  metrics: MetricsConfig | undefined
  dpop: DpopConfig
  /** PUBLIC_URL's origin, the address clients call; undefined when unset. */
  publicUrl: string | undefined
  /** PERMISSIONS_CLAIM's claim paths; undefined: the plugin's default (`permissions`, `scope`). */
  permissionsClaim: string[][] | undefined
  /** RATE_LIMIT_PER_MINUTE; undefined when unset (no limit). */
  rateLimit: RateLimitConfig | undefined
  /** REDIS_URL: the connection the replicas share (DPoP replay cache, nonce secret, rate limit); undefined when unset. */
  redisUrl: string | undefined
  /** OpenTelemetry tracing; undefined unless the OTEL_* variables ask for it (then the SDK is loaded). */
  tracing: TracingConfig | undefined
  /** AUDIT_LOG: where audit events go; undefined when off (the default). */
  audit: AuditConfig | undefined
  /** The admin route's step-up requirement (ADMIN_ACR_VALUES, ADMIN_MAX_AGE); undefined: off. */
  adminAuthContext: AuthContextRequirement | undefined
  /** HTTPS (TLS_CERT_FILE, TLS_KEY_FILE, TLS_CLIENT_CA_FILE); undefined: plain HTTP. */
  tls: TlsConfig | undefined
  /** Behind a trusted proxy, the header carrying the client certificate (TLS_CLIENT_CERT_HEADER, TLS_CLIENT_CERT_FORMAT). */
  clientCertHeader: ClientCertHeaderConfig | undefined
}

/**
 * Turns checked environment variables into settings; throws ConfigError naming the variable.
 * `raw` is the whole environment, for the numbered ISSUER_<n>_* variables.
 */
export function resolveConfig (env: Env, raw: Readonly<Record<string, unknown>> = env): Omit<Config, 'logLevel' | 'trustProxy' | 'clientCertHeader'> {
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
  return {
    port: env.PORT,
    host: env.HOST,
    clientOrigin: origin.origin,
    localIssuerData: env.LOCAL_ISSUER_DATA,
    auth,
    localIssuer,
    metrics: resolveMetricsConfig(env),
    dpop,
    publicUrl,
    permissionsClaim: resolvePermissionsClaim(env)?.map(path => [...path]),
    rateLimit: resolveRateLimit(env),
    // resolveDpop has checked it (a redis:// or rediss:// URL).
    redisUrl: dpop.redisUrl,
    tracing: resolveTracingConfig(env, raw),
    audit: resolveAuditConfig(env),
    adminAuthContext: resolveAdminAuthContext(env),
    tls: resolveTls(env)
  }
}

/**
 * The one configuration of the service, from an environment (`readEnvironment()` for
 * the real one: `.env` and the process's variables; tests pass their own): every
 * variable checked against the one schema, then resolved; frozen. The server, the app
 * and the npm scripts all take this. Throws ConfigError, whose message names the variable.
 */
export function loadConfig (raw: Readonly<Record<string, string | undefined>>): Readonly<Config> {
  // What Fastify needs at construction, checked first as the server always has.
  const { level, trustProxy } = resolveServerOptions(raw)
  let env: Env
  try {
    env = envSchema<Env>({ schema: EnvSchema, data: raw, env: false, dotenv: false })
  } catch (error) {
    // env-schema reports Ajv errors; name the variable, not the schema path.
    const [first] = (error as { errors?: Array<{ instancePath: string, message?: string }> }).errors ?? []
    if (first === undefined) throw error
    throw new ConfigError(`${first.instancePath.slice(1)} ${first.message ?? 'is invalid'}`)
  }
  return deepFreeze({ logLevel: level, trustProxy, ...resolveConfig(env, raw), clientCertHeader: resolveClientCertHeader(env, trustProxy) })
}

function deepFreeze<T> (value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const child of Object.values(value)) deepFreeze(child)
  }
  return value
}
