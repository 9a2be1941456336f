import { randomBytes } from 'node:crypto'
import type { Redis } from 'ioredis'

/** Where replicas keep the DPoP nonce secret they share (in the replay cache's hash slot). */
export const NONCE_SECRET_KEY = '{dpop}:nonce-secret'
// How often a replica reads it again: replicas agree again this soon after Redis lost it.
const REFRESH_MS = 10_000

export interface SharedNonceSecret {
  /** The secret nonces are derived from now (for the plugin's `dpop.nonce.secret`). */
  current: () => string
  /** Stores this replica's secret unless Redis has one, then takes the one Redis has. Never rejects. */
  refresh: () => Promise<void>
  /** Stops refreshing. */
  close: () => void
}

/**
 * The nonce secret every replica on one Redis shares, so that a nonce one replica
 * hands out is accepted by all: the first replica's random secret, stored with SET NX
 * (no expiry) and read by the others. Read again every REFRESH_MS and on every
 * reconnection: if Redis lost it (restart, flush), the first replica to notice stores
 * its own, which is the one the others had too, and a replica started meanwhile with
 * another one takes it at its next refresh. While Redis cannot be reached, a replica
 * keeps the secret it has.
 */
export function createSharedNonceSecret (client: Redis): SharedNonceSecret {
  let secret = randomBytes(32).toString('base64url')

  async function refresh (): Promise<void> {
    try {
      await client.set(NONCE_SECRET_KEY, secret, 'NX')
      const shared = await client.get(NONCE_SECRET_KEY)
      if (typeof shared === 'string' && shared.length >= 16) secret = shared
    } catch {}
  }

  const onReady = () => { refresh().catch(() => {}) }
  client.on('ready', onReady)
  const timer = setInterval(onReady, REFRESH_MS).unref()
  return {
    current: () => secret,
    refresh,
    close () {
      clearInterval(timer)
      client.off('ready', onReady)
    }
  }
}
