/**
 * What a replay cache says about a proof it is asked to remember:
 * fresh (first time seen, now remembered), replayed (seen before), full (cannot
 * remember more: refuse it), keyFull (this proof's key holds its whole share of the
 * cache: refuse this key's proofs, others still fit), reset (the store lost what it
 * remembered after this proof could have been accepted: refuse it, a new proof is
 * taken), unavailable (the store cannot answer now: refuse it, retry later).
 */
export type ReplayVerdict = 'fresh' | 'replayed' | 'full' | 'keyFull' | 'reset' | 'unavailable'

/**
 * Remembers proof ids for as long as their proof could be accepted. `remember`
 * must set-if-absent atomically: two concurrent calls with one id never both see fresh.
 * It should settle within a bounded time and never reject (a rejection counts as unavailable).
 */
export interface ReplayCache {
  /**
   * `ttl` in ms: how long the id must be remembered. `jkt`: the proof key's RFC 7638
   * thumbprint, so that a cache can bound what one key holds. `acceptableFrom`, in ms
   * since the epoch: the earliest moment a server could have accepted this proof (its
   * `iat` minus the clock tolerance); a store that lost its memory at T must answer
   * `reset` for every proof with `acceptableFrom` ≤ T, since it may have been accepted before.
   */
  remember: (id: string, ttl: number, jkt: string, acceptableFrom: number) => 'fresh' | 'replayed' | 'full' | 'keyFull' | Promise<ReplayVerdict>
  /**
   * Called once as the server starts (onReady), if present: a shared store checks now
   * whether it lost its memory, rather than at the first proof. Should settle within a
   * bounded time; a failure is ignored (the first proof checks again).
   */
  ready?: () => Promise<unknown>
}

/** One key's default share of a cache: a tenth, so that no key alone can fill it. */
export const defaultPerKey = (size: number): number => Math.max(1, Math.floor(size / 10))

/**
 * In memory, for one process: bounded in entries, each kept until its proof
 * could no longer be accepted. When full of live entries it answers `full`
 * (fail closed) rather than forgetting one early, which would let that proof replay;
 * and one key holds at most `perKey` live entries, past which its own proofs get
 * `keyFull`: one client with one key cannot fill the cache and lock every other out.
 *
 * Ids are looked up in a Map; a ring keeps them in insertion order with their
 * expiry and key, and each insertion first drops the expired ones at its head. Entries
 * expire in about insertion order (every ttl is near the proof max age), so this
 * is O(1) amortised; an entry behind a longer-lived head waits for it (and still
 * counts towards its key's share), which only ever keeps ids longer.
 */
export class MemoryReplayCache implements ReplayCache {
  readonly #max: number
  readonly #perKey: number
  readonly #expiresAt = new Map<string, number>()
  /** Live entries per key; a key leaves when it holds none. */
  readonly #held = new Map<string, number>()
  readonly #ring: string[]
  readonly #ringKey: Array<string | undefined>
  readonly #ringExpiry: Float64Array
  #head = 0
  #filled = 0

  /** `perKey`: most live entries one key may hold; default a tenth of `max`. */
  constructor (max: number, perKey = defaultPerKey(max)) {
    if (!Number.isInteger(max) || max < 1) throw new Error('MemoryReplayCache: max must be an integer ≥ 1')
    if (!Number.isInteger(perKey) || perKey < 1 || perKey > max) throw new Error('MemoryReplayCache: perKey must be an integer from 1 to max')
    this.#max = max
    this.#perKey = perKey
    this.#ring = new Array<string>(max)
    this.#ringKey = new Array<string | undefined>(max)
    this.#ringExpiry = new Float64Array(max)
  }

  get size (): number {
    return this.#expiresAt.size
  }

  /** Live entries `jkt` holds. */
  heldBy (jkt: string): number {
    return this.#held.get(jkt) ?? 0
  }

  // A process that restarts forgets with it: acceptableFrom is for shared stores, which can forget while the servers run.
  remember (id: string, ttl: number, jkt?: string): 'fresh' | 'replayed' | 'full' | 'keyFull' {
    const now = Date.now()
    const seen = this.#expiresAt.get(id)
    if (seen !== undefined && seen > now) return 'replayed'
    this.#dropExpired(now)
    if (this.#filled === this.#max) return 'full'
    if (jkt !== undefined) {
      const held = this.#held.get(jkt) ?? 0
      if (held >= this.#perKey) return 'keyFull'
      this.#held.set(jkt, held + 1)
    }
    const slot = (this.#head + this.#filled++) % this.#max
    this.#ring[slot] = id
    this.#ringKey[slot] = jkt
    this.#ringExpiry[slot] = now + ttl
    this.#expiresAt.set(id, now + ttl)
    return 'fresh'
  }

  #dropExpired (now: number): void {
    while (this.#filled > 0 && (this.#ringExpiry[this.#head] as number) <= now) {
      const id = this.#ring[this.#head] as string
      // An id seen again after it expired lives on in a later slot: leave it to that one.
      if ((this.#expiresAt.get(id) ?? 0) <= now) this.#expiresAt.delete(id)
      const jkt = this.#ringKey[this.#head]
      if (jkt !== undefined) {
        const held = (this.#held.get(jkt) as number) - 1
        if (held === 0) this.#held.delete(jkt)
        else this.#held.set(jkt, held)
        this.#ringKey[this.#head] = undefined
      }
      this.#head = (this.#head + 1) % this.#max
      this.#filled--
    }
  }
}
