import type { FastifyBaseLogger, FastifyInstance } from 'fastify'
import type { Bindings, ChildLoggerOptions } from 'fastify/types/logger.js'

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const

const kBindings = Symbol('request-logger.bindings')
const kOptions = Symbol('request-logger.options')
const kChild = Symbol('request-logger.child')

/** What pino's loggers have beyond Fastify's base logger type. */
type Logger = FastifyBaseLogger & { isLevelEnabled: (level: string) => boolean, bindings: () => Bindings, setBindings: (bindings: Bindings) => void, levelVal: number }

interface Deferred {
  [kBindings]: Bindings
  [kOptions]: ChildLoggerOptions
  [kChild]: Logger | undefined
}

/**
 * Fastify's `childLoggerFactory`: each request's logger (with its `reqId`) is made
 * only when the request logs something. Fastify otherwise makes a pino child for
 * every request, its bindings serialized and its level methods installed, though at
 * LOG_LEVEL=warn most requests log nothing. The stand-in inherits from the parent
 * logger; a call at an enabled level makes the real child, exactly as Fastify's
 * default factory would (`logger.child(bindings, opts)`), and logs through it, so
 * every line logged is the line the default would write. Anything that changes the
 * child (`level`, `setBindings`, `child`) makes it first. A route with its own log
 * level or serializers gets the real child at once.
 */
export function deferredChildLogger (this: FastifyInstance, logger: FastifyBaseLogger, bindings: Bindings, opts: ChildLoggerOptions): FastifyBaseLogger {
  if (opts.level !== undefined || opts.serializers !== undefined || opts.redact !== undefined) return logger.child(bindings, opts)
  return new (standInFor(logger as Logger))(bindings, opts) as unknown as FastifyBaseLogger
}

type StandIn = new (bindings: Bindings, opts: ChildLoggerOptions) => Deferred

// One class per parent logger (in practice, the server's one logger).
const standIns = new WeakMap<Logger, StandIn>()

/** A class whose instances are deferred children of `parent`: a constructor gives every one the same shape. */
function standInFor (parent: Logger): StandIn {
  let StandIn = standIns.get(parent)
  if (StandIn !== undefined) return StandIn
  StandIn = function (this: Deferred, bindings: Bindings, opts: ChildLoggerOptions) {
    this[kBindings] = bindings
    this[kOptions] = opts
    this[kChild] = undefined
  } as unknown as StandIn
  StandIn.prototype = prototypeFor(parent)
  standIns.set(parent, StandIn)
  return StandIn
}

function prototypeFor (parent: Logger): object {
  const child = (deferred: Deferred): Logger => {
    deferred[kChild] ??= parent.child(deferred[kBindings], deferred[kOptions]) as Logger
    return deferred[kChild]
  }
  const current = (deferred: Deferred): Logger => deferred[kChild] ?? parent
  const methods: PropertyDescriptorMap = {
    child: { value (this: Deferred, bindings: Bindings, opts?: ChildLoggerOptions) { return child(this).child(bindings, opts) } },
    bindings: { value (this: Deferred) { return child(this).bindings() } },
    setBindings: { value (this: Deferred, bindings: Bindings) { child(this).setBindings(bindings) } },
    isLevelEnabled: { value (this: Deferred, level: string) { return current(this).isLevelEnabled(level) } },
    level: {
      get (this: Deferred) { return current(this).level },
      set (this: Deferred, level: string) { child(this).level = level }
    },
    levelVal: { get (this: Deferred) { return current(this).levelVal } }
  }
  for (const level of LEVELS) {
    methods[level] = {
      value (this: Deferred, ...args: unknown[]) {
        const made = this[kChild]
        if (made === undefined && !parent.isLevelEnabled(level)) return
        return (child(this)[level] as (...args: unknown[]) => void)(...args)
      }
    }
  }
  return Object.create(parent, methods) as object
}
