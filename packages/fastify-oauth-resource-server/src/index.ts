import fastifyJwt from '@fastify/jwt'
import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction, onRequestHookHandler } from 'fastify'
import fp from 'fastify-plugin'
import { ACCEPTED, channels, refusedMessage } from './diagnostics/channels.js'
import type { DpopMode } from './dpop/types.js'
import { readCredential, usesDpopScheme, type Credential } from './http/credentials.js'
import { createDpopStep } from './http/dpop-check.js'
import { createMtlsStep } from './http/mtls-check.js'
import { AuthError, MissingTokenError } from './http/errors.js'
import { refusal } from './http/refusal.js'
import { registerResourceMetadata } from './http/resource-metadata.js'
import { createIssuerGuard } from './http/issuers.js'
import { createScopeGuards } from './http/scopes.js'
import { resolveOptions } from './options.js'
import { TokenCache } from './token/token-cache.js'
import { createTrustedIssuers } from './token/trusted-issuers.js'
import { createTokenVerifier, isClaims, type Verdict } from './token/verifier.js'
import type { AuthOptions } from './types.js'

export type { AccessTokenClaims, Algorithm, AuthOptions, AuthStatus, IntrospectionOptions, IssuerOptions, IssuerStatus, KeyOptions } from './types.js'
export { SUPPORTED_ALGORITHMS } from './types.js'
export {
  AuthError,
  InsufficientScopeError,
  IntrospectionUnavailableError,
  InvalidRequestError,
  InvalidTokenError,
  KeysUnavailableError,
  MissingTokenError
} from './http/errors.js'
export {
  AUTH_REASONS,
  ChannelNames,
  channels,
  KEY_FETCH_RESULTS,
  type AuthDecisionMessage,
  type AuthOutcome,
  type AuthReason,
  type DpopReplayMessage,
  type IntrospectionMessage,
  type KeyFetchMessage,
  type KeyFetchResult,
  type KeySetMessage,
  type ProviderDocument,
  type TokenCacheMessage,
  type TypedChannel
} from './diagnostics/channels.js'
export { RESOURCE_METADATA_PATH } from './http/resource-metadata.js'
export { IssuerMismatchError } from './keys/key-store.js'
export { parseProviderUrl } from './keys/provider-url.js'
export { grants } from './claims/claims.js'
export type { DpopAlgorithm, DpopMode, DpopNonceOptions, DpopOptions } from './dpop/types.js'
export { DPOP_ALGORITHMS } from './dpop/types.js'
export { MemoryReplayCache, type ReplayCache, type ReplayVerdict } from './dpop/replay-cache.js'
export { createRedisReplayCache, type RedisReplayCacheOptions, type RedisScriptClient } from './dpop/redis-replay-cache.js'
export { DpopRequiredError, InvalidDpopProofError, ReplayCacheUnavailableError, TooManyDpopProofsError, UseDpopNonceError } from './http/dpop-errors.js'
export { Rejections, type Rejection } from './claims/rejections.js'
export type { CertificateHeaderFormat, CertificateHeaderOptions, MtlsMode, MtlsOptions } from './mtls/types.js'
export { MtlsRefusals } from './http/mtls-check.js'

async function auth (fastify: FastifyInstance, opts: AuthOptions) {
  const options = resolveOptions(opts)
  const { realm } = options

  const cache = new TokenCache(options.tokenCacheSize, options.clockTolerance)
  // One key store per issuer; tokens a key verified leave the cache with it, at once.
  const issuers = createTrustedIssuers(options, key => cache.dropKey(key), fastify.log)
  const verifier = createTokenVerifier(issuers, cache, options)
  await fastify.register(fastifyJwt, verifier.jwtOptions)
  for (const slot of verifier.slots) fastify.decorateRequest(slot, null)
  // @fastify/jwt declares `claims` itself unless another @fastify/jwt registered first.
  if (!fastify.hasRequestDecorator('claims')) fastify.decorateRequest('claims', null)

  const dpop = createDpopStep(fastify, options.dpop, realm)
  const mtls = createMtlsStep(fastify, options.mtls, realm)

  const annotate = options.resourceMetadataScopes === undefined
    ? (error: AuthError) => error
    : registerResourceMetadata(fastify, options, options.resourceMetadataScopes, dpop.metadata, mtls.metadata)

  function settle (request: FastifyRequest, done: HookHandlerDoneFunction, verdict: Verdict | AuthError, mode: DpopMode, scheme: Credential['scheme']) {
    if (isClaims(verdict)) {
      request.claims = verdict
      if (channels.authDecision.hasSubscribers) channels.authDecision.publish(ACCEPTED)
      return done()
    }
    const error = verdict instanceof AuthError ? verdict : refusal(verdict, realm)
    // The reason code only: never the token or its claims.
    request.log.debug({ reason: error.reason }, 'access token refused')
    if (channels.authDecision.hasSubscribers) channels.authDecision.publish(refusedMessage(error.reason))
    done(dpop.fit(annotate(error, request), mode, scheme))
  }

  // The token verifies first (its signature is cached), then its certificate binding (RFC 8705)
  // is checked, and the DPoP step binds it to its proof: each bound token by its own rule.
  function bind (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction, credential: Credential, mode: DpopMode, verdict: Verdict) {
    if (!isClaims(verdict)) return settle(request, done, verdict, mode, credential.scheme)
    const unbound = mtls.check(request, verdict)
    if (unbound !== null) return settle(request, done, unbound, mode, credential.scheme)
    dpop.check(request, reply, credential, verdict, error => settle(request, done, error ?? verdict, mode, credential.scheme))
  }

  const authenticate: onRequestHookHandler = function authenticate (request, reply, done) {
    const mode = dpop.modeOf(request)
    const credential = readCredential(request, realm, mode)
    if (credential instanceof AuthError) return settle(request, done, credential, mode, usesDpopScheme(request, mode) ? 'DPoP' : 'Bearer')
    if (mode === 'required' && credential.scheme === 'Bearer') return settle(request, done, dpop.required(), mode, 'Bearer')
    verifier.verify(request, credential.token, verdict => bind(request, reply, done, credential, mode, verdict))
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
  fastify.decorate('requireIssuer', createIssuerGuard(issuers, realm, annotate))
  fastify.decorate('authStatus', () => {
    const status = issuers.status()
    return { keysLoaded: status.every(each => each.keysLoaded), cachedTokens: cache.size, issuers: status }
  })

  fastify.addHook('onReady', () => issuers.start())
  fastify.addHook('onClose', async () => issuers.close())
}

export default fp(auth, { name: 'oauth-resource-server', fastify: '5.x' })
