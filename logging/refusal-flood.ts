/** Refusals of one reason written one line each within a second; past it, they are counted. */
export const REFUSAL_LINES_PER_SECOND = 10

// Reasons are the plugin's fixed codes; a bound all the same, so that memory stays bounded whatever comes.
const MAX_REASONS = 64
const OTHER = 'other'

/** The refusals of one reason in one second that were counted, not written. */
export interface RefusalCount {
  reason: string
  count: number
  /** The second's start, in ms since the epoch. */
  second: number
}

/**
 * Turns a flood of refusals into one line per reason per second: the first
 * REFUSAL_LINES_PER_SECOND of a reason in a second are written in full, the rest of
 * that second only counted, and the count is written once the second is over. Holds
 * one counter per reason seen in the current second, at most MAX_REASONS of them.
 */
export class RefusalFlood {
  readonly #linesPerSecond: number
  readonly #counts = new Map<string, number>()
  #second = 0

  constructor (linesPerSecond = REFUSAL_LINES_PER_SECOND) {
    this.#linesPerSecond = linesPerSecond
  }

  /** The counts of the second that ended, once `nowMs` is past it (each reason once); the counters start afresh. */
  roll (nowMs: number): RefusalCount[] {
    const second = nowMs - (nowMs % 1000)
    if (second === this.#second) return []
    const ended = this.drain()
    this.#second = second
    return ended
  }

  /** Whether this refusal is written in full (call `roll` first, with the same time). */
  admit (reason: string): boolean {
    const key = this.#counts.has(reason) || this.#counts.size < MAX_REASONS ? reason : OTHER
    const count = (this.#counts.get(key) ?? 0) + 1
    this.#counts.set(key, count)
    return count <= this.#linesPerSecond
  }

  /** The counts not written yet, now (on close); the counters start afresh. */
  drain (): RefusalCount[] {
    const ended: RefusalCount[] = []
    for (const [reason, count] of this.#counts) {
      if (count > this.#linesPerSecond) ended.push({ reason, count: count - this.#linesPerSecond, second: this.#second })
    }
    this.#counts.clear()
    return ended
  }
}
