import type { FastifyInstance, FastifyRequest, HookHandlerDoneFunction, onRequestHookHandler } from 'fastify'
import fp from 'fastify-plugin'
import { readBearerToken } from './bearer.js'
import { AuthError } from './errors.js'
import { KeyStore } from './jwks.js'
import { resolveOptions } from './options.js'
import { registerResourceMetadata } from './resource-metadata.js'
import { createScopeGuards } from './scopes.js'
import { TokenCache } from './token-cache.js'
import { createKeyVerifierFactory, createTokenVerifier } from './verifier.js'
import type { AccessTokenClaims, AuthOptions } from './types.js'

export type { AccessTokenClaims, Algorithm, AuthOptions, AuthStatus, KeyOptions } from './types.js'
export { SUPPORTED_ALGORITHMS } from './types.js'
export {
  AuthError,
  InsufficientScopeError,
  InvalidRequestError,
  InvalidTokenError,
  KeysUnavailableError,
  MissingTokenError
} from './errors.js'
export { grants } from './scopes.js'
export { RESOURCE_METADATA_PATH } from './resource-metadata.js'

async function auth (fastify: FastifyInstance, opts: AuthOptions) {
  const options = resolveOptions(opts)
  const { realm } = options

  const cache = new TokenCache(options.tokenCacheSize, options.clockTolerance)
  const store = new KeyStore({
    ...options,
    createVerifier: createKeyVerifierFactory(options),
    // Tokens a key verified leave the cache with it, at once.
    onRetire: key => cache.dropKey(key),
    log: fastify.log
  })
  const verifyToken = createTokenVerifier(store, cache, options)

  const annotate = options.resourceMetadataScopes === undefined
    ? (error: unknown) => error
    : registerResourceMetadata(fastify, options, options.resourceMetadataScopes)

  function settle (request: FastifyRequest, done: HookHandlerDoneFunction, verdict: AccessTokenClaims | AuthError) {
    if (verdict instanceof AuthError) {
      // The reason code only: never the token or its claims.
      request.log.debug({ reason: verdict.reason }, 'access token refused')
      return done(annotate(verdict, request) as Error)
    }
    request.user = verdict
    done()
  }

  // Rejections come back as values from both steps; only a key-store outage rejects.
  const authenticate: onRequestHookHandler = function authenticate (request, reply, done) {
    const token = readBearerToken(request, realm)
    const verdict = typeof token === 'string' ? verifyToken(token) : token
    if (verdict instanceof Promise) {
      verdict.then(settled => settle(request, done, settled), (error: unknown) =>
        error instanceof AuthError ? settle(request, done, error) : done(error as Error))
      return
    }
    settle(request, done, verdict)
  }

  fastify.decorateRequest('user', null)
  fastify.decorate('authenticate', authenticate)
  const { requireScopes, requireAnyScope } = createScopeGuards(realm, annotate)
  fastify.decorate('requireScopes', requireScopes)
  fastify.decorate('requireAnyScope', requireAnyScope)
  fastify.decorate('authStatus', () => ({ keysLoaded: store.loaded(), cachedTokens: cache.size }))

  fastify.addHook('onReady', () => store.start())
  fastify.addHook('onClose', async () => store.close())
}

export default fp(auth, { name: 'oauth-resource-server', fastify: '5.x' })
