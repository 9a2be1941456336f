import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import type { Redis } from 'ioredis'
import auth, { AuthError, createRedisReplayCache, type AuthOptions, type DpopOptions, type MtlsOptions } from 'fastify-oauth-resource-server'
import { LocalClients } from './local-issuer/issuer-info.js'
import type { Config, DpopConfig } from './config/index.js'
import preflight, { createCorsHeaders, type CorsOptions } from './plugins/cors.js'
import { connectRedis } from './redis/connection.js'
import { createSharedNonceSecret } from './redis/nonce-secret.js'
import docs, { type DocsOptions } from './plugins/docs.js'
import localIssuer from './plugins/local-issuer.js'
import type { IssuerTls } from './local-issuer/mtls.js'
import type { RateLimitOptions } from './plugins/rate-limit.js'
import { RateLimitHeaders } from './rate-limit/headers.js'
import securityHeaders, { SampleHeaders } from './plugins/security-headers.js'
import health from './routes/health.js'
import messages, { Permissions } from './routes/messages.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** The service's configuration, as loadConfig read it. */
    config: Readonly<Config>
  }
}

export interface AppOptions {
  /** The configuration, read once by loadConfig (server.ts from the environment; tests from their own). */
  config: Readonly<Config>
  /** Auth plugin options the environment does not set (tests shorten the key timings). */
  authOptions?: Pick<AuthOptions, 'keys' | 'tokenCacheSize'>
  /** Rate limit options the environment does not set (tests lengthen the window). */
  rateLimitOptions?: Pick<RateLimitOptions, 'windowSeconds' | 'timeoutSeconds'>
}

/** The whole service as one plugin, given its Config: (metrics) → security headers and CORS → (local issuer) → auth → docs → routes. */
async function app (fastify: FastifyInstance, opts: AppOptions) {
  fastify.decorate('config', opts.config)
  const { auth: authConfig, localIssuer: localIssuerConfig, clientOrigin, dpop: dpopConfig, rateLimit: rateLimitConfig, redisUrl } = opts.config
  // Before any route, so each is labelled by its pattern as it is added; served by server.ts.
  // Loaded only when on: with metrics off, prom-client never loads.
  if (fastify.config.metrics !== undefined) await fastify.register(import('./plugins/metrics.js'))

  const corsOptions: CorsOptions = {
    origin: clientOrigin,
    methods: ['GET'],
    allowedHeaders: ['Authorization', 'Content-Type', 'DPoP'],
    exposedHeaders: ['WWW-Authenticate', 'DPoP-Nonce', ...(rateLimitConfig === undefined ? [] : RateLimitHeaders)],
    maxAgeSeconds: 86_400
  }
  await fastify.register(securityHeaders, { ...SampleHeaders, staticHeaders: createCorsHeaders(corsOptions) })
  await fastify.register(preflight, corsOptions)

  let trusted: Partial<Pick<AuthOptions, 'issuer' | 'audience' | 'jwksUri' | 'introspection' | 'issuers' | 'audienceClaim' | 'tenants' | 'issuerAliases'>>
  let docsOptions: DocsOptions = {}
  if (localIssuerConfig === undefined) {
    trusted = authConfig!
  } else {
    await fastify.register(localIssuer, { ...localIssuerConfig, clientOrigin, redirectUris: docsRedirectUris(fastify.config.port), tls: issuerTls(opts.config) })
    // Trusted like any issuer: discovery and JWKS over HTTP, no shortcut.
    const { issuer, audience, introspection } = fastify.localIssuer!
    // Opaque tokens (npm run token -- --opaque) are introspected at the local issuer.
    trusted = { issuer, audience, introspection }
    docsOptions = {
      localIssuer: { issuer, audience, clientId: LocalClients.browser, scopes: { openid: 'Sign in', [Permissions.readAdminMessages]: 'Read the admin message' } }
    }
  }
  // One connection for everything the replicas share; none when nothing uses it.
  const redis = redisUrl !== undefined && (dpopConfig.mode !== 'off' || rateLimitConfig !== undefined) ? await connectRedis(fastify, redisUrl) : undefined
  // Docs first: @fastify/swagger documents only the routes added after it.
  await fastify.register(docs, { ...docsOptions, dpop: dpopConfig.mode !== 'off' })
  await fastify.register(auth, {
    ...opts.authOptions,
    ...trusted,
    // RFC 9728 §3.3: the resource is the URL clients call, PUBLIC_URL or else each request's own origin.
    resourceMetadata: { scopesSupported: Object.values(Permissions), resource: fastify.config.publicUrl },
    // Where tokens carry their permissions (PERMISSIONS_CLAIM); unset, the plugin's default.
    ...(fastify.config.permissionsClaim === undefined ? {} : { permissionsClaim: fastify.config.permissionsClaim }),
    dpop: await dpopOptions(fastify, dpopConfig, redis),
    // TRACE_SUBJECT=on: the token's sub on the authenticate span (spans exist only with tracing on).
    tracing: { subject: fastify.config.tracing?.subject === true },
    mtls: mtlsOptions(fastify.config)
  })

  // Before the routes: its hooks are the whole app's. Loaded only with AUDIT_LOG set.
  const { audit } = fastify.config
  if (audit !== undefined) await fastify.register(import('./plugins/audit.js'), { destination: audit.destination })

  fastify.setErrorHandler(handleError)
  fastify.setNotFoundHandler((request, reply) => reply.code(404).send({ message: 'Not Found' }))

  // The API's routes, in a scope of their own with the rate limit (not health, docs or metadata).
  await fastify.register(async function api (api) {
    if (rateLimitConfig !== undefined) {
      // Imported only when on, like metrics.
      const { default: rateLimit } = await import('./plugins/rate-limit.js')
      await api.register(rateLimit, { ...opts.rateLimitOptions, max: rateLimitConfig.perMinute, redis })
    }
    await api.register(messages, { prefix: '/api/messages' })
  })
  await fastify.register(health, { prefix: '/health' })
}

/**
 * DPoP for the plugin; with REDIS_URL, the replay cache every replica shares, and with
 * DPOP_NONCE=on the nonce secret they share through it.
 */
async function dpopOptions (fastify: FastifyInstance, { mode, nonce, origin, trustProxy, replayCacheSize }: DpopConfig, client: Redis | undefined): Promise<DpopOptions> {
  let replayCache: DpopOptions['replayCache']
  let nonceOption: DpopOptions['nonce'] = nonce
  if (client !== undefined && mode !== 'off') {
    const secret = nonce ? createSharedNonceSecret(client) : undefined
    if (secret !== undefined) fastify.addHook('onClose', async () => secret.close())
    // One key's share, as in memory: a tenth of DPOP_REPLAY_CACHE_SIZE (here per proof max age).
    replayCache = createRedisReplayCache(client, { timeout: 0.5, perKey: Math.max(1, Math.floor(replayCacheSize / 10)) })
    if (secret !== undefined) {
      // Connected by now (connectRedis waits for it): the replicas' secret before the first nonce.
      await secret.refresh()
      nonceOption = { secret: secret.current }
    }
  }
  return { mode, nonce: nonceOption, origin, trustProxy, replayCache, replayCacheSize }
}

/**
 * Where client certificates come from (RFC 8705): the TLS connection when TLS_CLIENT_CA_FILE
 * asks clients for one (only those the handshake verified count), and, for requests from a
 * proxy of TRUST_PROXY, TLS_CLIENT_CERT_HEADER. Certificate-bound tokens are checked either way.
 */
/** With client certificates (TLS_CLIENT_CA_FILE), the local issuer issues tokens bound to them, on the service's own certificate. */
function issuerTls ({ tls }: Config): IssuerTls | undefined {
  const clientCa = tls?.files.clientCa
  return tls === undefined || clientCa === undefined ? undefined : { cert: tls.files.cert, key: tls.files.key, clientCa }
}

function mtlsOptions ({ tls, clientCertHeader, trustProxy }: Config): MtlsOptions | undefined {
  if (clientCertHeader !== undefined && trustProxy !== false) return { certificateHeader: { ...clientCertHeader, trustProxy } }
  return tls?.clientCaFile === undefined ? undefined : {}
}

/** Where Swagger UI sends the browser back after signing in on the local issuer. */
function docsRedirectUris (port: number): string[] {
  if (port === 0) return []
  return ['localhost', '127.0.0.1'].map(host => `http://${host}:${port}/docs/static/oauth2-redirect.html`)
}

function handleError (error: FastifyError, request: FastifyRequest, reply: FastifyReply) {
  if (error instanceof AuthError) {
    return reply.code(error.statusCode).headers(error.headers).send(error.toJSON())
  }
  const statusCode = error.statusCode ?? 500
  if (statusCode >= 500) {
    request.log.error({ err: error }, 'request failed')
    return reply.code(500).send({ message: 'Internal Server Error' })
  }
  return reply.code(statusCode).send({ message: error.message })
}

export default fp(app, { name: 'app', fastify: '5.x' })
