import type { FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { AuthError, channels, type KeySetMessage } from 'fastify-oauth-resource-server'
import { pino, type DestinationStream } from 'pino'
import type { AuditConfig } from '../config/index.js'
import { RefusalFlood } from '../logging/refusal-flood.js'

export interface AuditOptions {
  /** AUDIT_LOG's destination, or a stream (tests). */
  destination: AuditConfig['destination'] | DestinationStream
  /** The clock, in ms since the epoch (tests pass a fake one). */
  now?: () => number
  /** Refusal lines per reason per second before the rest are counted (RefusalFlood's default). */
  refusalLinesPerSecond?: number
}

/** The `event` of each line, as docs/operations.md documents them. */
export const AuditEvents = {
  granted: 'access_granted',
  refused: 'access_refused',
  stepUp: 'step_up_required',
  dpopReplay: 'dpop_proof_replayed',
  refusalsSummary: 'access_refused_summary',
  keySetChanged: 'key_set_changed'
} as const

// Refusals that are events of their own for an auditor; the reason codes are the plugin's.
const EVENT_BY_REASON: Record<string, string> = {
  insufficient_user_authentication: AuditEvents.stepUp,
  dpop_replayed: AuditEvents.dpopReplay
}

const kRefused = Symbol('audit.refused')

interface AuditedRequest extends FastifyRequest {
  [kRefused]?: true
}

const stringOrNull = (value: unknown): string | null => typeof value === 'string' ? value : null

/**
 * The audit trail: one JSON line per decision an auditor cares about, on a pino logger
 * and destination of its own (AUDIT_LOG), apart from the debug logs. A request refused by
 * the auth plugin (its AuthError, whatever its reason code, reaches onError), access
 * granted to a route that verified a token (onResponse, unless refused), and a key set
 * that changed (the plugin's keys:refresh channel). Only verified claims are written:
 * a refused token's claims are the sender's say-so. A flood of refusals is summarised
 * per reason per second (RefusalFlood).
 */
async function audit (fastify: FastifyInstance, opts: AuditOptions) {
  const now = opts.now ?? Date.now
  const { destination } = opts
  const stream: DestinationStream = destination === 'stdout'
    ? pino.destination({ dest: 1, sync: false })
    : 'file' in destination ? pino.destination({ dest: destination.file, append: true, sync: false }) : destination
  const log = pino({
    base: null,
    timestamp: () => `,"time":"${new Date(now()).toISOString()}"`,
    formatters: { level: label => ({ level: label }) }
  }, stream)
  const flood = new RefusalFlood(opts.refusalLinesPerSecond)

  const writeSummaries = (nowMs: number) => {
    for (const { reason, count, second } of flood.roll(nowMs)) {
      log.info({ event: AuditEvents.refusalsSummary, outcome: 'refused', reason, count, from: new Date(second).toISOString() })
    }
  }

  function decision (request: FastifyRequest, event: string, outcome: 'granted' | 'refused', reason: string) {
    const claims = request.claims
    log.info({
      event,
      outcome,
      reason,
      reqId: request.id,
      route: `${request.method} ${request.routeOptions.url ?? 'unmatched'}`,
      issuer: stringOrNull(claims?.iss),
      subject: stringOrNull(claims?.sub),
      client: stringOrNull(claims?.azp) ?? stringOrNull(claims?.client_id)
    })
  }

  fastify.addHook('onError', (request, reply, error, done) => {
    if (error instanceof AuthError) {
      (request as AuditedRequest)[kRefused] = true
      writeSummaries(now())
      if (flood.admit(error.reason)) decision(request, EVENT_BY_REASON[error.reason] ?? AuditEvents.refused, 'refused', error.reason)
    }
    done()
  })
  fastify.addHook('onResponse', (request, reply, done) => {
    if (request.claims !== null && (request as AuditedRequest)[kRefused] !== true) decision(request, AuditEvents.granted, 'granted', 'valid')
    done()
  })

  const onKeySet = ({ issuer, result, keys, added, removed }: KeySetMessage) => {
    if (added === 0 && removed === 0) return
    log.info({ event: AuditEvents.keySetChanged, outcome: result, issuer, keys, added, removed })
  }
  channels.keySet.subscribe(onKeySet)
  // A second's count is written when the next refusal comes, or by this timer when none does.
  const timer = setInterval(() => writeSummaries(now()), 1000).unref()

  fastify.addHook('onClose', async () => {
    clearInterval(timer)
    channels.keySet.unsubscribe(onKeySet)
    writeSummaries(Number.MAX_SAFE_INTEGER)
    // Ours to close: a file is flushed and closed; stdout is flushed and stays open.
    if (stream === destination) return
    const sonic = stream as ReturnType<typeof pino.destination>
    if (destination === 'stdout') {
      try {
        sonic.flushSync()
      } catch {}
      return
    }
    await new Promise<void>(resolve => {
      sonic.once('close', () => resolve())
      sonic.end()
    })
  })
}

export default fp(audit, { name: 'audit', fastify: '5.x' })
