import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Adapter, AdapterConstructor, AdapterPayload } from 'oidc-provider'

interface Stored {
  payload: AdapterPayload
  expiresAt: number | undefined
}

// Sessions, codes and tokens are for one run; an unbounded folder of them is not wanted.
const MAX_ENTRIES_PER_MODEL = 10_000

/**
 * oidc-provider storage: memory for everything, and a JSON file for clients
 * registered dynamically (RFC 7591), so they survive a restart as the default
 * clients do.
 */
export function createAdapterClass (dataDir: string): AdapterConstructor {
  const clientsFile = join(dataDir, 'registered-clients.json')
  const models = new Map<string, Map<string, Stored>>()

  return class LocalAdapter implements Adapter {
    readonly #model: string
    readonly #entries: Map<string, Stored>

    constructor (model: string) {
      this.#model = model
      let entries = models.get(model)
      if (entries === undefined) {
        entries = model === 'Client' ? readClients(clientsFile) : new Map()
        models.set(model, entries)
      }
      this.#entries = entries
    }

    async upsert (id: string, payload: AdapterPayload, expiresIn: number): Promise<void> {
      if (this.#entries.size >= MAX_ENTRIES_PER_MODEL && !this.#entries.has(id)) {
        this.#entries.delete(this.#entries.keys().next().value as string)
      }
      this.#entries.set(id, { payload, expiresAt: expiresIn ? Date.now() + expiresIn * 1000 : undefined })
      if (this.#model === 'Client') writeClients(clientsFile, this.#entries)
    }

    async find (id: string): Promise<AdapterPayload | undefined> {
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
      if (this.#model === 'Client') writeClients(clientsFile, this.#entries)
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

function readClients (file: string): Map<string, Stored> {
  try {
    return new Map(Object.entries(JSON.parse(readFileSync(file, 'utf8')) as Record<string, Stored>))
  } catch {
    return new Map()
  }
}

function writeClients (file: string, entries: Map<string, Stored>): void {
  writeFileSync(file, JSON.stringify(Object.fromEntries(entries), null, 2), { mode: 0o600 })
}
