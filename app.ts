import type {} from '@fastify/redis'
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import auth, { AuthError, createRedisReplayCache, type AuthOptions, type DpopOptions, type MtlsOptions } from 'fastify-oauth-resource-server'
import { LocalClients } from './local-issuer/issuer-info.js'
import type { Config, DpopConfig } from './config/index.js'
import preflight, { createCorsHeaders, type CorsOptions } from './plugins/cors.js'
import { createSharedNonceSecret } from './redis/nonce-secret.js'
import docs, { type DocsOptions } from './plugins/docs.js'
import localIssuer from './plugins/local-issuer.js'
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
}

/** The whole service as one plugin, given its Config: (metrics) → security headers and CORS → (local issuer) → auth → docs → routes. */
async function app (fastify: FastifyInstance, opts: AppOptions) {
  fastify.decorate('config', opts.config)
  const { auth: authConfig, localIssuer: localIssuerConfig, clientOrigin, dpop: dpopConfig } = opts.config
  // Before any route, so each is labelled by its pattern as it is added; served by server.ts.
  // Loaded only when on: with metrics off, prom-client never loads.
  if (fastify.config.metrics !== undefined) await fastify.register(import('./plugins/metrics.js'))

  const corsOptions: CorsOptions = {
    origin: clientOrigin,
    methods: ['GET'],
    allowedHeaders: ['Authorization', 'Content-Type', 'DPoP'],
    exposedHeaders: ['WWW-Authenticate', 'DPoP-Nonce'],
    maxAgeSeconds: 86_400
  }
  await fastify.register(securityHeaders, { ...SampleHeaders, staticHeaders: createCorsHeaders(corsOptions) })
  await fastify.register(preflight, corsOptions)

  let trusted: Partial<Pick<AuthOptions, 'issuer' | 'audience' | 'jwksUri' | 'introspection' | 'issuers'>>
  let docsOptions: DocsOptions = {}
  if (localIssuerConfig === undefined) {
    trusted = authConfig!
  } else {
    await fastify.register(localIssuer, { ...localIssuerConfig, clientOrigin, redirectUris: docsRedirectUris(fastify.config.port) })
    // Trusted like any issuer: discovery and JWKS over HTTP, no shortcut.
    const { issuer, audience, introspection } = fastify.localIssuer!
    // Opaque tokens (npm run token -- --opaque) are introspected at the local issuer.
    trusted = { issuer, audience, introspection }
    docsOptions = {
      localIssuer: { issuer, audience, clientId: LocalClients.browser, scopes: { openid: 'Sign in', [Permissions.readAdminMessages]: 'Read the admin message' } }
    }
  }
  // Docs first: @fastify/swagger documents only the routes added after it.
  await fastify.register(docs, { ...docsOptions, dpop: dpopConfig.mode !== 'off' })
  await fastify.register(auth, {
    ...opts.authOptions,
    ...trusted,
    // RFC 9728 §3.3: the resource is the URL clients call, PUBLIC_URL or else each request's own origin.
    resourceMetadata: { scopesSupported: Object.values(Permissions), resource: fastify.config.publicUrl },
    dpop: await dpopOptions(fastify, dpopConfig),
    mtls: mtlsOptions(fastify.config)
  })

  fastify.setErrorHandler(handleError)
  fastify.setNotFoundHandler((request, reply) => reply.code(404).send({ message: 'Not Found' }))

  await fastify.register(messages, { prefix: '/api/messages' })
  await fastify.register(health, { prefix: '/health' })
}

/**
 * DPoP for the plugin; with REDIS_URL, the replay cache every replica shares (closed
 * with the server), and with DPOP_NONCE=on the nonce secret they share through it.
 */
async function dpopOptions (fastify: FastifyInstance, { mode, nonce, origin, trustProxy, replayCacheSize, redisUrl }: DpopConfig): Promise<DpopOptions> {
  let replayCache: DpopOptions['replayCache']
  let nonceOption: DpopOptions['nonce'] = nonce
  if (redisUrl !== undefined && mode !== 'off') {
    // Loaded only when used: ioredis and @fastify/redis hold tens of MB the service otherwise never needs.
    const [{ Redis }, { default: fastifyRedis }] = await Promise.all([import('ioredis'), import('@fastify/redis')])
    // No offline queue: with Redis unreachable a check fails at once (503) instead of waiting.
    const client = new Redis(redisUrl, { enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: 2000 })
    const secret = nonce ? createSharedNonceSecret(client) : undefined
    // Ours to close: QUIT cannot be sent while Redis is down, and shutting down then must not fail.
    fastify.addHook('onClose', async () => {
      secret?.close()
      if (client.status === 'ready') await client.quit().catch(() => client.disconnect())
      else client.disconnect()
    })
    await fastify.register(fastifyRedis, { client, closeClient: false })
    // One key's share, as in memory: a tenth of DPOP_REPLAY_CACHE_SIZE (here per proof max age).
    replayCache = createRedisReplayCache(fastify.redis, { timeout: 0.5, perKey: Math.max(1, Math.floor(replayCacheSize / 10)) })
    if (secret !== undefined) {
      // Connected by now (@fastify/redis waits for it): the replicas' secret before the first nonce.
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
