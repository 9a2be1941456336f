import { existsSync, readFileSync } from 'node:fs'
import { parseEnv } from 'node:util'

/**
 * The service's environment: the variables of a `.env` file (as the Auth0 samples keep
 * their settings), under those of the process, which win. The one place that reads
 * `process.env`; the server and both npm scripts pass the result to `loadConfig`.
 */
export function readEnvironment (file = '.env'): Record<string, string | undefined> {
  const fromFile = existsSync(file) ? parseEnv(readFileSync(file, 'utf8')) : {}
  return { ...fromFile, ...process.env }
}
