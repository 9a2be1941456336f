// Fingerprints per bucket: a token's first sighting stays until four later ones land in its bucket.
const WAYS = 4

// Base64 digit values by character code: a cache id is a base64 SHA-256, so its digits are uniform bits.
const DIGITS = new Uint8Array(128)
for (const [value, char] of [...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'].entries()) DIGITS[char.charCodeAt(0)] = value

/** 30 bits of a cache id, from its five base64 digits at `from`. */
function bitsOf (id: string, from: number): number {
  let bits = 0
  for (let i = from; i < from + 5; i++) bits = (bits << 6) | (DIGITS[id.charCodeAt(i)] as number)
  return bits
}

/**
 * The token cache's doorkeeper (as in TinyLFU): which tokens were seen once lately, in a
 * fixed table of 30-bit fingerprints of their cache ids, grouped in buckets of four. A
 * first sighting writes the fingerprint into its bucket (into a free way, or over the
 * bucket's oldest); a second that finds it there clears it and says so. Bounded whatever
 * comes: a flood of new ids only overwrites fingerprints, so a token whose first sighting
 * was crowded out needs one sighting more; a fingerprint that matches by chance only
 * admits a token one sighting early.
 */
export class Doorkeeper {
  /** Fingerprint + 1 per way; 0 for a free way. */
  readonly #prints: Uint32Array
  /** Per bucket, the way a new fingerprint overwrites when none is free (oldest first). */
  readonly #next: Uint8Array
  readonly #bucketMask: number

  /** `slots`: a power of two, at least WAYS. */
  constructor (slots: number) {
    this.#prints = new Uint32Array(slots)
    this.#next = new Uint8Array(slots / WAYS)
    this.#bucketMask = slots / WAYS - 1
  }

  /** Whether `id` was seen before (it is forgotten then); if not, it is remembered. */
  seenBefore (id: string): boolean {
    const prints = this.#prints
    const bucket = bitsOf(id, 0) & this.#bucketMask
    const base = bucket * WAYS
    const print = bitsOf(id, 5) + 1
    let free = -1
    for (let way = base; way < base + WAYS; way++) {
      if (prints[way] === print) {
        prints[way] = 0
        return true
      }
      if (free === -1 && prints[way] === 0) free = way
    }
    if (free === -1) {
      const oldest = this.#next[bucket] as number
      free = base + oldest
      this.#next[bucket] = (oldest + 1) % WAYS
    }
    prints[free] = print
    return false
  }
}
