import { ProxyTracer, SpanStatusCode, trace, type Span, type Tracer } from '@opentelemetry/api'

/** The instrumentation scope of the plugin's spans. */
export const TRACER_NAME = 'fastify-oauth-resource-server'

/** The spans the plugin makes; names and attributes are public API, changed only in a major release. */
export const SpanNames = {
  /** The whole `authenticate` step: credentials read, token verified, DPoP proof checked. */
  authenticate: 'oauth.authenticate',
  /** The access token's verification (signature and claims, the verified-token cache, or introspection). */
  verifyToken: 'oauth.verify_token',
  /** A refresh of an issuer's key set (discovery and JWKS), under the request that needed the key when one did. */
  keySetFetch: 'oauth.key_set.fetch',
  /** A call to the token introspection endpoint. */
  introspection: 'oauth.introspect',
  /** The DPoP proof's check (DPoP scheme only). */
  dpopCheck: 'oauth.dpop.check'
} as const

/**
 * The attributes. Values are configured issuers, fixed codes and counts: never a
 * token, a proof, a secret or a claim beyond the issuer, except `user.id` (the
 * token's `sub`) when the `tracing.subject` option turns it on.
 */
export const SpanAttributes = {
  /** The configured issuer the token was checked against (absent while none is picked). */
  issuer: 'oauth.issuer',
  /** `accepted` or `refused`. */
  outcome: 'oauth.outcome',
  /** The fixed reason code, as on the auth:decision channel (`valid`, `expired`, `signature`…). */
  reason: 'oauth.reason',
  /** `Bearer` or `DPoP` (absent without an Authorization header). */
  scheme: 'oauth.scheme',
  /** The verified-token cache: `hit` or `miss` (absent while the cache is off, or for an opaque token). */
  tokenCache: 'oauth.token_cache',
  /** The token's `sub`, only with `tracing: { subject: true }`. */
  subject: 'user.id',
  /** Key-set fetch: `loaded` or `failed`. */
  keySetResult: 'oauth.key_set.result',
  /** Key-set fetch: keys held after it. */
  keySetKeys: 'oauth.key_set.keys',
  /** Introspection: `active`, `inactive` or `error`. */
  introspectionResult: 'oauth.introspection.result'
} as const

/**
 * The tracer, once an OpenTelemetry SDK is registered; undefined before. Checked when
 * each instance of the plugin is ready (`refreshTracer`), not per request: with no SDK
 * the hot path tests one variable and makes no span, not even a no-op one. So the SDK
 * must be registered before the app is ready, as OpenTelemetry asks anyway.
 */
export let tracer: Tracer | undefined

/** Looks for a registered SDK: the API hands out a ProxyTracer while none is. */
export function refreshTracer (): void {
  const found = trace.getTracer(TRACER_NAME)
  tracer = found instanceof ProxyTracer ? undefined : found
}

/** Ends a span with the outcome of a decision; a 5xx reason (keys or introspection unavailable) marks it an error. */
export function endDecision (span: Span, reason: string, statusCode: number): void {
  if (span.isRecording()) {
    span.setAttribute(SpanAttributes.outcome, reason === 'valid' ? 'accepted' : 'refused')
    span.setAttribute(SpanAttributes.reason, reason)
    if (statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR })
  }
  span.end()
}
