import fastifyRateLimit from '@fastify/rate-limit'
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { AuthError } from 'fastify-oauth-resource-server'
import type { Redis } from 'ioredis'
import { rateLimitChannel } from '../rate-limit/events.js'
import { budgetOf, rateLimitKey } from '../rate-limit/key.js'

export interface RateLimitOptions {
  /** Requests each budget may make in one window. */
  max: number
  /** The window, fixed, starting at a budget's first request. Default 60 (RATE_LIMIT_PER_MINUTE); tests lengthen it. */
  windowSeconds?: number
  /** The connection every replica shares; without it each replica counts in its own memory. */
  redis?: Redis
  /** How long Redis may take to answer before the request goes through uncounted. Default 0.5. */
  timeoutSeconds?: number
}

/** Where a replica's budgets are in Redis: `rate-limit:s:<hash>` for a subject, `rate-limit:a:<address>` for an address. */
export const REDIS_PREFIX = 'rate-limit:'
// Budgets one replica keeps in memory without Redis (an LRU: the least recent are forgotten first), each a few dozen bytes.
const LOCAL_BUDGETS = 100_000

/** 429: the budget is spent until the window ends. Carries its status for the app's error handler. */
export class RateLimitedError extends Error {
  readonly statusCode = 429
  readonly code = 'RATE_LIMITED'
  constructor (readonly retryAfterSeconds: number) {
    super(`Too many requests: retry in ${retryAfterSeconds} seconds`)
    this.name = 'RateLimitedError'
  }
}

const kCharged = Symbol('rateLimit.charged')
type Charged = FastifyRequest & { [kCharged]: boolean }

/**
 * Limits the routes registered beside it (register both in one encapsulated scope):
 * each request spends one request of one budget, its verified subject's or its client
 * address's (rate-limit/key.ts). Charged in preValidation, after the routes' onRequest
 * `authenticate` and before their preHandler `requireScopes`, so a token counts only once
 * verified, and a token lacking a permission still counts. A request that authentication
 * refuses (no verified subject) spends its address's budget instead, in the error
 * handler: past it, the refusal is a 429, so a flood of forged tokens is limited by the
 * address it comes from and never spends the subject it names.
 * Redis that errs or does not answer within `timeoutSeconds` lets the request through,
 * uncounted and without RateLimit-* headers (fail open: the limit is not a security
 * check); authentication is unaffected.
 */
async function rateLimit (fastify: FastifyInstance, { max, windowSeconds = 60, redis, timeoutSeconds = 0.5 }: RateLimitOptions) {
  if (!Number.isInteger(max) || max < 1) throw new Error(`rate limit: max must be an integer ≥ 1 (got ${max})`)
  if (!Number.isInteger(windowSeconds) || windowSeconds < 1) throw new Error(`rate limit: windowSeconds must be an integer ≥ 1 (got ${windowSeconds})`)
  if (!(timeoutSeconds > 0 && timeoutSeconds <= 10)) throw new Error(`rate limit: timeoutSeconds must be a number of seconds above 0, at most 10 (got ${timeoutSeconds})`)
  const timeoutMs = timeoutSeconds * 1000

  // global: false: no hook of its own on every route (it would run before `authenticate`
  // in onRequest, or after `requireScopes` in preHandler); its store and counting only.
  await fastify.register(fastifyRateLimit, {
    global: false,
    max,
    timeWindow: windowSeconds * 1000,
    keyGenerator: rateLimitKey,
    cache: LOCAL_BUDGETS,
    ...(redis === undefined ? {} : { redis, nameSpace: REDIS_PREFIX })
  })
  const limit = fastify.createRateLimit()
  // ioredis keeps a command until its connection answers or closes: a Redis that hangs would hold the request.
  const count = redis === undefined ? limit : (request: FastifyRequest) => within(limit(request), timeoutMs)

  let unavailable = false
  async function charge (request: FastifyRequest, reply: FastifyReply) {
    if ((request as Charged)[kCharged]) return
    (request as Charged)[kCharged] = true
    let result: Awaited<ReturnType<typeof limit>>
    try {
      result = await count(request)
    } catch (error) {
      if (rateLimitChannel.hasSubscribers) rateLimitChannel.publish({ outcome: 'unavailable', budget: budgetOf(rateLimitKey(request)) })
      // Once per outage, not once per request.
      if (!unavailable) request.log.warn({ err: error }, 'rate limit: Redis did not answer; requests go through uncounted until it does')
      unavailable = true
      return
    }
    if (unavailable) request.log.info('rate limit: Redis answers again')
    unavailable = false
    if (result.isAllowed) return
    reply.header('RateLimit-Limit', result.max)
    reply.header('RateLimit-Remaining', result.remaining)
    reply.header('RateLimit-Reset', result.ttlInSeconds)
    if (result.isExceeded) {
      if (rateLimitChannel.hasSubscribers) rateLimitChannel.publish({ outcome: 'limited', budget: budgetOf(result.key) })
      reply.header('Retry-After', result.ttlInSeconds)
      throw new RateLimitedError(result.ttlInSeconds)
    }
  }

  fastify.decorateRequest(kCharged, false)
  fastify.addHook('preValidation', charge)
  // An error handler that throws hands its error to the app's: a refusal becomes a 429
  // past the address's budget, and is otherwise answered as before.
  fastify.setErrorHandler(async function chargeRefusal (error: FastifyError, request, reply) {
    if (error instanceof AuthError) await charge(request, reply)
    throw error
  })
}

/** The promise's outcome, or a rejection after `ms`. */
function within<T> (promise: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms)
    promise.then(value => {
      clearTimeout(timer)
      resolve(value)
    }, error => {
      clearTimeout(timer)
      reject(error)
    })
  })
}

export default fp(rateLimit, { name: 'rate-limit', fastify: '5.x' })
