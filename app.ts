import cors from '@fastify/cors'
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import auth, { AuthError, type AuthOptions } from 'fastify-oauth-resource-server'
import { LocalClients } from './local-issuer/issuer-info.js'
import config, { type ConfigOptions } from './plugins/config.js'
import docs, { type DocsOptions } from './plugins/docs.js'
import localIssuer from './plugins/local-issuer.js'
import securityHeaders, { SampleHeaders } from './plugins/security-headers.js'
import health from './routes/health.js'
import messages, { Permissions } from './routes/messages.js'

export interface AppOptions extends ConfigOptions {
  /** Auth plugin options the environment does not set (tests shorten the key timings). */
  authOptions?: Pick<AuthOptions, 'keys' | 'tokenCacheSize'>
}

/** The whole service as one plugin: config → (metrics) → security headers and CORS → (local issuer) → auth → docs → routes. */
async function app (fastify: FastifyInstance, opts: AppOptions) {
  await fastify.register(config, opts)
  const { auth: authConfig, localIssuer: localIssuerConfig, clientOrigin } = fastify.config
  // Before any route, so each is labelled by its pattern as it is added; served by server.ts.
  // Loaded only when on: with metrics off, prom-client never loads.
  if (fastify.config.metrics !== undefined) await fastify.register(import('./plugins/metrics.js'))

  await fastify.register(securityHeaders, SampleHeaders)
  await fastify.register(cors, {
    origin: clientOrigin,
    methods: ['GET'],
    allowedHeaders: ['Authorization', 'Content-Type'],
    maxAge: 86_400
  })

  let trusted: Partial<Pick<AuthOptions, 'issuer' | 'audience' | 'jwksUri' | 'introspection' | 'issuers'>>
  let docsOptions: DocsOptions = {}
  if (localIssuerConfig === undefined) {
    fastify.decorate('localIssuer', undefined)
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
  await fastify.register(docs, docsOptions)
  await fastify.register(auth, { ...opts.authOptions, ...trusted, resourceMetadata: { scopesSupported: Object.values(Permissions) } })

  fastify.setErrorHandler(handleError)
  fastify.setNotFoundHandler((request, reply) => reply.code(404).send({ message: 'Not Found' }))

  await fastify.register(messages, { prefix: '/api/messages' })
  await fastify.register(health, { prefix: '/health' })
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
