interface Entry<T> {
  value: T
  expiresAt: number
}

/**
 * Introspection results by token hash, each until its own expiry, at most `max`
 * of them: past that, the oldest inserted leaves. Expired entries leave when read.
 */
export class ResultCache<T> {
  readonly #max: number
  readonly #entries = new Map<string, Entry<T>>()

  constructor (max: number) {
    this.#max = max
  }

  get size (): number {
    return this.#entries.size
  }

  get (id: string): T | undefined {
    const entry = this.#entries.get(id)
    if (entry === undefined) return
    if (Date.now() >= entry.expiresAt) {
      this.#entries.delete(id)
      return
    }
    return entry.value
  }

  set (id: string, value: T, expiresAt: number): void {
    if (this.#max === 0 || expiresAt <= Date.now()) return
    this.#entries.delete(id)
    if (this.#entries.size >= this.#max) {
      const oldest = this.#entries.keys().next()
      if (oldest.done !== true) this.#entries.delete(oldest.value)
    }
    this.#entries.set(id, { value, expiresAt })
  }
}
