import { errors, type Adapter, type AdapterConstructor, type AdapterPayload } from 'oidc-provider'
import { addedClientMetadata } from './added-clients.js'
import type { ClientStore, Stored } from './client-store.js'
import type { LiveState } from './live-state.js'
import { RegistrationPolicy } from './registration.js'

// Sessions, codes and tokens are for one run; an unbounded folder of them is not wanted.
const MAX_ENTRIES_PER_MODEL = 10_000

/**
 * oidc-provider storage: memory for everything, and a JSON file for clients
 * registered dynamically (RFC 7591), so they survive a restart as the default
 * clients do. Registered clients are capped in number; past the cap,
 * registration is refused rather than forgetting a client someone uses.
 * Clients added with `npm run issuer` come from state.json as it is now, before
 * any registered client: removing one there refuses it at once.
 */
export function createAdapterClass (clients: ClientStore, live: LiveState): AdapterConstructor {
  const models = new Map<string, Map<string, Stored>>()

  return class LocalAdapter implements Adapter {
    readonly #model: string
    readonly #entries: Map<string, Stored>

    constructor (model: string) {
      this.#model = model
      let entries = models.get(model)
      if (entries === undefined) {
        entries = model === 'Client' ? clients.entries : new Map()
        models.set(model, entries)
      }
      this.#entries = entries
    }

    async upsert (id: string, payload: AdapterPayload, expiresIn: number): Promise<void> {
      if (this.#model === 'Client' && this.#entries.size >= RegistrationPolicy.maxClients && !this.#entries.has(id)) {
        throw new errors.InvalidRequest(`this local issuer already holds ${RegistrationPolicy.maxClients} registered clients, its limit; ` +
          'delete registered-clients.json in its data folder to start afresh', 403)
      }
      if (this.#entries.size >= MAX_ENTRIES_PER_MODEL && !this.#entries.has(id)) {
        this.#entries.delete(this.#entries.keys().next().value as string)
      }
      this.#entries.set(id, { payload, expiresAt: expiresIn ? Date.now() + expiresIn * 1000 : undefined })
      if (this.#model === 'Client') clients.changed()
    }

    async find (id: string): Promise<AdapterPayload | undefined> {
      if (this.#model === 'Client') {
        const added = live.client(id)
        if (added !== undefined) return addedClientMetadata(added)
      }
      const stored = this.#entries.get(id)
      if (stored === undefined) return
      if (stored.expiresAt !== undefined && stored.expiresAt <= Date.now()) {
        this.#entries.delete(id)
        return
      }
      return stored.payload
    }

    async findByUserCode (userCode: string): Promise<AdapterPayload | undefined> {
      return this.#findBy(payload => payload.userCode === userCode)
    }

    async findByUid (uid: string): Promise<AdapterPayload | undefined> {
      return this.#findBy(payload => payload.uid === uid)
    }

    async consume (id: string): Promise<void> {
      const stored = this.#entries.get(id)
      if (stored !== undefined) stored.payload.consumed = Math.floor(Date.now() / 1000)
    }

    async destroy (id: string): Promise<void> {
      this.#entries.delete(id)
      if (this.#model === 'Client') clients.changed()
    }

    async revokeByGrantId (grantId: string): Promise<void> {
      for (const [id, stored] of this.#entries) {
        if (stored.payload.grantId === grantId) this.#entries.delete(id)
      }
    }

    async #findBy (matches: (payload: AdapterPayload) => boolean): Promise<AdapterPayload | undefined> {
      for (const [id, stored] of this.#entries) {
        if (matches(stored.payload)) return this.find(id)
      }
    }
  }
}
