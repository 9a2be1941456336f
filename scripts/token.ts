/**
 * Prints an access token from the running local development issuer
 * (client_credentials over real HTTP).
 *   npm run -s token -- [--scope "read:admin-messages"]
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
// Not local-issuer/index.js: that would load oidc-provider (and its Node.js version warning) for nothing.
import { DEFAULT_DATA_DIR, ISSUER_INFO_FILE, type IssuerInfo } from '../local-issuer/issuer-info.js'
import { STATE_FILE, type LocalState } from '../local-issuer/state.js'

const { values } = parseArgs({ options: { scope: { type: 'string' } } })
const dataDir = process.env.LOCAL_ISSUER_DATA || DEFAULT_DATA_DIR

async function readJson<T> (file: string): Promise<T> {
  try {
    return JSON.parse(await readFile(join(dataDir, file), 'utf8')) as T
  } catch {
    throw new Error(`No local issuer found in ${dataDir}/: start the server with npm start and no ISSUER_BASE_URL or AUTH0_DOMAIN set.`)
  }
}

try {
  const info = await readJson<IssuerInfo>(ISSUER_INFO_FILE)
  const { machineClientSecret } = await readJson<LocalState>(STATE_FILE)
  const form = new URLSearchParams({
    grant_type: 'client_credentials',
    client_id: info.machineClientId,
    client_secret: machineClientSecret,
    audience: info.audience
  })
  if (values.scope !== undefined) form.set('scope', values.scope)
  let response: Response
  try {
    response = await fetch(new URL('oauth/token', info.issuer), { method: 'POST', body: form, signal: AbortSignal.timeout(10_000) })
  } catch {
    throw new Error(`The local issuer at ${info.issuer} does not answer: is npm start running?`)
  }
  const body = await response.json() as { access_token?: string, error?: string, error_description?: string }
  if (!response.ok || body.access_token === undefined) {
    throw new Error(`The local issuer refused: ${body.error ?? response.status}${body.error_description ? ` (${body.error_description})` : ''}`)
  }
  console.log(body.access_token)
} catch (error) {
  console.error((error as Error).message)
  process.exitCode = 1
}
