import { hash } from 'node:crypto'
import type { FastifyBaseLogger } from 'fastify'
import * as oauth from 'oauth4webapi'
import type { Rejection } from '../claims/rejections.js'
import type { AccessTokenClaims, AudienceClaim } from '../types.js'
import { CallRate } from './call-rate.js'
import { createIntrospectionClient, type FetchInit, type IntrospectionClient } from './introspection-client.js'
import { judgeIntrospection } from './introspection-claims.js'
import { ResultCache } from './result-cache.js'
import { channels, type IntrospectionMessage } from '../diagnostics/channels.js'
import { SpanAttributes, SpanNames, tracer } from '../diagnostics/tracing.js'
import { SpanStatusCode } from '@opentelemetry/api'

/** The introspection endpoint cannot answer now (down, slow, busy): the client should retry. A reason, not an HTTP error. */
export class IntrospectionUnavailable {
  constructor (readonly retryAfterSeconds: number) {}
}

export type IntrospectionVerdict = AccessTokenClaims | Rejection | IntrospectionUnavailable

export interface IntrospectorOptions {
  /** The issuer's identifier as discovery spells it (read on each call: discovery may come later). */
  issuer: () => string
  audience: readonly string[]
  audienceClaim?: AudienceClaim
  /** The endpoint, configured or discovered; undefined while discovery has not named one. */
  endpoint: () => string | undefined
  clientId: string
  clientSecret: string
  clientAuthMethod: 'client_secret_basic' | 'client_secret_post'
  /** Durations in ms. */
  timeout: number
  maxCacheAge: number
  inactiveCacheAge: number
  clockTolerance: number
  cacheSize: number
  concurrency: number
  queueLimit: number
  maxCallsPerSecond: number
  maxResponseBytes: number
  log: FastifyBaseLogger
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]'])

/**
 * RFC 7662 token introspection through oauth4webapi. A result is cached by a SHA-256
 * of the token: an active one until the sooner of maxCacheAge and its exp, a refused
 * one for inactiveCacheAge. Concurrent checks of one token share one call; at most
 * `concurrency` calls run at once and `queueLimit` wait, so a flood of random tokens
 * costs the authorization server a bounded number of calls at a time and the rest are
 * told to retry. The calls are bounded in rate too (`maxCallsPerSecond`): past it a new
 * token is told to retry, while cached results keep answering. An endpoint that fails or does not answer within `timeout` is an
 * outage (IntrospectionUnavailable), never a refusal, and is not cached.
 */
export class Introspector {
  readonly #options: IntrospectorOptions
  readonly #cache: ResultCache<AccessTokenClaims | Rejection>
  readonly #pending = new Map<string, Promise<IntrospectionVerdict>>()
  readonly #waiting: Array<() => void> = []
  readonly #client: oauth.Client
  readonly #auth: oauth.ClientAuth
  readonly #rate: CallRate
  readonly #http: IntrospectionClient
  #running = 0
  #warnedAt = -Infinity

  constructor (options: IntrospectorOptions) {
    this.#options = options
    this.#cache = new ResultCache(options.cacheSize)
    this.#rate = new CallRate(options.maxCallsPerSecond)
    this.#http = createIntrospectionClient({ maxResponseBytes: options.maxResponseBytes, maxSockets: options.concurrency })
    this.#client = { client_id: options.clientId }
    this.#auth = options.clientAuthMethod === 'client_secret_post'
      ? oauth.ClientSecretPost(options.clientSecret)
      : oauth.ClientSecretBasic(options.clientSecret)
  }

  status () {
    return { cachedResults: this.#cache.size, inFlight: this.#running, queued: this.#waiting.length }
  }

  /** Closes the sockets kept open to the endpoint. */
  close (): void {
    this.#http.close()
  }

  /** Synchronous for a cached result (the hot path); a promise when the server must be asked. */
  check (token: string): IntrospectionVerdict | Promise<IntrospectionVerdict> {
    const id = hash('sha256', token, 'base64')
    const cached = this.#cache.get(id)
    if (cached !== undefined) return cached
    const pending = this.#pending.get(id)
    if (pending !== undefined) return pending
    if (this.#running >= this.#options.concurrency && this.#waiting.length >= this.#options.queueLimit) {
      return new IntrospectionUnavailable(1)
    }
    if (!this.#rate.take()) return this.#overRate()
    const call = this.#introspect(token, id).finally(() => this.#pending.delete(id))
    this.#pending.set(id, call)
    return call
  }

  /** Past the rate: the token is told to retry; the log says so at most once a minute. */
  #overRate (): IntrospectionUnavailable {
    const now = performance.now()
    if (now - this.#warnedAt >= 60_000) {
      this.#warnedAt = now
      this.#options.log.warn({ maxCallsPerSecond: this.#options.maxCallsPerSecond },
        'token introspection: new opaque tokens arrive faster than introspection.maxCallsPerSecond; they get 503 until the rate falls (cached results still answer)')
    }
    return new IntrospectionUnavailable(this.#rate.retryAfterSeconds())
  }

  async #introspect (token: string, id: string): Promise<IntrospectionVerdict> {
    if (this.#running >= this.#options.concurrency) {
      if (!await this.#slot()) return new IntrospectionUnavailable(1)
    } else {
      this.#running++
    }
    try {
      const started = channels.introspection.hasSubscribers ? performance.now() : 0
      // Under the token's verification span (the active context); never the token, only the result.
      const span = tracer?.startSpan(SpanNames.introspection, { attributes: { [SpanAttributes.issuer]: this.#options.issuer() } })
      const response = await this.#call(token)
      if (response instanceof IntrospectionUnavailable) {
        publishIntrospection('error', started)
        span?.setAttribute(SpanAttributes.introspectionResult, 'error').setStatus({ code: SpanStatusCode.ERROR }).end()
        return response
      }
      publishIntrospection(response.active === true ? 'active' : 'inactive', started)
      span?.setAttribute(SpanAttributes.introspectionResult, response.active === true ? 'active' : 'inactive').end()
      const { audience, audienceClaim, clockTolerance, maxCacheAge, inactiveCacheAge } = this.#options
      const verdict = judgeIntrospection(response, { issuer: this.#options.issuer(), audience, audienceClaim, clockTolerance })
      const now = Date.now()
      const expiresAt = typeof verdict === 'string'
        ? now + inactiveCacheAge
        : Math.min(now + maxCacheAge, verdict.exp * 1000)
      this.#cache.set(id, verdict, expiresAt)
      return verdict
    } finally {
      // The slot passes straight to the next waiter, if any.
      const next = this.#waiting.shift()
      if (next !== undefined) next()
      else this.#running--
    }
  }

  /** Waits for a running call to hand over its slot, at most `timeout`: false when none came in time. */
  #slot (): Promise<boolean> {
    return new Promise(resolve => {
      const handOver = () => {
        clearTimeout(timer)
        resolve(true)
      }
      const timer = setTimeout(() => {
        this.#waiting.splice(this.#waiting.indexOf(handOver), 1)
        resolve(false)
      }, this.#options.timeout)
      this.#waiting.push(handOver)
    })
  }

  async #call (token: string): Promise<oauth.IntrospectionResponse | IntrospectionUnavailable> {
    const { endpoint, timeout, log } = this.#options
    const url = endpoint()
    const unavailable = () => new IntrospectionUnavailable(Math.max(1, Math.ceil(timeout / 1000)))
    if (url === undefined) {
      log.warn('token introspection: no introspection endpoint (discovery not read yet, or it names none)')
      return unavailable()
    }
    const as: oauth.AuthorizationServer = { issuer: this.#options.issuer(), introspection_endpoint: url }
    const signal = AbortSignal.timeout(timeout)
    try {
      const response = await oauth.introspectionRequest(as, this.#client, this.#auth, token, {
        signal,
        additionalParameters: { token_type_hint: 'access_token' },
        // http: only for a loopback endpoint, which the options already held it to.
        [oauth.allowInsecureRequests]: LOOPBACK.has(new URL(url).hostname),
        // No redirects, and the body read within a size cap, like every fetch from the provider
        // (introspection-client.ts says why not through fetch itself).
        [oauth.customFetch]: (input, init) => this.#http.fetch(input, init as FetchInit)
      })
      return await oauth.processIntrospectionResponse(as, this.#client, response)
    } catch (error) {
      // Down, slow, a 5xx, a body that is not an introspection response, or our own
      // credentials refused: none of it is the client's fault, so none of it is a 401.
      if (refusesCredentials(error)) {
        log.warn({ status: (error as { status: number }).status },
          'token introspection failed: the authorization server refused the API\'s own credentials (check introspection.clientId, clientSecret and clientAuthMethod)')
      } else {
        const reason = signal.aborted
          ? `no answer within ${timeout} ms`
          : error instanceof oauth.ResponseBodyError ? `${error.status} ${error.error}` : (error as Error).message
        log.warn({ reason }, 'token introspection failed')
      }
      return unavailable()
    }
  }
}

/**
 * Whether the endpoint refused the API's own client authentication (RFC 6749 §5.2
 * invalid_client): a 401 with a challenge, or an invalid_client error body. Told by
 * oauth4webapi's error classes and the OAuth error code, never by message text.
 */
function refusesCredentials (error: unknown): boolean {
  if (error instanceof oauth.WWWAuthenticateChallengeError) return error.status === 401
  return error instanceof oauth.ResponseBodyError && (error.error === 'invalid_client' || error.status === 401)
}

function publishIntrospection (result: IntrospectionMessage['result'], started: number): void {
  if (!channels.introspection.hasSubscribers) return
  channels.introspection.publish({ result, durationSeconds: (performance.now() - started) / 1000 })
}
