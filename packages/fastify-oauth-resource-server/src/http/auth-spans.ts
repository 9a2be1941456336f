import { context, createContextKey, trace, type Tracer } from '@opentelemetry/api'
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction, onRequestHookHandler } from 'fastify'
import type { Credential } from './credentials.js'
import type { AuthError } from './errors.js'
import { IntrospectionUnavailable } from '../introspection/introspector.js'
import { KeysUnavailable } from '../keys/key-store.js'
import { isClaims, type CacheLookup, type Verdict } from '../token/verifier.js'
import type { AccessTokenClaims } from '../types.js'
import { endDecision, SpanAttributes, SpanNames } from '../diagnostics/tracing.js'

export type Verify = (request: FastifyRequest, token: string, settle: (verdict: Verdict, cache?: CacheLookup) => void) => void
export type CheckProof = (request: FastifyRequest, reply: FastifyReply, credential: Credential, claims: AccessTokenClaims, settle: (error: AuthError | null) => void) => void

export interface AuthSpanOptions {
  /** Add the token's `sub` as `user.id` (an operator's choice: it identifies a person). */
  subject: boolean
  /** `Bearer` or `DPoP` as the route reads the Authorization header; undefined without one. */
  schemeOf: (request: FastifyRequest) => Credential['scheme'] | undefined
  /** The configured issuer the verifier picked for a refused token, if it got that far. */
  issuerOf: (request: FastifyRequest) => string | undefined
}

/** What the token's verification learned, for the authenticate span that ends after it. */
interface Decision {
  issuer: string | undefined
}

const kDecision = createContextKey('fastify-oauth-resource-server.decision')

function reasonOf (verdict: Verdict): [reason: string, statusCode: number] {
  if (isClaims(verdict)) return ['valid', 200]
  if (verdict instanceof KeysUnavailable) return ['keys_unavailable', 503]
  if (verdict instanceof IntrospectionUnavailable) return ['introspection_unavailable', 503]
  return [verdict, 401]
}

/**
 * Wraps the steps of `authenticate` in spans, used only once an SDK is registered
 * (the plugin swaps them in when it is ready). Each step runs with its span active,
 * so what it starts (a key-set fetch, an introspection call) nests under it, and the
 * step after it runs in its parent's context again. The authenticate span nests
 * under whatever span is active when the hook runs (@fastify/otel's request span).
 */
export function createAuthSpans (tracer: Tracer, options: AuthSpanOptions) {
  const { subject, schemeOf, issuerOf } = options

  return {
    authenticate (untraced: onRequestHookHandler): onRequestHookHandler {
      return function authenticate (request, reply, done) {
        const outer = context.active()
        const span = tracer.startSpan(SpanNames.authenticate, undefined, outer)
        const decision: Decision = { issuer: undefined }
        const finish: HookHandlerDoneFunction = (error?: Error) => {
          if (span.isRecording()) {
            const scheme = schemeOf(request)
            if (scheme !== undefined) span.setAttribute(SpanAttributes.scheme, scheme)
            if (decision.issuer !== undefined) span.setAttribute(SpanAttributes.issuer, decision.issuer)
            const sub = request.claims?.sub
            if (subject && error === undefined && typeof sub === 'string') span.setAttribute(SpanAttributes.subject, sub)
          }
          const refused = error as AuthError | undefined
          endDecision(span, refused === undefined ? 'valid' : refused.reason ?? 'invalid', refused?.statusCode ?? 200)
          context.with(outer, done, undefined, error as Parameters<HookHandlerDoneFunction>[0])
        }
        context.with(trace.setSpan(outer, span).setValue(kDecision, decision), untraced, this, request, reply, finish)
      }
    },

    verify (untraced: Verify): Verify {
      return function verify (request, token, settle) {
        const outer = context.active()
        const span = tracer.startSpan(SpanNames.verifyToken, undefined, outer)
        context.with(trace.setSpan(outer, span), untraced, undefined, request, token, (verdict: Verdict, cache?: CacheLookup) => {
          const issuer = isClaims(verdict) ? verdict.iss : issuerOf(request)
          const decision = outer.getValue(kDecision) as Decision | undefined
          if (decision !== undefined) decision.issuer = issuer
          if (span.isRecording()) {
            if (issuer !== undefined) span.setAttribute(SpanAttributes.issuer, issuer)
            if (cache !== undefined) span.setAttribute(SpanAttributes.tokenCache, cache)
          }
          endDecision(span, ...reasonOf(verdict))
          context.with(outer, settle, undefined, verdict)
        })
      }
    },

    checkProof (untraced: CheckProof): CheckProof {
      return function checkProof (request, reply, credential, claims, settle) {
        // A Bearer credential is only checked for a binding it must not have: no proof, no span.
        if (credential.scheme !== 'DPoP') return untraced(request, reply, credential, claims, settle)
        const outer = context.active()
        const span = tracer.startSpan(SpanNames.dpopCheck, undefined, outer)
        context.with(trace.setSpan(outer, span), untraced, undefined, request, reply, credential, claims, (error: AuthError | null) => {
          endDecision(span, error === null ? 'valid' : error.reason, error?.statusCode ?? 200)
          context.with(outer, settle, undefined, error)
        })
      }
    }
  }
}
