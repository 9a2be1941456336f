/**
 * What a replay cache says about a proof it is asked to remember:
 * fresh (first time seen, now remembered), replayed (seen before), full (cannot
 * remember more: refuse it), unavailable (the store cannot answer now: refuse it, retry later).
 */
export type ReplayVerdict = 'fresh' | 'replayed' | 'full' | 'unavailable'

/**
 * Remembers proof ids for as long as their proof could be accepted. `remember`
 * must set-if-absent atomically: two concurrent calls with one id never both see fresh.
 * It should settle within a bounded time and never reject (a rejection counts as unavailable).
 */
export interface ReplayCache {
  /** `ttl` in ms: how long the id must be remembered. */
  remember: (id: string, ttl: number) => 'fresh' | 'replayed' | 'full' | Promise<ReplayVerdict>
}

/**
 * In memory, for one process: bounded in entries, each kept until its proof
 * could no longer be accepted. When full of live entries it answers `full`
 * (fail closed) rather than forgetting one early, which would let that proof replay.
 *
 * Ids are looked up in a Map; a ring keeps them in insertion order with their
 * expiry, and each insertion first drops the expired ones at its head. Entries
 * expire in about insertion order (every ttl is near the proof max age), so this
 * is O(1) amortised; an entry behind a longer-lived head waits for it, which only
 * ever keeps ids longer.
 */
export class MemoryReplayCache implements ReplayCache {
  readonly #max: number
  readonly #expiresAt = new Map<string, number>()
  readonly #ring: string[]
  readonly #ringExpiry: Float64Array
  #head = 0
  #filled = 0

  constructor (max: number) {
    if (!Number.isInteger(max) || max < 1) throw new Error('MemoryReplayCache: max must be an integer ≥ 1')
    this.#max = max
    this.#ring = new Array<string>(max)
    this.#ringExpiry = new Float64Array(max)
  }

  get size (): number {
    return this.#expiresAt.size
  }

  remember (id: string, ttl: number): 'fresh' | 'replayed' | 'full' {
    const now = Date.now()
    const seen = this.#expiresAt.get(id)
    if (seen !== undefined && seen > now) return 'replayed'
    this.#dropExpired(now)
    if (this.#filled === this.#max) return 'full'
    const slot = (this.#head + this.#filled++) % this.#max
    this.#ring[slot] = id
    this.#ringExpiry[slot] = now + ttl
    this.#expiresAt.set(id, now + ttl)
    return 'fresh'
  }

  #dropExpired (now: number): void {
    while (this.#filled > 0 && (this.#ringExpiry[this.#head] as number) <= now) {
      const id = this.#ring[this.#head] as string
      // An id seen again after it expired lives on in a later slot: leave it to that one.
      if ((this.#expiresAt.get(id) ?? 0) <= now) this.#expiresAt.delete(id)
      this.#head = (this.#head + 1) % this.#max
      this.#filled--
    }
  }
}
