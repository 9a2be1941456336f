/**
 * Prints an access token from a running local development issuer, over real HTTP:
 * a machine's (client_credentials), or with --user a user's, signed in through the same
 * authorization code + PKCE flow and login form a browser uses (password on the command
 * line or prompted; --totp for the second factor; --acr-values/--max-age for step-up).
 * --opaque asks for an opaque access token, which the API checks by introspection.
 * With --dpop [METHOD URL] the token is bound to a new key (DPoP, RFC 9449): it prints the
 * two headers for one call (default GET /api/messages/protected), the proof made with
 * panva's dpop. With several servers running on one data folder, --api or --port picks
 * the server (by its API's port); without them, the one started last is used and stderr
 * says so. `--help` lists the options.
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import * as DPoP from 'dpop'
import { readPassword } from './prompt.js'
import { signIn } from './sign-in.js'
// Not local-issuer/index.js: that would load oidc-provider (and its Node.js version warning) for nothing.
import { liveInstances, portOf, type IssuerInstance } from '../local-issuer/instances.js'
import { LocalClients } from '../local-issuer/issuer-info.js'
import { STATE_FILE, type LocalState } from '../local-issuer/state.js'
import { ConfigError, loadConfig, readEnvironment } from '../config/index.js'

// The server's configuration, read as the server reads it (.env too): the same LOCAL_ISSUER_DATA.
let dataDir = ''
const START = 'start the server with npm start and no ISSUER_BASE_URL or AUTH0_DOMAIN set'

const USAGE = `Prints an access token from the local development issuer of a running npm start.

Usage: npm run -s token -- [options]
  --scope "<permissions>"  ask for these permissions (space-separated), such as read:admin-messages
  --opaque                 an opaque token, which the API checks by introspection
  --dpop [METHOD URL]      a token bound to a new key (DPoP): prints the Authorization and DPoP
                           headers for one call of METHOD URL (default GET <API>/api/messages/protected)
  --api <url>, --port <n>  with several servers on one data folder, the one whose API this is
  -h, --help               this text

A user's token, signed in through the login form as a browser app would (code + PKCE):
  --user <name>            any user of the issuer (npm run issuer -- user list)
  --password <pw>          their password; without it, it is asked for (or read from the first
                           line of standard input when that is not a terminal)
  --totp <code>            the code of their authenticator app: the multi-factor acr
  --client <id>            a browser client added with npm run issuer (default ${LocalClients.browser}),
                           or a machine client with --client-secret (then no --user)
  --client-secret <s>      a machine client's secret, printed by npm run issuer -- client add
  --acr-values "<acrs>"    step-up (RFC 9470): the acr values the API's challenge asked for
  --max-age <seconds>      step-up: the most age of the sign-in the API's challenge asked for

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

/** With --dpop, the call the proof is for: METHOD and URL from the positionals, or the default. */
function dpopCall (dpop: boolean, positionals: string[]): { method: string, url: string | undefined } | undefined {
  if (!dpop) {
    if (positionals.length > 0) throw new Error(`Unexpected ${JSON.stringify(positionals.join(' '))}: a method and URL go after --dpop\n\n${USAGE}`)
    return undefined
  }
  if (positionals.length === 0) return { method: 'GET', url: undefined }
  const [method = '', url = '', ...rest] = positionals
  if (rest.length > 0 || !/^[A-Z]{1,16}$/.test(method) || !URL.canParse(url) || !/^https?:$/.test(new URL(url).protocol)) {
    throw new Error(`--dpop takes the method and URL of the call, such as --dpop GET http://localhost:6060/api/messages/admin (got ${JSON.stringify(positionals.join(' '))})`)
  }
  return { method, url }
}

/** --acr-values and --max-age, checked, as authorization request parameters. */
function stepUpParams (acrValues: string | undefined, maxAge: string | undefined): Record<string, string> {
  const params: Record<string, string> = {}
  if (acrValues !== undefined) {
    if (acrValues.trim() === '') throw new Error('--acr-values needs the acr values (space-separated) the API asked for')
    params.acr_values = acrValues.trim()
  }
  if (maxAge !== undefined) {
    if (!/^\d{1,9}$/.test(maxAge)) throw new Error(`--max-age takes whole seconds, such as 300 (got ${JSON.stringify(maxAge)})`)
    params.max_age = maxAge
  }
  return params
}

try {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      scope: { type: 'string' },
      opaque: { type: 'boolean' },
      api: { type: 'string' },
      port: { type: 'string' },
      dpop: { type: 'boolean' },
      user: { type: 'string' },
      password: { type: 'string' },
      totp: { type: 'string' },
      client: { type: 'string' },
      'client-secret': { type: 'string' },
      'acr-values': { type: 'string' },
      'max-age': { type: 'string' },
      help: { type: 'boolean', short: 'h' }
    }
  })
  if (values.help === true) {
    console.log(USAGE)
    process.exit(0)
  }
  const config = loadConfig(readEnvironment())
  dataDir = config.localIssuerData
  if (values.opaque === true && values.dpop === true) throw new Error('--opaque and --dpop do not go together: the API refuses DPoP-bound opaque tokens')
  const call = dpopCall(values.dpop === true, positionals)
  const stepUp = stepUpParams(values['acr-values'], values['max-age'])
  if (values.user === undefined) {
    for (const option of ['password', 'totp', 'acr-values', 'max-age'] as const) {
      if (values[option] !== undefined) throw new Error(`--${option} goes with --user <name>: it is about a user's sign-in`)
    }
  }
  const info = choose(liveInstances(dataDir), wantedPort(values))
  let state: LocalState
  try {
    state = JSON.parse(await readFile(join(dataDir, STATE_FILE), 'utf8')) as LocalState
  } catch {
    throw new Error(`No local issuer state in ${dataDir}/: ${START}.`)
  }
  const tokenUrl = new URL('oauth/token', info.issuer)
  // DPoP: a key of the client's own; the token request carries a proof, so the token is bound to it.
  const keypair = call === undefined ? undefined : await DPoP.generateKeyPair('ES256')
  const proofFor = keypair === undefined ? undefined : (url: string) => DPoP.generateProof(keypair, url, 'POST')
  const added = values.client === undefined ? undefined : (state.clients ?? []).find(client => client.clientId === values.client)
  if (values.client !== undefined && values.client !== LocalClients.browser && values.client !== LocalClients.machine && added === undefined) {
    throw new Error(`No client ${values.client} was added with npm run issuer (npm run issuer -- client list)`)
  }
  let body: { access_token?: string, error?: string, error_description?: string }
  if (values.user !== undefined) {
    if (values.client === LocalClients.machine || added?.kind === 'machine') throw new Error(`${values.client} is a machine client: it gets tokens without a user (leave out --user)`)
    const redirectUri = added?.kind === 'browser' ? added.redirectUris[0] as string : `${config.clientOrigin}/callback`
    const password = values.password ?? await readPassword(`Password for ${values.user}: `)
    const answering = (error: unknown) => {
      // fetch's own failures (refused, reset, timed out) say nothing to the user: say which issuer.
      throw error instanceof TypeError || (error as Error).name === 'TimeoutError'
        ? new Error(`The local issuer of ${describe(info)} (${info.issuer}) does not answer: is that npm start still running?`)
        : error
    }
    body = await signIn({
      issuer: info.issuer,
      audience: info.audience,
      clientId: added?.clientId ?? LocalClients.browser,
      redirectUri,
      username: values.user,
      password,
      ...(values.totp === undefined ? {} : { totp: values.totp }),
      scope: `openid ${values.scope ?? ''}`.trim(),
      params: { ...stepUp, ...(values.opaque === true && { token_format: 'opaque' }) },
      ...(proofFor === undefined ? {} : { dpopProof: proofFor })
    }).catch(answering)
  } else {
    if (added?.kind === 'browser' || values.client === LocalClients.browser) throw new Error(`${values.client} is a browser client: it signs a user in (add --user <name>)`)
    if (added !== undefined && values['client-secret'] === undefined) throw new Error(`--client ${added.clientId} needs --client-secret, the secret npm run issuer printed when it added the client`)
    const form = new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: added?.clientId ?? info.machineClientId,
      client_secret: added === undefined ? state.machineClientSecret : values['client-secret'] as string,
      audience: info.audience
    })
    if (values.scope !== undefined) form.set('scope', values.scope)
    if (values.opaque === true) form.set('token_format', 'opaque')
    const headers: Record<string, string> = proofFor === undefined ? {} : { dpop: await proofFor(tokenUrl.href) }
    let response: Response
    try {
      response = await fetch(tokenUrl, { method: 'POST', body: form, headers, signal: AbortSignal.timeout(10_000) })
    } catch {
      throw new Error(`The local issuer of ${describe(info)} (${info.issuer}) does not answer: is that npm start still running?`)
    }
    body = await response.json().catch(() => ({ error: `HTTP ${response.status}` })) as typeof body
  }
  if (body.access_token === undefined) {
    throw new Error(`The local issuer refused: ${body.error ?? 'no access token'}${body.error_description ? ` (${body.error_description})` : ''}`)
  }
  if (keypair === undefined || call === undefined) {
    console.log(body.access_token)
  } else {
    // One proof is good for one request, within a minute: print the call it is made for.
    const url = call.url ?? `${info.api ?? 'http://localhost:6060'}/api/messages/protected`
    console.log(`Authorization: DPoP ${body.access_token}`)
    console.log(`DPoP: ${await DPoP.generateProof(keypair, url, call.method, undefined, body.access_token)}`)
    console.error(`Send both headers with ${call.method} ${url} within 60 s; each proof is accepted once.`)
  }
} catch (error) {
  console.error(error instanceof ConfigError ? `Configuration error: ${error.message}` : (error as Error).message)
  process.exitCode = 1
}
