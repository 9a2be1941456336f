import type { FastifyBaseLogger } from 'fastify'
import { SpanStatusCode } from '@opentelemetry/api'
import { channels } from '../diagnostics/channels.js'
import { SpanAttributes, SpanNames, tracer } from '../diagnostics/tracing.js'
import type { Algorithm } from '../types.js'
import { checkDiscoveredIssuer, UnusableIssuerError } from './discovered-issuer.js'
import { fetchJson, ProviderFetchError, type FetchLimits } from './fetch-json.js'
import { parseProviderUrl, withoutTrailingSlash } from './provider-url.js'
import { importSigningKeys, type SigningKey } from './signing-keys.js'

/** A trusted key: its PEM (one string per key, so the verifier built for it is reused) and its issuer. */
export interface KeyRecord extends SigningKey {
  readonly issuer: string
}

/** The keys cannot be obtained now: the client did nothing wrong and should retry. A reason, not an HTTP error. */
export class KeysUnavailable {
  constructor (readonly retryAfterSeconds: number) {}
}

export interface KeyStoreOptions {
  issuer: string
  jwksUri: string | undefined
  algorithms: ReadonlySet<Algorithm>
  /** A multi-tenant issuer (it has tenants): discovery must name a template. */
  templated?: boolean
  maxAge: number
  cooldown: number
  fetchTimeout: number
  staleIfError: number
  maxResponseBytes: number
  /** Called, synchronously, for each key that is no longer trusted. */
  onRetire: (key: KeyRecord) => void
  log: FastifyBaseLogger
}

/** The discovered issuer disagrees with the configured one: a configuration error, not an outage. */
export class IssuerMismatchError extends Error {
  readonly code = 'FST_AUTH_ISSUER_MISMATCH'
  constructor (configured: string, discovered: string) {
    super(`The issuer's discovery document names issuer ${JSON.stringify(discovered)}, not the configured ${configured}`)
    this.name = 'IssuerMismatchError'
  }
}

// Requests that may wait together on one fetch; past this, they are told to retry at once.
const MAX_WAITERS = 1000

interface Endpoints {
  issuer: string
  jwksUri: string
  /** The discovery document's, when it names a usable one. */
  introspectionEndpoint?: string | undefined
  fetchedAt: number
}

/**
 * The signing keys of one issuer. Fetches are single-flight and at most one per
 * cooldown; the set is refreshed every maxAge in the background; when the
 * provider fails, the last good set keeps verifying for staleIfError.
 */
export class KeyStore {
  readonly #options: KeyStoreOptions
  readonly #limits: FetchLimits
  #keys = new Map<string, KeyRecord>()
  #endpoints: Endpoints | undefined
  #loadedAt = 0
  #lastAttemptAt = -Infinity
  #failing = false
  #startError: Error | undefined
  #inFlight: Promise<void> | undefined
  #waiters = 0
  #timer: NodeJS.Timeout | undefined
  #closed = false

  constructor (options: KeyStoreOptions) {
    this.#options = options
    this.#limits = { timeout: options.fetchTimeout, maxBytes: options.maxResponseBytes }
  }

  get (kid: string): KeyRecord | undefined {
    return this.#keys.get(kid)
  }

  loaded (): boolean {
    return this.#keys.size > 0
  }

  /** The introspection endpoint discovery named, once discovery has been read. */
  introspectionEndpoint (): string | undefined {
    return this.#endpoints?.introspectionEndpoint
  }

  /** The issuer exactly as discovery spells it, or as configured until then (and with jwksUri). */
  issuer (): string {
    return this.#endpoints?.issuer ?? this.#options.issuer
  }

  /** First load. A provider that is down is logged and retried; a wrong issuer stops start-up. */
  async start (): Promise<void> {
    await this.refresh()
    if (this.#startError !== undefined) throw this.#startError
  }

  close (): void {
    this.#closed = true
    clearTimeout(this.#timer)
  }

  /**
   * A key the set does not hold: wait for the fetch in flight, or start one if
   * the cooldown allows, else answer at once. KeysUnavailable when the provider
   * cannot be reached, or too many requests already wait, so the client is told
   * to retry, not that its token is bad.
   */
  async fetchUnknown (kid: string): Promise<KeyRecord | KeysUnavailable | undefined> {
    if (this.#inFlight === undefined && Date.now() - this.#lastAttemptAt >= this.#options.cooldown) {
      this.refresh()
    }
    if (this.#inFlight !== undefined) {
      if (this.#waiters >= MAX_WAITERS) return new KeysUnavailable(1)
      this.#waiters++
      try {
        await this.#inFlight
      } finally {
        this.#waiters--
      }
    }
    const key = this.#keys.get(kid)
    if (key === undefined && (this.#failing || this.#keys.size === 0)) {
      const wait = this.#options.cooldown - (Date.now() - this.#lastAttemptAt)
      return new KeysUnavailable(Math.max(1, Math.ceil(wait / 1000)))
    }
    return key
  }

  refresh (): Promise<void> {
    if (this.#inFlight !== undefined) return this.#inFlight
    this.#lastAttemptAt = Date.now()
    // Under the span of the request that needed a key, when one did (the active context).
    const span = tracer?.startSpan(SpanNames.keySetFetch, { attributes: { [SpanAttributes.issuer]: this.#options.issuer } })
    this.#inFlight = this.#load()
      .then(() => { this.#failing = false }, (error: Error) => this.#fail(error))
      .finally(() => {
        this.#inFlight = undefined
        if (span !== undefined) {
          span.setAttribute(SpanAttributes.keySetResult, this.#failing ? 'failed' : 'loaded')
          span.setAttribute(SpanAttributes.keySetKeys, this.#keys.size)
          if (this.#failing) span.setStatus({ code: SpanStatusCode.ERROR })
          span.end()
        }
        this.#schedule()
      })
    return this.#inFlight
  }

  async #load (): Promise<void> {
    const { issuer, jwksUri } = await this.#discover()
    const keys = importSigningKeys(await fetchJson(jwksUri, this.#limits, 'jwks'), this.#options.algorithms)
    if (keys.size === 0) throw new Error(`${jwksUri}: the key set holds no key usable with ${[...this.#options.algorithms].join(', ')}`)
    if (this.#closed) return
    this.#replace(keys, issuer)
    this.#loadedAt = Date.now()
  }

  async #discover (): Promise<Endpoints> {
    const { issuer, jwksUri, maxAge } = this.#options
    if (jwksUri !== undefined) return { issuer, jwksUri, fetchedAt: 0 }
    const cached = this.#endpoints
    if (cached !== undefined && Date.now() - cached.fetchedAt < maxAge) return cached
    const url = `${withoutTrailingSlash(issuer)}/.well-known/openid-configuration`
    try {
      const document = await fetchJson(url, this.#limits, 'discovery')
      // A document that is not one (no object, no string issuer) is a provider fault, like a 5xx:
      // retried every cooldown. Only a well-formed document naming another issuer stops start-up.
      if (typeof document !== 'object' || document === null || Array.isArray(document)) {
        throw new ProviderFetchError(url, 'the discovery document is not a JSON object')
      }
      const { issuer: discovered, jwks_uri: jwksUri, introspection_endpoint: introspection } = document as Record<string, unknown>
      if (typeof discovered !== 'string') throw new ProviderFetchError(url, 'the discovery document has no string issuer')
      const unfit = checkDiscoveredIssuer(issuer, discovered, document as Record<string, unknown>, this.#options.templated === true)
      if (unfit === 'mismatch') throw new IssuerMismatchError(issuer, discovered)
      if (unfit !== undefined) throw unfit
      const jwks = typeof jwksUri === 'string' ? parseProviderUrl(jwksUri) : 'is missing or not a string'
      if (typeof jwks === 'string') throw new ProviderFetchError(url, `jwks_uri ${jwks}`)
      const introspectionEndpoint = typeof introspection === 'string' ? parseProviderUrl(introspection) : undefined
      this.#endpoints = {
        issuer: discovered,
        jwksUri: jwks.href,
        introspectionEndpoint: introspectionEndpoint instanceof URL ? introspectionEndpoint.href : undefined,
        fetchedAt: Date.now()
      }
      return this.#endpoints
    } catch (error) {
      if (cached !== undefined && !(error instanceof IssuerMismatchError || error instanceof UnusableIssuerError)) return cached
      throw error
    }
  }

  #replace (keys: Map<string, SigningKey>, issuer: string): void {
    const previous = this.#keys
    const next = new Map<string, KeyRecord>()
    for (const [kid, key] of keys) {
      const kept = previous.get(kid)
      const same = kept !== undefined && kept.pem === key.pem && kept.issuer === issuer
      next.set(kid, same ? kept : { ...key, issuer })
    }
    this.#keys = next
    let removed = 0
    for (const record of previous.values()) {
      if (next.get(record.kid) === record) continue
      removed++
      this.#options.onRetire(record)
    }
    if (channels.keySet.hasSubscribers) {
      // Kept records are the previous objects; any other is new (or new material under a kid).
      const added = next.size - (previous.size - removed)
      channels.keySet.publish({ issuer: this.#options.issuer, result: 'loaded', keys: next.size, added, removed })
    }
  }

  #fail (error: Error): void {
    this.#failing = true
    const { log, staleIfError } = this.#options
    if ((error instanceof IssuerMismatchError || error instanceof UnusableIssuerError) && this.#loadedAt === 0) this.#startError = error
    if (this.#keys.size > 0 && Date.now() - this.#loadedAt > staleIfError) {
      log.error({ reason: error.message }, 'identity provider keys are older than the stale-if-error limit; dropping them')
      const stale = this.#keys
      this.#keys = new Map()
      for (const record of stale.values()) this.#options.onRetire(record)
      this.#publishFailure(error, stale.size)
      return
    }
    this.#publishFailure(error, 0)
    log.warn({ reason: error.message, usingLastGoodKeys: this.#keys.size > 0 }, 'could not refresh the identity provider keys')
  }

  #publishFailure (error: Error, removed: number): void {
    if (!channels.keySet.hasSubscribers) return
    channels.keySet.publish({ issuer: this.#options.issuer, result: 'failed', keys: this.#keys.size, added: 0, removed, error })
  }

  #schedule (): void {
    if (this.#closed) return
    clearTimeout(this.#timer)
    const delay = this.#failing ? this.#options.cooldown : this.#options.maxAge
    this.#timer = setTimeout(() => { this.refresh() }, delay).unref()
  }
}
