import { randomBytes } from 'node:crypto'
import { open, readFile, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { isRunning } from './instances.js'

export const LOCK_FILE = 'state.json.lock'
/** A lock held longer than this by one running process is reported, not broken. */
const WAIT_MS = 10_000
const RETRY_MS = 15
/** A lock file whose process is gone is broken only once it is this old (its writer may still be writing the pid). */
const STALE_MS = 2_000

/**
 * Runs `change` while holding the data folder's state lock: a file created with
 * O_EXCL (`wx`) holding the holder's pid and a nonce, removed when done. Every
 * read-modify-write of state.json (each `npm run issuer` command, the first
 * start) happens under it, so two at once never lose an update. A lock left by
 * a process that died is broken once it is a little old; one held by a running
 * process is waited for, then reported.
 */
export async function withStateLock<T> (dataDir: string, change: () => Promise<T>): Promise<T> {
  const lock = join(dataDir, LOCK_FILE)
  const mine = `${process.pid} ${randomBytes(8).toString('hex')}`
  // The wait is measured per holder: commands queued behind each other each hold the lock
  // briefly, and their sum (long on a loaded machine) is no sign of a stuck one.
  let waitingOn: string | undefined
  let deadline = Date.now() + WAIT_MS
  for (;;) {
    try {
      const handle = await open(lock, 'wx', 0o600)
      try {
        await handle.writeFile(mine)
      } finally {
        await handle.close()
      }
      break
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
    }
    const holder = await readFile(lock, 'utf8').catch(() => undefined)
    if (holder !== undefined && await isStale(lock, holder)) {
      await breakLock(lock, holder)
      continue
    }
    if (holder !== waitingOn) {
      waitingOn = holder
      deadline = Date.now() + WAIT_MS
    } else if (Date.now() > deadline) {
      throw new Error(`Another issuer command (pid ${holder?.split(' ')[0] ?? 'unknown'}) has held ${lock} for over ${WAIT_MS / 1000} s; ` +
        'if no npm run issuer command or first start is running, delete that file')
    }
    await sleep(RETRY_MS)
  }
  try {
    return await change()
  } finally {
    // Only our own lock: never one another process took after ours was (wrongly) broken.
    if (await readFile(lock, 'utf8').catch(() => undefined) === mine) await rm(lock, { force: true })
  }
}

async function isStale (lock: string, holder: string): Promise<boolean> {
  const pid = Number(holder.split(' ')[0])
  if (Number.isSafeInteger(pid) && pid > 0 && isRunning(pid)) return false
  const age = await stat(lock).then(s => Date.now() - s.mtimeMs, () => 0)
  return age > STALE_MS
}

/**
 * Removes a dead process's lock. Breakers take turns under a second O_EXCL file
 * and re-read the lock first, so one never removes the fresh lock another has
 * just taken in its place.
 */
async function breakLock (lock: string, holder: string): Promise<void> {
  const breaking = `${lock}.break`
  try {
    await (await open(breaking, 'wx', 0o600)).close()
  } catch {
    // Another process is breaking it; a break file left by a crash is itself removed once old.
    const age = await stat(breaking).then(s => Date.now() - s.mtimeMs, () => 0)
    if (age > STALE_MS) await rm(breaking, { force: true })
    return sleep(RETRY_MS)
  }
  try {
    if (await readFile(lock, 'utf8').catch(() => undefined) === holder) await rm(lock, { force: true })
  } finally {
    await rm(breaking, { force: true })
  }
}
