import { channel } from 'node:diagnostics_channel'
import type { TypedChannel } from 'fastify-oauth-resource-server'
import type { Budget } from './key.js'

/** A request refused by the rate limit (429), or let through because its store did not answer (`unavailable`). */
export interface RateLimitMessage {
  outcome: 'limited' | 'unavailable'
  /** Whose budget it spent (for `unavailable`, whose it would have). */
  budget: Budget
}

/**
 * Published by plugins/rate-limit.ts, counted by plugins/metrics.ts: a channel rather
 * than an import, so that metrics need not load the limiter, nor the limiter prom-client.
 */
export const rateLimitChannel = channel('hello-world-api:rate-limit') as unknown as TypedChannel<RateLimitMessage>
