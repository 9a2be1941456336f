import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { AdapterPayload } from 'oidc-provider'
import { writeFileAtomically } from './atomic-file.js'

export interface Stored {
  payload: AdapterPayload
  expiresAt: number | undefined
}

export const CLIENTS_FILE = 'registered-clients.json'

/**
 * The dynamically registered clients, in memory and in a JSON file of the data
 * folder so they survive a restart. Writes leave the request path: a change
 * schedules one, at most one is in flight, and the one after it writes the
 * latest state, so a burst of registrations costs a few writes, not one each,
 * and each is atomic.
 */
export class ClientStore {
  readonly entries: Map<string, Stored>
  readonly #file: string
  readonly #onError: (error: unknown) => void
  #dirty = false
  #writing: Promise<void> | undefined

  constructor (dataDir: string, onError: (error: unknown) => void) {
    this.#file = join(dataDir, CLIENTS_FILE)
    this.#onError = onError
    this.entries = readClients(this.#file)
  }

  /** Schedules a write of the current state. */
  changed (): void {
    this.#dirty = true
    this.#writing ??= this.#drain()
  }

  /** Resolves once every change so far is on disk (or failed and was reported). */
  async flush (): Promise<void> {
    while (this.#writing !== undefined) await this.#writing
  }

  async #drain (): Promise<void> {
    // Let the response that made the change go first.
    await new Promise(resolve => setImmediate(resolve))
    try {
      while (this.#dirty) {
        this.#dirty = false
        await writeFileAtomically(this.#file, JSON.stringify(Object.fromEntries(this.entries)))
      }
    } catch (error) {
      this.#onError(error)
    } finally {
      this.#writing = undefined
    }
  }
}

function readClients (file: string): Map<string, Stored> {
  try {
    const parsed: unknown = JSON.parse(readFileSync(file, 'utf8'))
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return new Map()
    return new Map(Object.entries(parsed as Record<string, Stored>))
  } catch {
    return new Map()
  }
}
