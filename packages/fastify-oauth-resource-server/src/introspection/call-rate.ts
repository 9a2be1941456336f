/**
 * A token bucket: on average at most `perSecond` calls a second, and a burst of one
 * second's worth (at least one call). Two numbers whatever the traffic, O(1) a call.
 * `now` is in ms and must not go backwards (performance.now by default).
 */
export class CallRate {
  readonly #perMs: number
  readonly #capacity: number
  readonly #now: () => number
  #available: number
  #updatedAt: number

  constructor (perSecond: number, now: () => number = () => performance.now()) {
    this.#perMs = perSecond / 1000
    this.#capacity = Math.max(1, perSecond)
    this.#now = now
    this.#available = this.#capacity
    this.#updatedAt = now()
  }

  /** Takes one call's worth; false when none is left (and nothing is taken). */
  take (): boolean {
    const now = this.#now()
    this.#available = Math.min(this.#capacity, this.#available + (now - this.#updatedAt) * this.#perMs)
    this.#updatedAt = now
    if (this.#available < 1) return false
    this.#available--
    return true
  }

  /** Whole seconds until one call's worth is back: at least 1, for a Retry-After. */
  retryAfterSeconds (): number {
    // Whole ms first: float error must not turn 6 s into 7.
    return Math.max(1, Math.ceil(Math.round((1 - this.#available) / this.#perMs) / 1000))
  }
}
