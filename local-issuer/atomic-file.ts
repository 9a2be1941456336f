import { randomBytes } from 'node:crypto'
import { renameSync, rmSync, writeFileSync } from 'node:fs'
import { rename, rm, writeFile } from 'node:fs/promises'

// Both write the file whole or not at all: a fresh temporary file beside it (mode 0600)
// renamed over it, so no reader ever sees it half written.

const temporaryFor = (file: string) => `${file}.${randomBytes(6).toString('hex')}.tmp`

export async function writeFileAtomically (file: string, text: string): Promise<void> {
  const temporary = temporaryFor(file)
  try {
    await writeFile(temporary, text, { mode: 0o600, flag: 'wx' })
    await rename(temporary, file)
  } catch (error) {
    await rm(temporary, { force: true })
    throw error
  }
}

/** For a read-modify-write that must not interleave with another in the same process. */
export function writeFileAtomicallySync (file: string, text: string): void {
  const temporary = temporaryFor(file)
  try {
    writeFileSync(temporary, text, { mode: 0o600, flag: 'wx' })
    renameSync(temporary, file)
  } catch (error) {
    rmSync(temporary, { force: true })
    throw error
  }
}
