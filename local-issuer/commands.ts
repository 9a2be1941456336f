import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { CLIENTS_FILE } from './client-store.js'
import { liveInstances } from './instances.js'
import { LocalAcr, LocalClients } from './issuer-info.js'
import { createTotpSecret, totpUri } from './totp.js'
import {
  ADMIN_PERMISSIONS, changeState, createUser, generateSecret, hashSecret, NAME_PATTERN, PERMISSION_PATTERN, readState, RESERVED_SCOPES,
  STATE_FILE, type FirstStartSecrets, type LocalState, type LocalUser, type MachineClient
} from './state.js'

/**
 * `npm run issuer -- <command>`: shapes the local issuer's users, permissions
 * and clients in its data folder. Each change is one read-modify-write of
 * state.json under the state lock; a running server reads the file again on
 * its next sign-in or token request.
 */

export const USAGE = `Usage: npm run issuer -- <command>

  user add <username> [--permission <p>]... [--password <pw> | --password-stdin]
                                   a user; without a password, one is generated and printed once
  user list                        users and their permissions
  user remove <username>
  user password <username> [--password <pw> | --password-stdin]
                                   a new password (generated and printed once without one)
  user totp <username> [--off]     a second factor: a new TOTP secret for an authenticator app,
                                   printed once (--off: password only again)
  permission grant <username> <permission>...
  permission revoke <username> <permission>...
  permission grant|revoke --client <client-id> <permission>...
                                   the same for a machine client
  client add <client-id> --browser --redirect-uri <url> [--redirect-uri <url>]...
                                   a browser app: public, authorization code + PKCE
  client add <client-id> --machine [--permission <p>]...
                                   a backend: client_credentials; its secret is printed once
  client list
  client remove <client-id>

A sign-in with a TOTP code gets acr ${LocalAcr.totp},
a password alone ${LocalAcr.password} (step-up: docs/local-issuer.md).
Permissions are any scope-like names: the API's own (${ADMIN_PERMISSIONS.join(', ')}) or your routes'.
State: LOCAL_ISSUER_DATA (default .local-issuer/), file ${STATE_FILE}. A running server
uses each change from its next sign-in or token request; tokens already issued keep
what they carry until they expire (an hour).`

export interface CommandIo {
  dataDir: string
  out: (text: string) => void
  /** The whole of standard input, for --password-stdin. */
  readStdin: () => Promise<string>
}

/** A command the user got wrong: its message is printed alone, exit code 1. */
export class CommandError extends Error {}

const PASSWORD_MIN = 8
const PASSWORD_MAX = 1024
const BUILT_IN_CLIENTS: Record<string, string> = {
  [LocalClients.machine]: `machine  built in  ${ADMIN_PERMISSIONS.join(' ')} (secret in ${STATE_FILE})`,
  [LocalClients.browser]: 'browser  built in  CLIENT_ORIGIN_URL, CLIENT_ORIGIN_URL/callback and the docs page',
  [LocalClients.api]: 'api      built in  the API itself, introspecting opaque tokens (secret in memory only)'
}

/** Runs one command; a mistake or a broken state file throws an error whose message is for the user. */
export async function runCommand (args: string[], io: CommandIo): Promise<void> {
  const { values, positionals } = parse(args)
  const [group, action, ...rest] = positionals
  const command = values.help === true ? 'help' : `${group ?? ''} ${action ?? ''}`.trim()

  switch (command) {
    case 'user add': {
      const username = checkName(one(rest, '<username>'), 'username')
      const permissions = checkPermissions(values.permission ?? [])
      const chosen = await chosenPassword(values, io)
      const password = chosen ?? generateSecret()
      await change(io, async state => {
        if (state.users.some(user => user.username === username)) throw new CommandError(`A user ${username} already exists (npm run issuer -- user remove ${username} first)`)
        state.users.push(await createUser(username, password, permissions))
      })
      io.out(`Added user ${username}${describePermissions(permissions)}.`)
      if (chosen === undefined) io.out(`Password for ${username} (printed once, stored only as a hash): ${password}`)
      return io.out(effect(io))
    }
    case 'user list': {
      const state = await existingState(io)
      for (const user of state?.users ?? []) io.out(`${user.username.padEnd(20)} ${user.permissions.join(' ') || '(no permissions)'}`)
      if (state === undefined) io.out(`No users yet: npm start (or npm run issuer -- user add …) makes ${join(io.dataDir, STATE_FILE)} with the users admin and user.`)
      return
    }
    case 'user remove': {
      const username = one(rest, '<username>')
      await change(io, async state => {
        userNamed(state, username)
        state.users = state.users.filter(user => user.username !== username)
      })
      return io.out(`Removed user ${username}: they can no longer sign in, and their refresh tokens are refused.\n${effect(io)}`)
    }
    case 'user password': {
      const username = one(rest, '<username>')
      const chosen = await chosenPassword(values, io)
      const password = chosen ?? generateSecret()
      await change(io, async state => {
        Object.assign(userNamed(state, username), await hashSecret(password))
      })
      io.out(`New password set for ${username}.`)
      if (chosen === undefined) io.out(`Password for ${username} (printed once, stored only as a hash): ${password}`)
      return
    }
    case 'user totp': {
      const username = one(rest, '<username>')
      if (values.off === true) {
        await change(io, async state => {
          delete userNamed(state, username).totp
        })
        return io.out(`${username} signs in with a password alone from now on.\n${effect(io)}`)
      }
      const secret = createTotpSecret()
      await change(io, async state => {
        userNamed(state, username).totp = secret
      })
      io.out(`Second factor set up for ${username}; a sign-in with its code gets acr ${LocalAcr.totp}.`)
      io.out(`Add it to an authenticator app (printed once; kept in ${STATE_FILE}, which the issuer reads to check codes):`)
      io.out(`  secret ${secret}`)
      io.out(`  ${totpUri(username, secret)}`)
      return io.out(effect(io))
    }
    case 'permission grant':
    case 'permission revoke': {
      const clientId = values.client
      const [target, ...named] = clientId === undefined ? rest : [clientId, ...rest]
      if (target === undefined || named.length === 0) throw new CommandError(`Usage: npm run issuer -- permission ${action} <username> <permission>... (or --client <client-id> <permission>...)`)
      const permissions = checkPermissions(named)
      const grant = action === 'grant'
      await change(io, async state => {
        const holder = clientId === undefined ? userNamed(state, target) : machineClientNamed(state, target)
        holder.permissions = grant
          ? [...new Set([...holder.permissions, ...permissions])]
          : holder.permissions.filter(permission => !permissions.includes(permission))
      })
      const who = clientId === undefined ? `user ${target}` : `client ${target}`
      return io.out(`${grant ? 'Granted' : 'Revoked'} ${permissions.join(' ')} ${grant ? 'to' : 'from'} ${who}.\n${effect(io)}`)
    }
    case 'client add': {
      const clientId = checkName(one(rest, '<client-id>'), 'client id')
      if (values.browser === values.machine) throw new CommandError('client add needs --browser (an app signing users in) or --machine (a backend with its own permissions), one of them')
      if (clientId in BUILT_IN_CLIENTS) throw new CommandError(`${clientId} is a built-in client; choose another client id`)
      if (values.browser === true) {
        if ((values.permission ?? []).length > 0) throw new CommandError('A browser client has no permissions of its own: it gets the signed-in user\'s. Grant them to the user')
        const redirectUris = checkRedirectUris(values['redirect-uri'] ?? [])
        await change(io, async state => {
          addClient(state, { clientId, kind: 'browser', redirectUris })
        })
        io.out(`Added browser client ${clientId}: public (no secret), authorization code with PKCE (S256), redirect URIs ${redirectUris.join(' ')}.`)
        io.out(issuerHint(io))
        return io.out(effect(io))
      }
      if ((values['redirect-uri'] ?? []).length > 0) throw new CommandError('A machine client has no redirect URIs: it uses client_credentials')
      const permissions = checkPermissions(values.permission ?? [])
      const secret = generateSecret()
      const hashed = await hashSecret(secret)
      await change(io, async state => {
        addClient(state, { clientId, kind: 'machine', permissions, ...hashed })
      })
      io.out(`Added machine client ${clientId}${describePermissions(permissions)}: client_credentials, client_secret_post.`)
      io.out(`Client secret for ${clientId} (printed once, stored only as a hash): ${secret}`)
      io.out(issuerHint(io, `  Token: POST <issuer>oauth/token grant_type=client_credentials client_id=${clientId} client_secret=… audience=<API audience> scope="${permissions.join(' ') || '<permissions>'}"`))
      return io.out(effect(io))
    }
    case 'client list': {
      const state = await existingState(io)
      for (const [clientId, description] of Object.entries(BUILT_IN_CLIENTS)) io.out(`${clientId.padEnd(20)} ${description}`)
      for (const client of state?.clients ?? []) {
        const detail = client.kind === 'browser' ? client.redirectUris.join(' ') : client.permissions.join(' ') || '(no permissions)'
        io.out(`${client.clientId.padEnd(20)} ${client.kind.padEnd(8)} added     ${detail}`)
      }
      const registered = registeredCount(io.dataDir)
      if (registered > 0) io.out(`and ${registered} registered by apps themselves (RFC 7591); delete ${join(io.dataDir, CLIENTS_FILE)} to drop them`)
      return
    }
    case 'client remove': {
      const clientId = one(rest, '<client-id>')
      if (clientId in BUILT_IN_CLIENTS) throw new CommandError(`${clientId} is a built-in client and cannot be removed`)
      await change(io, async state => {
        if (!(state.clients ?? []).some(client => client.clientId === clientId)) throw new CommandError(`No client ${clientId} was added here (npm run issuer -- client list)`)
        state.clients = (state.clients ?? []).filter(client => client.clientId !== clientId)
      })
      return io.out(`Removed client ${clientId}: the token endpoint refuses it from now on.\n${effect(io)}`)
    }
    case '':
    case 'help':
      return io.out(USAGE)
    default:
      throw new CommandError(`Unknown command ${JSON.stringify(command)}.\n\n${USAGE}`)
  }
}

function parse (args: string[]) {
  try {
    return parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: {
        permission: { type: 'string', multiple: true },
        password: { type: 'string' },
        'password-stdin': { type: 'boolean' },
        client: { type: 'string' },
        browser: { type: 'boolean' },
        machine: { type: 'boolean' },
        'redirect-uri': { type: 'string', multiple: true },
        off: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' }
      }
    })
  } catch (error) {
    throw new CommandError(`${(error as Error).message}\n\n${USAGE}`)
  }
}

/** The command's change under the state lock; on first use it makes the state and prints its secrets once. */
async function change (io: CommandIo, apply: (state: LocalState) => Promise<void>): Promise<void> {
  const { created } = await changeState(io.dataDir, apply)
  if (created !== undefined) printFirstStart(io, created)
}

async function existingState (io: CommandIo): Promise<LocalState | undefined> {
  return readState(io.dataDir)
}

function printFirstStart (io: CommandIo, created: FirstStartSecrets): void {
  io.out([
    `First use: made ${join(io.dataDir, STATE_FILE)}; these secrets are printed once:`,
    `  machine client  local-machine  secret ${created.machineClientSecret}`,
    `  admin user      admin          password ${created.passwords.admin}   (has ${ADMIN_PERMISSIONS.join(' ')})`,
    `  other user      user           password ${created.passwords.user}`
  ].join('\n'))
}

/** Whether a running server picks the change up, said plainly. */
function effect (io: CommandIo): string {
  const running = liveInstances(io.dataDir)
  if (running.length === 0) return 'No server is running on this data folder now; the next npm start uses it.'
  const names = running.map(instance => instance.api ?? instance.issuer).join(', ')
  return `The running server (${names}) uses it from the next sign-in or token request, no restart needed; ` +
    'tokens already issued keep what they carry until they expire (an hour).'
}

function issuerHint (io: CommandIo, extra?: string): string {
  const running = liveInstances(io.dataDir).at(-1)
  const lines = running === undefined
    ? ['  Issuer: http://127.0.0.1:<LOCAL_ISSUER_PORT>/ once npm start runs (default port 6061)']
    : [`  Issuer: ${running.issuer}  audience: ${running.audience}`]
  return [...lines, ...(extra === undefined ? [] : [extra])].join('\n')
}

function one (rest: string[], what: string): string {
  if (rest.length !== 1) throw new CommandError(`Expected one ${what}${rest.length > 1 ? `, got ${rest.length}: ${rest.join(' ')}` : ''}.\n\n${USAGE}`)
  return rest[0] as string
}

function checkName (value: string, what: string): string {
  if (!new RegExp(NAME_PATTERN).test(value)) throw new CommandError(`A ${what} is 1 to 64 letters, digits and . _ @ - (starting with a letter or digit); got ${JSON.stringify(value)}`)
  return value
}

function checkPermissions (permissions: string[]): string[] {
  for (const permission of permissions) {
    if (!new RegExp(PERMISSION_PATTERN).test(permission)) {
      throw new CommandError(`A permission is one scope-like word (no spaces, quotes or backslashes), such as read:admin-messages; got ${JSON.stringify(permission)}`)
    }
    if (RESERVED_SCOPES.includes(permission)) throw new CommandError(`${permission} is an OpenID Connect scope, not a permission`)
  }
  return [...new Set(permissions)]
}

function checkRedirectUris (uris: string[]): string[] {
  if (uris.length === 0) throw new CommandError('A browser client needs at least one --redirect-uri, such as http://localhost:3000/callback')
  for (const uri of uris) {
    const url = URL.canParse(uri) ? new URL(uri) : undefined
    if (url === undefined || !['http:', 'https:'].includes(url.protocol)) throw new CommandError(`--redirect-uri must be an http(s) URL, such as http://localhost:3000/callback; got ${JSON.stringify(uri)}`)
    if (url.hash !== '' || uri.includes('#')) throw new CommandError(`--redirect-uri must not have a #fragment; got ${JSON.stringify(uri)}`)
  }
  return [...new Set(uris)]
}

async function chosenPassword (values: { password?: string | undefined, 'password-stdin'?: boolean | undefined }, io: CommandIo): Promise<string | undefined> {
  if (values.password !== undefined && values['password-stdin'] === true) throw new CommandError('Give --password or --password-stdin, not both')
  const password = values['password-stdin'] === true ? (await io.readStdin()).replace(/\r?\n$/, '') : values.password
  if (password === undefined) return undefined
  if (password.length < PASSWORD_MIN || password.length > PASSWORD_MAX) {
    throw new CommandError(`A password is ${PASSWORD_MIN} to ${PASSWORD_MAX} characters long (or leave it out to have one generated)`)
  }
  return password
}

function userNamed (state: LocalState, username: string): LocalUser {
  const user = state.users.find(u => u.username === username)
  if (user === undefined) throw new CommandError(`No user ${username} (npm run issuer -- user list)`)
  return user
}

function machineClientNamed (state: LocalState, clientId: string): MachineClient {
  if (clientId === LocalClients.machine) throw new CommandError(`${clientId} is built in with ${ADMIN_PERMISSIONS.join(' ')}; add a machine client of your own for other permissions`)
  const client = (state.clients ?? []).find(c => c.clientId === clientId)
  if (client?.kind !== 'machine') throw new CommandError(`No machine client ${clientId} was added here (npm run issuer -- client list)`)
  return client
}

function addClient (state: LocalState, client: NonNullable<LocalState['clients']>[number]): void {
  state.clients ??= []
  if (state.clients.some(c => c.clientId === client.clientId)) throw new CommandError(`A client ${client.clientId} already exists (npm run issuer -- client remove ${client.clientId} first)`)
  state.clients.push(client)
}

function describePermissions (permissions: string[]): string {
  return permissions.length === 0 ? ' with no permissions' : ` with ${permissions.join(' ')}`
}

function registeredCount (dataDir: string): number {
  try {
    const parsed: unknown = JSON.parse(readFileSync(join(dataDir, CLIENTS_FILE), 'utf8'))
    return typeof parsed === 'object' && parsed !== null ? Object.keys(parsed).length : 0
  } catch {
    return 0
  }
}
