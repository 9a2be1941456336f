import { hash } from 'node:crypto'
import type { KeyRecord } from './jwks.js'
import type { AccessTokenClaims } from './types.js'

interface Entry {
  claims: AccessTokenClaims
  expiresAt: number
  key: KeyRecord
}

/**
 * Verified tokens, least recently used first out. Keyed by a SHA-256 of the whole
 * token; an entry never outlives the token's exp or the key that verified it.
 * Only successes are stored, so bad tokens cannot grow it.
 */
export class TokenCache {
  readonly #max: number
  readonly #entries = new Map<string, Entry>()

  constructor (max: number) {
    this.#max = max
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
    if (entry === undefined) return
    this.#entries.delete(id)
    if (Date.now() >= entry.expiresAt || entry.key.retired) return
    this.#entries.set(id, entry)
    return entry.claims
  }

  set (id: string, claims: AccessTokenClaims, key: KeyRecord): void {
    if (this.#entries.size >= this.#max) {
      this.#entries.delete(this.#entries.keys().next().value as string)
    }
    this.#entries.set(id, { claims, expiresAt: claims.exp * 1000, key })
  }

  dropKey (key: KeyRecord): void {
    for (const [id, entry] of this.#entries) {
      if (entry.key === key) this.#entries.delete(id)
    }
  }
}
