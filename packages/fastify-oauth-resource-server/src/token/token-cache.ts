import { hash } from 'node:crypto'
import { CACHE_HIT, CACHE_MISS, channels } from '../diagnostics/channels.js'
import type { KeyRecord } from '../keys/key-store.js'
import type { AccessTokenClaims } from '../types.js'
import { Doorkeeper } from './doorkeeper.js'

interface Entry {
  claims: AccessTokenClaims
  expiresAt: number
  key: KeyRecord
  /** Set by a hit; spares the entry once when it comes up for eviction (second chance). */
  used: boolean
}

// How many spared entries one insertion may walk past before it evicts regardless.
const MAX_EVICTION_PROBES = 4

// The doorkeeper's slots: a power of two about twice the cache's size, within these bounds
// (4 bytes a slot, so at most 256 KiB).
const MIN_DOORKEEPER_SLOTS = 1024
const MAX_DOORKEEPER_SLOTS = 65_536

/**
 * Verified tokens, keyed by a SHA-256 of the whole token; an entry lives exactly
 * as long as a fresh check would accept the token (exp plus the clock tolerance)
 * and never outlives the key that verified it. Only successes are stored, so bad
 * tokens cannot grow it, and nothing already expired is stored.
 *
 * A token is stored the second time it verifies, not the first (TinyLFU's doorkeeper,
 * doorkeeper.ts): most tokens that are seen once are never seen again, and their
 * entries cost an insertion, an eviction and garbage for nothing. A flood of new tokens
 * then leaves the cached entries alone.
 *
 * The Map is only ever read and written by key. V8 leaves a tombstone for each
 * delete until it rehashes, so a textbook LRU (delete + set on every hit) made a
 * hot token's lookups walk a chain of its own tombstones, and evicting through
 * `entries().next()` walked every tombstone at the front, on every insertion.
 * Instead a hit sets a flag, and a ring of
 * ids in insertion order says what to evict, sparing used entries once.
 */
export class TokenCache {
  readonly #max: number
  readonly #clockTolerance: number
  readonly #entries = new Map<string, Entry>()
  readonly #ring: string[]
  #head = 0
  #filled = 0
  /** Tokens that verified once lately; undefined while caching is off. */
  readonly #doorkeeper: Doorkeeper | undefined

  /** `clockTolerance` in ms, as the verifier applies it to exp. */
  constructor (max: number, clockTolerance: number) {
    this.#max = max
    this.#clockTolerance = clockTolerance
    this.#ring = new Array<string>(max)
    this.#doorkeeper = max === 0 ? undefined : new Doorkeeper(Math.min(MAX_DOORKEEPER_SLOTS, Math.max(MIN_DOORKEEPER_SLOTS, 2 ** Math.ceil(Math.log2(2 * max)))))
  }

  get size (): number {
    return this.#entries.size
  }

  /** The cache id of a token; undefined when caching is off. */
  idOf (token: string): string | undefined {
    return this.#max === 0 ? undefined : hash('sha256', token, 'base64')
  }

  get (id: string): AccessTokenClaims | undefined {
    const entry = this.#entries.get(id)
    if (entry === undefined) return this.#miss()
    if (Date.now() > entry.expiresAt) {
      this.#entries.delete(id)
      return this.#miss()
    }
    entry.used = true
    if (channels.tokenCache.hasSubscribers) channels.tokenCache.publish(CACHE_HIT)
    return entry.claims
  }

  #miss (): undefined {
    if (channels.tokenCache.hasSubscribers) channels.tokenCache.publish(CACHE_MISS)
  }

  /** A token that verified: stored if it verified before (see the doorkeeper), else remembered as seen once. */
  set (id: string, claims: AccessTokenClaims, key: KeyRecord): void {
    // fast-jwt accepts exp while now ≤ exp + tolerance; past that, a fresh check refuses it too.
    const expiresAt = claims.exp * 1000 + this.#clockTolerance
    if (Date.now() > expiresAt) return
    if (this.#doorkeeper?.seenBefore(id) !== true) return
    if (this.#filled < this.#max) {
      this.#ring[(this.#head + this.#filled++) % this.#max] = id
    } else {
      this.#replaceOldest(id)
    }
    this.#entries.set(id, { claims, expiresAt, key, used: false })
  }

  dropKey (key: KeyRecord): void {
    for (const [id, entry] of this.#entries) {
      if (entry.key === key) this.#entries.delete(id)
    }
  }

  /** Puts id in the oldest slot whose entry is gone or unused, walking past at most a few used ones. */
  #replaceOldest (id: string): void {
    for (let probe = 0; ; probe++) {
      const oldest = this.#ring[this.#head] as string
      const entry = this.#entries.get(oldest)
      if (entry?.used === true && probe < MAX_EVICTION_PROBES) {
        entry.used = false
      } else {
        // A slot whose entry expired or left with its key is simply reused.
        if (entry !== undefined) this.#entries.delete(oldest)
        this.#ring[this.#head] = id
        this.#head = (this.#head + 1) % this.#max
        return
      }
      this.#head = (this.#head + 1) % this.#max
    }
  }
}
