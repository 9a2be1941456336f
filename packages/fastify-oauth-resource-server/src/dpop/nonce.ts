import { createHmac, randomBytes } from 'node:crypto'

/**
 * Server nonces (RFC 9449 §8), rotated on a fixed period: the nonce of a period
 * is an HMAC of its number under a secret, so nothing is stored, replicas that
 * share the secret agree, and the nonce of the period before is still accepted
 * (a client that fetched it just before the turn is not refused at once).
 */
export class NonceSource {
  readonly #secret: Buffer
  readonly #rotation: number
  #period = -1
  #current = ''
  #previous = ''

  /** `rotation` in ms. */
  constructor (secret: string | undefined, rotation: number) {
    this.#secret = secret === undefined ? randomBytes(32) : Buffer.from(secret)
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
    if (period === this.#period) return
    this.#previous = period === this.#period + 1 ? this.#current : this.#nonceOf(period - 1)
    this.#current = this.#nonceOf(period)
    this.#period = period
  }

  #nonceOf (period: number): string {
    return createHmac('sha256', this.#secret).update(`dpop-nonce:${period}`).digest('base64url')
  }
}
