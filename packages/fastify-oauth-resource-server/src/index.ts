import fastifyJwt from '@fastify/jwt'
import type { FastifyInstance, FastifyRequest, HookHandlerDoneFunction, onRequestHookHandler } from 'fastify'
import fp from 'fastify-plugin'
import { readBearerToken } from './http/bearer.js'
import { AuthError, MissingTokenError } from './http/errors.js'
import { refusal } from './http/refusal.js'
import { registerResourceMetadata } from './http/resource-metadata.js'
import { createScopeGuards } from './http/scopes.js'
import { KeysUnavailable, KeyStore } from './keys/key-store.js'
import { resolveOptions } from './options.js'
import { TokenCache } from './token/token-cache.js'
import { createTokenVerifier, type Verdict } from './token/verifier.js'
import type { AuthOptions } from './types.js'

export type { AccessTokenClaims, Algorithm, AuthOptions, AuthStatus, KeyOptions } from './types.js'
export { SUPPORTED_ALGORITHMS } from './types.js'
export {
  AuthError,
  InsufficientScopeError,
  InvalidRequestError,
  InvalidTokenError,
  KeysUnavailableError,
  MissingTokenError
} from './http/errors.js'
export { RESOURCE_METADATA_PATH } from './http/resource-metadata.js'
export { IssuerMismatchError } from './keys/key-store.js'
export { parseProviderUrl } from './keys/provider-url.js'
export { grants } from './token/claims.js'
export { Rejections, type Rejection } from './token/rejections.js'

async function auth (fastify: FastifyInstance, opts: AuthOptions) {
  const options = resolveOptions(opts)
  const { realm } = options

  const cache = new TokenCache(options.tokenCacheSize, options.clockTolerance)
  const store = new KeyStore({
    ...options,
    // Tokens a key verified leave the cache with it, at once.
    onRetire: key => cache.dropKey(key),
    log: fastify.log
  })
  const verifier = createTokenVerifier(store, cache, options)
  await fastify.register(fastifyJwt, verifier.jwtOptions)
  for (const slot of verifier.slots) fastify.decorateRequest(slot, null)
  // @fastify/jwt declares `claims` itself unless another @fastify/jwt registered first.
  if (!fastify.hasRequestDecorator('claims')) fastify.decorateRequest('claims', null)

  const annotate = options.resourceMetadataScopes === undefined
    ? (error: AuthError) => error
    : registerResourceMetadata(fastify, options, options.resourceMetadataScopes)

  function settle (request: FastifyRequest, done: HookHandlerDoneFunction, verdict: Verdict | AuthError) {
    if (typeof verdict !== 'string' && !(verdict instanceof KeysUnavailable) && !(verdict instanceof AuthError)) {
      request.claims = verdict
      return done()
    }
    const error = verdict instanceof AuthError ? verdict : refusal(verdict, realm)
    // The reason code only: never the token or its claims.
    request.log.debug({ reason: error.reason }, 'access token refused')
    done(annotate(error, request))
  }

  const authenticate: onRequestHookHandler = function authenticate (request, reply, done) {
    const token = readBearerToken(request, realm)
    if (typeof token !== 'string') return settle(request, done, token)
    verifier.verify(request, token, verdict => settle(request, done, verdict))
  }

  // Optional authentication: only a request with no Authorization header at all goes
  // through anonymously. A credential that is present is verified like any other, so a
  // bad, expired or forged one is still a 401, never an anonymous request.
  const authenticateOptional: onRequestHookHandler = function authenticateOptional (request, reply, done) {
    if (request.headers.authorization === undefined) return done()
    authenticate.call(this, request, reply, done)
  }

  fastify.decorate('authenticate', authenticate)
  fastify.decorate('authenticateOptional', authenticateOptional)
  fastify.decorateRequest('verifiedClaims', function verifiedClaims (this: FastifyRequest) {
    // Fail closed, like the scope guards: no verified token means a 401, whatever the route forgot.
    if (this.claims === null) throw annotate(new MissingTokenError(realm), this)
    return this.claims
  } as FastifyRequest['verifiedClaims'])
  const { requireScopes, requireAnyScope } = createScopeGuards(realm, annotate)
  fastify.decorate('requireScopes', requireScopes)
  fastify.decorate('requireAnyScope', requireAnyScope)
  fastify.decorate('authStatus', () => ({ keysLoaded: store.loaded(), cachedTokens: cache.size }))

  fastify.addHook('onReady', () => store.start())
  fastify.addHook('onClose', async () => store.close())
}

export default fp(auth, { name: 'oauth-resource-server', fastify: '5.x' })
