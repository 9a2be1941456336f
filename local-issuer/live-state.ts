import { readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { ADMIN_PERMISSIONS, parseState, STATE_FILE, StateFileError, type LocalClient, type LocalState, type LocalUser, type MachineClient } from './state.js'

/**
 * The users and clients of the running issuer, as state.json says now: each use
 * looks at the file's inode, size and mtime (one stat) and reads it again when
 * they changed, so what `npm run issuer` writes takes effect on the next sign-in
 * or token request, without a restart. Keys and secrets stay those of the start.
 *
 * A file that became invalid is never replaced by a silent default: every use
 * throws its StateFileError (so sign-ins and token requests fail closed, the
 * rest of the API runs on), and it is logged once until the file changes again.
 */
export class LiveState {
  readonly file: string
  #state: LocalState
  #version: string
  #broken: StateFileError | undefined
  readonly #onBroken: (error: StateFileError) => void

  constructor (dataDir: string, state: LocalState, onBroken: (error: StateFileError) => void) {
    this.file = join(dataDir, STATE_FILE)
    this.#state = state
    // Not the file's version now: a command may have changed it since `state` was read, so the first use reads it again.
    this.#version = 'as started'
    this.#onBroken = onBroken
  }

  get users (): LocalUser[] {
    return this.#current().users
  }

  userBySub (sub: string): LocalUser | undefined {
    return this.#current().users.find(user => user.sub === sub)
  }

  client (clientId: string): LocalClient | undefined {
    return this.#current().clients?.find(client => client.clientId === clientId)
  }

  machineClient (clientId: string): MachineClient | undefined {
    const client = this.client(clientId)
    return client?.kind === 'machine' ? client : undefined
  }

  /** Every permission anyone holds, and the API's own: what a sign-in may ask for. */
  permissions (): string[] {
    const state = this.#current()
    return [...new Set([
      ...ADMIN_PERMISSIONS,
      ...state.users.flatMap(user => user.permissions),
      ...(state.clients ?? []).flatMap(client => client.kind === 'machine' ? client.permissions : [])
    ])]
  }

  #current (): LocalState {
    const version = this.#stat()
    if (version !== this.#version) {
      this.#version = version
      try {
        this.#state = parseState(this.file, readFileSync(this.file, 'utf8'))
        this.#broken = undefined
      } catch (error) {
        this.#broken = error instanceof StateFileError
          ? error
          : new StateFileError(this.file, (error as NodeJS.ErrnoException).code === 'ENOENT'
            ? 'was removed while the server runs (restart it to start afresh)'
            : `cannot be read (${(error as Error).message})`)
        this.#onBroken(this.#broken)
      }
    }
    if (this.#broken !== undefined) throw this.#broken
    return this.#state
  }

  #stat (): string {
    try {
      const { ino, size, mtimeMs } = statSync(this.file)
      return `${ino}:${size}:${mtimeMs}`
    } catch (error) {
      return (error as NodeJS.ErrnoException).code ?? 'unreadable'
    }
  }
}
