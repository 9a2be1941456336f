import fastifyJwt from '@fastify/jwt'
import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction, onRequestHookHandler } from 'fastify'
import fp from 'fastify-plugin'
import { createAuthSpans } from './http/auth-spans.js'
import { ACCEPTED, channels, refusedMessage } from './diagnostics/channels.js'
import { refreshTracer, tracer } from './diagnostics/tracing.js'
import type { DpopMode } from './dpop/types.js'
import { readCredential, usesDpopScheme, type Credential } from './http/credentials.js'
import { createDpopStep } from './http/dpop-check.js'
import { createMtlsStep } from './http/mtls-check.js'
import { AuthError, MissingTokenError } from './http/errors.js'
import { refusal } from './http/refusal.js'
import { registerResourceMetadata } from './http/resource-metadata.js'
import { createIssuerGuard } from './http/issuers.js'
import { createScopeGuards } from './http/scopes.js'
import { createClaimGuards } from './http/claim-checks.js'
import { createIssuerGrants } from './claims/permissions.js'
import { createAuthContextGuard } from './http/auth-context.js'
import { resolveOptions } from './options.js'
import { TokenCache } from './token/token-cache.js'
import { createTrustedIssuers } from './token/trusted-issuers.js'
import { createTokenVerifier, isClaims, type Verdict } from './token/verifier.js'
import type { AuthOptions } from './types.js'

export type { AccessTokenClaims, Algorithm, AudienceClaim, AuthContextRequirement, AuthOptions, AuthStatus, IntrospectionOptions, IssuerOptions, IssuerStatus, KeyOptions } from './types.js'
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
export { SpanAttributes, SpanNames, TRACER_NAME } from './diagnostics/tracing.js'
export { RESOURCE_METADATA_PATH } from './http/resource-metadata.js'
export { IssuerMismatchError } from './keys/key-store.js'
export { UnusableIssuerError } from './keys/discovered-issuer.js'
export { parseProviderUrl } from './keys/provider-url.js'
export { grants } from './claims/claims.js'
export { parseClaimPaths, type ClaimPath } from './claims/claim-path.js'
export { DEFAULT_PERMISSIONS_CLAIM } from './claims/permissions.js'
export type { PermissionsClaim } from './types.js'
export type { DpopAlgorithm, DpopMode, DpopNonceOptions, DpopOptions } from './dpop/types.js'
export { DPOP_ALGORITHMS } from './dpop/types.js'
export { MemoryReplayCache, type ReplayCache, type ReplayVerdict } from './dpop/replay-cache.js'
export { createRedisReplayCache, type RedisReplayCacheOptions, type RedisScriptClient } from './dpop/redis-replay-cache.js'
export { DpopRequiredError, InvalidDpopProofError, ReplayCacheUnavailableError, TooManyDpopProofsError, UseDpopNonceError } from './http/dpop-errors.js'
export { Rejections, type Rejection } from './claims/rejections.js'
export { ClaimCheckError, type ClaimMember, type ClaimName, type ClaimPredicate, type ClaimValue, type JsonPrimitive } from './http/claim-checks.js'
export { InsufficientUserAuthenticationError } from './http/step-up-errors.js'
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

  // The steps as called; wrapped in spans when the app is ready, if an OpenTelemetry SDK is registered by then.
  let verify = verifier.verify
  let checkProof = dpop.check
  let traced: onRequestHookHandler | undefined

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
    checkProof(request, reply, credential, verdict, error => settle(request, done, error ?? verdict, mode, credential.scheme))
  }

  const untraced: onRequestHookHandler = function authenticate (request, reply, done) {
    const mode = dpop.modeOf(request)
    const credential = readCredential(request, realm, mode)
    if (credential instanceof AuthError) return settle(request, done, credential, mode, usesDpopScheme(request, mode) ? 'DPoP' : 'Bearer')
    if (mode === 'required' && credential.scheme === 'Bearer') return settle(request, done, dpop.required(), mode, 'Bearer')
    verify(request, credential.token, verdict => bind(request, reply, done, credential, mode, verdict))
  }

  const authenticate: onRequestHookHandler = function authenticate (request, reply, done) {
    if (traced === undefined) return untraced.call(this, request, reply, done)
    traced.call(this, request, reply, done)
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
  const grants = createIssuerGrants(issuers.list.map((trusted, i) => [trusted, options.issuers[i]!.permissionsClaim] as const), issuers.select)
  const { requireScopes, requireAnyScope } = createScopeGuards(realm, annotate, grants)
  fastify.decorate('requireScopes', requireScopes)
  fastify.decorate('requireAnyScope', requireAnyScope)
  fastify.decorate('requireIssuer', createIssuerGuard(issuers, realm, annotate))
  const { requireClaimEquals, requireClaimIncludes, requireClaims } = createClaimGuards(realm, annotate)
  fastify.decorate('requireClaimEquals', requireClaimEquals)
  fastify.decorate('requireClaimIncludes', requireClaimIncludes)
  fastify.decorate('requireClaims', requireClaims)
  // A 401 after authenticate: its challenge speaks the scheme the client used, as settle's do.
  fastify.decorate('requireAuthContext', createAuthContextGuard(realm, options.clockTolerance, (error, request) => {
    const mode = dpop.modeOf(request)
    return dpop.fit(annotate(error, request), mode, usesDpopScheme(request, mode) ? 'DPoP' : 'Bearer')
  }))
  fastify.decorate('authStatus', () => {
    const status = issuers.status()
    return { keysLoaded: status.every(each => each.keysLoaded), cachedTokens: cache.size, issuers: status }
  })

  fastify.addHook('onReady', function startTracing (done) {
    refreshTracer()
    if (tracer !== undefined) {
      const spans = createAuthSpans(tracer, {
        subject: options.tracing.subject,
        schemeOf: request => request.headers.authorization === undefined ? undefined : usesDpopScheme(request, dpop.modeOf(request)) ? 'DPoP' : 'Bearer',
        issuerOf: request => verifier.issuerOf(request)
      })
      verify = spans.verify(verifier.verify)
      checkProof = spans.checkProof(dpop.check)
      traced = spans.authenticate(untraced)
    }
    done()
  })
  fastify.addHook('onReady', () => issuers.start())
  fastify.addHook('onClose', async () => issuers.close())
}

export default fp(auth, { name: 'oauth-resource-server', fastify: '5.x' })
