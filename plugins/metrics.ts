import type { FastifyInstance, onResponseHookHandler, RouteOptions } from 'fastify'
import fp from 'fastify-plugin'
import {
  AUTH_REASONS,
  channels,
  KEY_FETCH_RESULTS,
  type AuthDecisionMessage,
  type IntrospectionMessage,
  type KeyFetchMessage,
  type KeySetMessage,
  type TokenCacheMessage
} from 'fastify-oauth-resource-server'
import { createRequire } from 'node:module'
import { Counter, Gauge, Histogram, Registry } from 'prom-client'
import { RequestDurations } from '../metrics/request-durations.js'
import { rateLimitChannel, type RateLimitMessage } from '../rate-limit/events.js'

export interface Metrics {
  registry: Registry
  /** The exposition text, as Prometheus scrapes it. */
  scrape: () => Promise<string>
  contentType: string
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The Prometheus registry, registered only with METRICS_PORT set; served by server.ts on that port, never on the API's. */
    metrics?: Metrics
  }
}

/** The route label of requests no route matched (404s, bad URLs): never the URL itself. */
export const UNMATCHED_ROUTE = 'unmatched'
const DOCUMENTS = ['discovery', 'jwks'] as const
const INTROSPECTION_RESULTS = ['active', 'inactive', 'error'] as const
const FETCH_DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

const kMeasure = Symbol('metrics.measure')

// prom-client's default Node.js metrics, one by one, all but nodejs_gc_duration_seconds
// (collectDefaultMetrics has no switch for one of them). That one's PerformanceObserver runs
// JavaScript after every garbage collection, a label-hashing observe each time, and load
// makes garbage, so it costs every request something (docs/design.md). The others read
// their values at scrape time. The files are prom-client's
// own (15.x, no exports map); the metrics test fails if one goes missing.
const DEFAULT_METRICS = ['processCpuTotal', 'processStartTime', 'osMemoryHeap', 'processOpenFileDescriptors', 'processMaxFileDescriptors',
  'eventLoopLag', 'processResources', 'processHandles', 'processRequests', 'heapSizeAndUsed', 'heapSpacesSizeAndUsed', 'version'] as const
type DefaultMetric = (registry: Registry, config: { eventLoopMonitoringPrecision: number }) => void
const require = createRequire(import.meta.url)

/**
 * Prometheus metrics for the service: request durations by route pattern, and
 * what the auth plugin publishes on its diagnostics channels. Every label value
 * comes from a fixed set (route patterns, reason codes, methods, status codes),
 * never from request data. Register it before the routes: it labels each route
 * as it is added.
 */
async function metrics (fastify: FastifyInstance) {
  const registry = new Registry()
  for (const name of DEFAULT_METRICS) (require(`prom-client/lib/metrics/${name}`) as DefaultMetric)(registry, { eventLoopMonitoringPrecision: 10 })
  // prom-client names three gauges *_total, which Prometheus reserves for counters
  // (promtool check metrics refuses them); drop them rather than export a misleading name.
  // The same counts by handle type stay (nodejs_active_handles{type} and the like).
  for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) registry.removeSingleMetric(name)
  const durations = new RequestDurations()
  registry.registerMetric(durations.asMetric())

  // Hot paths count in plain arrays; prom-client reads them at scrape time.
  const decisionIndex = new Map<string, number>(AUTH_REASONS.map((reason, index) => [reason, index]))
  const decisionCounts = new Float64Array(AUTH_REASONS.length + 1)
  const onDecision = (message: AuthDecisionMessage) => { decisionCounts[decisionIndex.get(message.reason) ?? AUTH_REASONS.length]!++ }
  const cacheCounts = { hit: 0, miss: 0 }
  const onCacheLookup = (message: TokenCacheMessage) => { cacheCounts[message.result]++ }

  registry.registerMetric(new Counter({
    name: 'oauth_auth_decisions_total',
    help: 'Authentication and permission decisions, by outcome and reason code (other: a reason this build does not know)',
    labelNames: ['outcome', 'reason'],
    registers: [],
    collect () {
      this.reset()
      AUTH_REASONS.forEach((reason, index) => this.inc({ outcome: reason === 'valid' ? 'accepted' : 'refused', reason }, decisionCounts[index]))
      this.inc({ outcome: 'refused', reason: 'other' }, decisionCounts[AUTH_REASONS.length])
    }
  }))
  registry.registerMetric(new Counter({
    name: 'oauth_token_cache_lookups_total',
    help: 'Lookups in the verified-token cache, by result (hit or miss)',
    labelNames: ['result'],
    registers: [],
    collect () {
      this.reset()
      this.inc({ result: 'hit' }, cacheCounts.hit)
      this.inc({ result: 'miss' }, cacheCounts.miss)
    }
  }))
  registry.registerMetric(new Gauge({
    name: 'oauth_token_cache_hit_ratio',
    help: 'Hits over all lookups in the verified-token cache since start (NaN before the first lookup)',
    registers: [],
    collect () { this.set(cacheCounts.hit / (cacheCounts.hit + cacheCounts.miss)) }
  }))
  registry.registerMetric(new Gauge({
    name: 'oauth_token_cache_entries',
    help: 'Verified tokens held in the cache',
    registers: [],
    collect () { this.set(fastify.hasDecorator('authStatus') ? fastify.authStatus().cachedTokens : 0) }
  }))

  const fetches = new Counter({
    name: 'oauth_key_fetches_total',
    help: 'HTTP fetches of the discovery document and the key set, by document and result',
    labelNames: ['document', 'result'],
    registers: [registry]
  })
  const fetchDurations = new Histogram({
    name: 'oauth_key_fetch_duration_seconds',
    help: 'Time of each fetch from the identity provider, failed ones included, by document',
    labelNames: ['document'],
    buckets: FETCH_DURATION_BUCKETS,
    registers: [registry]
  })
  for (const document of DOCUMENTS) {
    fetchDurations.zero({ document })
    for (const result of KEY_FETCH_RESULTS) fetches.inc({ document, result }, 0)
  }
  const onFetch = ({ document, result, durationSeconds }: KeyFetchMessage) => {
    fetches.inc({ document, result })
    fetchDurations.observe({ document }, durationSeconds)
  }

  const refreshes = new Counter({
    name: 'oauth_key_set_refreshes_total',
    help: 'Refreshes of the key set, by result (loaded: a good set was fetched; failed: the last good set, if any, was kept)',
    labelNames: ['result'],
    registers: [registry]
  })
  for (const result of ['loaded', 'failed']) refreshes.inc({ result }, 0)
  // By issuer (one, or a few configured ones): the age reported is the oldest.
  const loadedAt = new Map<string, number>()
  const keysHeld = new Map<string, number>()
  const onKeySet = ({ issuer, result, keys }: KeySetMessage) => {
    refreshes.inc({ result })
    keysHeld.set(issuer, keys)
    if (result === 'loaded') loadedAt.set(issuer, Date.now())
  }
  registry.registerMetric(new Gauge({
    name: 'oauth_key_set_age_seconds',
    help: 'Seconds since the last good key set was fetched (+Inf until the first)',
    registers: [],
    collect () {
      const oldest = loadedAt.size === 0 ? -Infinity : Math.min(...loadedAt.values())
      this.set((Date.now() - oldest) / 1000)
    }
  }))
  registry.registerMetric(new Gauge({
    name: 'oauth_keys_loaded',
    help: 'Signing keys held (0: no token can be verified)',
    registers: [],
    collect () { this.set([...keysHeld.values()].reduce((sum, keys) => sum + keys, 0)) }
  }))

  // Published once DPoP and token introspection are on; zero until then.
  const replays = new Counter({ name: 'oauth_dpop_replays_total', help: 'DPoP proofs refused as replays', registers: [registry] })
  const onReplay = () => { replays.inc() }
  const introspections = new Counter({
    name: 'oauth_introspection_requests_total',
    help: 'Token introspection calls, by result',
    labelNames: ['result'],
    registers: [registry]
  })
  const introspectionDurations = new Histogram({
    name: 'oauth_introspection_duration_seconds',
    help: 'Time of each token introspection call',
    buckets: FETCH_DURATION_BUCKETS,
    registers: [registry]
  })
  for (const result of INTROSPECTION_RESULTS) introspections.inc({ result }, 0)
  const onIntrospection = ({ result, durationSeconds }: IntrospectionMessage) => {
    introspections.inc({ result: INTROSPECTION_RESULTS.includes(result) ? result : 'error' })
    introspectionDurations.observe(durationSeconds)
  }

  // Published by the rate limit once RATE_LIMIT_PER_MINUTE is set; zero until then.
  const limited = new Counter({
    name: 'rate_limited_requests_total',
    help: 'Requests refused by the rate limit (429), by the budget they spent: a verified subject\'s, or a client address\'s',
    labelNames: ['budget'],
    registers: [registry]
  })
  for (const budget of ['subject', 'address']) limited.inc({ budget }, 0)
  const rateLimitUnavailable = new Counter({
    name: 'rate_limit_unavailable_total',
    help: 'Requests let through uncounted because Redis did not answer the rate limit (it fails open)',
    registers: [registry]
  })
  const onRateLimit = ({ outcome, budget }: RateLimitMessage) => {
    if (outcome === 'limited') limited.inc({ budget })
    else rateLimitUnavailable.inc()
  }

  const subscriptions = [
    [channels.authDecision, onDecision],
    [channels.tokenCache, onCacheLookup],
    [channels.keyFetch, onFetch],
    [channels.keySet, onKeySet],
    [channels.dpopReplay, onReplay],
    [channels.introspection, onIntrospection],
    [rateLimitChannel, onRateLimit]
  ] as Array<[typeof channels.keySet, (message: unknown) => void]>
  for (const [channel, onMessage] of subscriptions) channel.subscribe(onMessage)
  fastify.addHook('onClose', async () => {
    for (const [channel, onMessage] of subscriptions) channel.unsubscribe(onMessage)
  })

  // Each route gets its own onResponse hook holding its series: no lookup by URL per request.
  fastify.addHook('onRoute', (route: RouteOptions) => {
    const series = durations.route(route.url)
    const measure: onResponseHookHandler & { [kMeasure]?: true } = function measure (request, reply, done) {
      durations.observe(series, request.method, reply.statusCode, reply.elapsedTime / 1000)
      done()
    }
    measure[kMeasure] = true
    // A HEAD route Fastify derives from a GET route arrives with the GET's hook: replace it.
    const hooks = [route.onResponse ?? []].flat().filter(hook => (hook as { [kMeasure]?: true })[kMeasure] !== true)
    route.onResponse = [...hooks, measure]
  })
  const unmatched = durations.route(UNMATCHED_ROUTE)
  fastify.addHook('onResponse', function measureUnmatched (request, reply, done) {
    if (request.is404) durations.observe(unmatched, request.method, reply.statusCode, reply.elapsedTime / 1000)
    done()
  })

  fastify.decorate('metrics', { registry, scrape: () => registry.metrics(), contentType: registry.contentType })
}

export default fp(metrics, { name: 'metrics', fastify: '5.x' })
