import { createHmac, randomBytes } from 'node:crypto'

/**
 * Server nonces (RFC 9449 §8), rotated on a fixed period: the nonce of a period
 * is an HMAC of its number under a secret, so nothing is stored, replicas that
 * share the secret agree, and the nonce of the period before is still accepted
 * (a client that fetched it just before the turn is not refused at once).
 * The secret may be a function, for a secret replicas share through a store that
 * can change it: its answer is read on every use, and a new one takes effect at once.
 */
export class NonceSource {
  readonly #secretOf: () => string
  readonly #rotation: number
  #secret = ''
  #period = -1
  #current = ''
  #previous = ''

  /** `rotation` in ms. */
  constructor (secret: string | (() => string) | undefined, rotation: number) {
    if (typeof secret === 'function') {
      this.#secretOf = secret
    } else {
      const fixed = secret ?? randomBytes(32).toString('base64url')
      this.#secretOf = () => fixed
    }
    this.#rotation = rotation
  }

  /** The nonce to hand out now. */
  current (): string {
    this.#turn()
    return this.#current
  }

  accepts (nonce: unknown): boolean {
    this.#turn()
    return typeof nonce === 'string' && nonce.length > 0 && (nonce === this.#current || nonce === this.#previous)
  }

  #turn (): void {
    const period = Math.floor(Date.now() / this.#rotation)
    const secret = this.#secretOf()
    if (period === this.#period && secret === this.#secret) return
    this.#previous = period === this.#period + 1 && secret === this.#secret ? this.#current : this.#nonceOf(period - 1, secret)
    this.#secret = secret
    this.#current = this.#nonceOf(period, secret)
    this.#period = period
  }

  #nonceOf (period: number, secret: string): string {
    return createHmac('sha256', secret).update(`dpop-nonce:${period}`).digest('base64url')
  }
}
