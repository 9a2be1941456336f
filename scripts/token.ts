/**
 * Prints an access token from a running local development issuer
 * (client_credentials over real HTTP).
 *   npm run -s token -- [--scope "read:admin-messages"] [--opaque | --dpop] [--api http://localhost:6060 | --port 6060]
 * --opaque asks for an opaque access token, which the API checks by introspection.
 * With --dpop the token is bound to a new key (DPoP, RFC 9449): it prints the two
 * headers for one call of GET /api/messages/protected, the proof made with panva's dpop.
 * With several servers running on one data folder, --api or --port picks the
 * server (by its API's port); without them, the one started last is used and
 * stderr says so.
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import * as DPoP from 'dpop'
// Not local-issuer/index.js: that would load oidc-provider (and its Node.js version warning) for nothing.
import { liveInstances, portOf, type IssuerInstance } from '../local-issuer/instances.js'
import { STATE_FILE, type LocalState } from '../local-issuer/state.js'
import { ConfigError, loadConfig, readEnvironment } from '../config/index.js'

// The server's configuration, read as the server reads it (.env too): the same LOCAL_ISSUER_DATA.
let dataDir = ''
const START = 'start the server with npm start and no ISSUER_BASE_URL or AUTH0_DOMAIN set'

const USAGE = `Prints an access token from the local development issuer of a running npm start.

Usage: npm run -s token -- [options]
  --scope "<permissions>"  ask for these permissions (space-separated), such as read:admin-messages
  --opaque                 an opaque token, which the API checks by introspection
  --dpop                   a token bound to a new key (DPoP): prints the Authorization and DPoP
                           headers for one call of GET /api/messages/protected
  --api <url>, --port <n>  with several servers on one data folder, the one whose API this is
  -h, --help               this text

The data folder is LOCAL_ISSUER_DATA (default .local-issuer), from .env or the environment, as for npm start.`

/** The API port the user asked for with --api or --port, if any. */
function wantedPort (values: { api?: string | undefined, port?: string | undefined }): number | undefined {
  if (values.api !== undefined) {
    if (!URL.canParse(values.api)) throw new Error(`--api must be the API's URL, such as http://localhost:6060 (got ${JSON.stringify(values.api)})`)
    return portOf(new URL(values.api))
  }
  if (values.port !== undefined) {
    const port = Number(values.port)
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`--port must be the API's port, such as 6060 (got ${JSON.stringify(values.port)})`)
    return port
  }
}

const describe = (instance: IssuerInstance) => instance.api ?? `the server whose issuer is ${instance.issuer}`

/** The running instance the user means; with several and no choice made, the one started last, said on stderr. */
function choose (instances: IssuerInstance[], port: number | undefined): IssuerInstance {
  if (instances.length === 0) throw new Error(`No local issuer found in ${dataDir}/: ${START}.`)
  if (port !== undefined) {
    const match = instances.find(instance => instance.api !== undefined && portOf(new URL(instance.api)) === port)
    if (match === undefined) {
      throw new Error(`No server with a local issuer serves an API on port ${port}; running: ${instances.map(describe).join(', ')}.`)
    }
    return match
  }
  const chosen = instances.at(-1)!
  if (instances.length > 1) {
    const others = instances.slice(0, -1).map(describe).join(', ')
    console.error(`Several servers run a local issuer; using ${describe(chosen)} (started last). For another, add --api <its URL>: ${others}`)
  }
  return chosen
}

try {
  const { values } = parseArgs({ options: { scope: { type: 'string' }, opaque: { type: 'boolean' }, api: { type: 'string' }, port: { type: 'string' }, dpop: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } })
  if (values.help === true) {
    console.log(USAGE)
    process.exit(0)
  }
  dataDir = loadConfig(readEnvironment()).localIssuerData
  if (values.opaque === true && values.dpop === true) throw new Error('--opaque and --dpop do not go together: the API refuses DPoP-bound opaque tokens')
  const info = choose(liveInstances(dataDir), wantedPort(values))
  let machineClientSecret: string
  try {
    ({ machineClientSecret } = JSON.parse(await readFile(join(dataDir, STATE_FILE), 'utf8')) as LocalState)
  } catch {
    throw new Error(`No local issuer state in ${dataDir}/: ${START}.`)
  }
  const form = new URLSearchParams({
    grant_type: 'client_credentials',
    client_id: info.machineClientId,
    client_secret: machineClientSecret,
    audience: info.audience
  })
  if (values.scope !== undefined) form.set('scope', values.scope)
  if (values.opaque === true) form.set('token_format', 'opaque')
  const tokenUrl = new URL('oauth/token', info.issuer)
  // DPoP: a key of the client's own; the token request carries a proof, so the token is bound to it.
  const keypair = values.dpop === true ? await DPoP.generateKeyPair('ES256') : undefined
  const headers: Record<string, string> = keypair === undefined ? {} : { dpop: await DPoP.generateProof(keypair, tokenUrl.href, 'POST') }
  let response: Response
  try {
    response = await fetch(tokenUrl, { method: 'POST', body: form, headers, signal: AbortSignal.timeout(10_000) })
  } catch {
    throw new Error(`The local issuer of ${describe(info)} (${info.issuer}) does not answer: is that npm start still running?`)
  }
  const body = await response.json().catch(() => ({})) as { access_token?: string, error?: string, error_description?: string }
  if (!response.ok || body.access_token === undefined) {
    throw new Error(`The local issuer refused: ${body.error ?? response.status}${body.error_description ? ` (${body.error_description})` : ''}`)
  }
  if (keypair === undefined) {
    console.log(body.access_token)
  } else {
    // One proof is good for one request, within a minute: print the call it is made for.
    const url = `${info.api ?? 'http://localhost:6060'}/api/messages/protected`
    console.log(`Authorization: DPoP ${body.access_token}`)
    console.log(`DPoP: ${await DPoP.generateProof(keypair, url, 'GET', undefined, body.access_token)}`)
    console.error(`Send both headers with GET ${url} within 60 s; each proof is accepted once.`)
  }
} catch (error) {
  console.error(error instanceof ConfigError ? `Configuration error: ${error.message}` : (error as Error).message)
  process.exitCode = 1
}
