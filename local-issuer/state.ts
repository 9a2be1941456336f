import { generateKeyPairSync, randomBytes, randomUUID, scrypt, timingSafeEqual, type JsonWebKey } from 'node:crypto'
import { mkdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { Ajv, type ValidateFunction } from 'ajv'
import type { FromSchema } from 'json-schema-to-ts'
import { writeFileAtomically } from './atomic-file.js'
import { LocalClients } from './issuer-info.js'
import { withStateLock } from './state-lock.js'
import { TOTP_SECRET_PATTERN } from './totp.js'

const scryptAsync = promisify(scrypt) as (password: string, salt: Buffer, length: number) => Promise<Buffer>

/** A scope-token (RFC 6749 §3.3): what a permission may be. */
export const PERMISSION_PATTERN = '^[\\x21\\x23-\\x5B\\x5D-\\x7E]{1,128}$'
/** Usernames and client ids: what reads well on a command line and in a URL. */
export const NAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$'
const BASE64URL = { type: 'string', pattern: '^[A-Za-z0-9_-]+$', minLength: 16, maxLength: 128 } as const
const NAME = { type: 'string', pattern: NAME_PATTERN } as const

const PermissionsSchema = { type: 'array', items: { type: 'string', pattern: PERMISSION_PATTERN }, maxItems: 100 } as const

export const LocalUserSchema = {
  type: 'object',
  properties: {
    username: NAME,
    sub: { type: 'string', minLength: 1, maxLength: 255 },
    permissions: PermissionsSchema,
    /** scrypt(password, salt), both base64url. */
    salt: BASE64URL,
    hash: BASE64URL,
    /** The TOTP secret (base32) of the second factor, set up by `npm run issuer -- user totp`; absent: password only. */
    totp: { type: 'string', pattern: TOTP_SECRET_PATTERN }
  },
  required: ['username', 'sub', 'permissions', 'salt', 'hash']
} as const
export type LocalUser = FromSchema<typeof LocalUserSchema>

/** A browser app added with `npm run issuer -- client add --browser`: public, code flow with PKCE. */
export const BrowserClientSchema = {
  type: 'object',
  properties: {
    clientId: NAME,
    kind: { const: 'browser' },
    redirectUris: { type: 'array', items: { type: 'string', minLength: 1, maxLength: 2048 }, minItems: 1, maxItems: 20 }
  },
  required: ['clientId', 'kind', 'redirectUris']
} as const
export type BrowserClient = FromSchema<typeof BrowserClientSchema>

/** A backend added with `npm run issuer -- client add --machine`: client_credentials, its permissions only. */
export const MachineClientSchema = {
  type: 'object',
  properties: {
    clientId: NAME,
    kind: { const: 'machine' },
    permissions: PermissionsSchema,
    /** scrypt(secret, salt), both base64url: the secret itself is printed once and kept nowhere. */
    salt: BASE64URL,
    hash: BASE64URL
  },
  required: ['clientId', 'kind', 'permissions', 'salt', 'hash']
} as const
export type MachineClient = FromSchema<typeof MachineClientSchema>

export type LocalClient = BrowserClient | MachineClient

const LocalStateSchema = {
  type: 'object',
  properties: {
    signingKey: {
      type: 'object',
      properties: { kty: { const: 'RSA' }, kid: { type: 'string', minLength: 1 }, d: { type: 'string', minLength: 1 } },
      required: ['kty', 'kid', 'd']
    },
    cookieKeys: { type: 'array', items: { type: 'string', minLength: 16 }, minItems: 1 },
    machineClientSecret: { type: 'string', minLength: 16 },
    users: { type: 'array', items: LocalUserSchema, maxItems: 1000 },
    /** Absent in a state made before clients could be added. */
    clients: { type: 'array', items: { anyOf: [BrowserClientSchema, MachineClientSchema] }, maxItems: 1000 }
  },
  required: ['signingKey', 'cookieKeys', 'machineClientSecret', 'users']
} as const

// Compiled on the first read of a state file: a start that never reads one never pays for it.
let validateState: ValidateFunction | undefined

/** What must survive a restart: signing key, cookie keys, the machine client's secret, users and added clients. */
export interface LocalState {
  signingKey: JsonWebKey & { kid: string, alg: 'RS256', use: 'sig' }
  cookieKeys: string[]
  machineClientSecret: string
  users: LocalUser[]
  clients?: LocalClient[]
}

/** Secrets made on this start, to be printed once. */
export interface FirstStartSecrets {
  machineClientSecret: string
  passwords: Record<string, string>
}

export const ADMIN_PERMISSIONS = ['read:admin-messages']
/** Scopes that mean something to OpenID Connect, so never a permission. */
export const RESERVED_SCOPES = ['openid', 'offline_access', 'profile', 'email', 'address', 'phone']

export const STATE_FILE = 'state.json'
const KEY_LENGTH = 32

/** The state file cannot be used as it is; the message names the file and what is wrong. */
export class StateFileError extends Error {
  readonly code = 'LOCAL_ISSUER_STATE_INVALID'
  constructor (readonly file: string, problem: string) {
    super(`The local issuer's state file ${file} ${problem}. Fix it (or restore it), or delete it to start afresh with new keys, secrets and users`)
    this.name = 'StateFileError'
  }
}

/** The state in a file's text; anything else than what this version writes is a StateFileError. */
export function parseState (file: string, text: string): LocalState {
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (error) {
    throw new StateFileError(file, `is not valid JSON (${(error as Error).message})`)
  }
  validateState ??= new Ajv().compile(LocalStateSchema)
  if (!validateState(parsed)) {
    const first = validateState.errors?.[0]
    const where = first === undefined || first.instancePath === '' ? 'the whole file' : first.instancePath
    throw new StateFileError(file, `is not valid: ${where} ${first?.message ?? 'does not match the schema'}`)
  }
  const state = parsed as LocalState
  const duplicate = (values: string[]) => values.find((value, index) => values.indexOf(value) !== index)
  const twice = duplicate(state.users.map(user => user.username)) ?? duplicate(state.users.map(user => user.sub))
  if (twice !== undefined) throw new StateFileError(file, `is not valid: ${JSON.stringify(twice)} names two users`)
  const ids = (state.clients ?? []).map(client => client.clientId)
  const clash = duplicate(ids) ?? ids.find(id => (Object.values(LocalClients) as string[]).includes(id))
  if (clash !== undefined) throw new StateFileError(file, `is not valid: ${JSON.stringify(clash)} names two clients`)
  return state
}

/** The state from the data folder, or undefined when there is none yet. */
export async function readState (dataDir: string): Promise<LocalState | undefined> {
  const file = join(dataDir, STATE_FILE)
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw new StateFileError(file, `cannot be read (${(error as Error).message})`)
  }
  return parseState(file, text)
}

/**
 * The local issuer's state from its data folder, made on first start (by the
 * server or by the first `npm run issuer` command, under the state lock, so
 * never twice). The file holds a private key and password hashes: mode 0600,
 * in a git-ignored folder.
 */
export async function loadState (dataDir: string): Promise<{ state: LocalState, created?: FirstStartSecrets }> {
  const existing = await readState(dataDir)
  if (existing !== undefined) return { state: existing }
  await mkdir(dataDir, { recursive: true, mode: 0o700 })
  return withStateLock(dataDir, async () => {
    // Another process may have made it while this one waited for the lock.
    const made = await readState(dataDir)
    if (made !== undefined) return { state: made }
    const { state, created } = await createState()
    await writeState(dataDir, state)
    return { state, created }
  })
}

/** Writes the whole state atomically, mode 0600; call it under the state lock. */
export async function writeState (dataDir: string, state: LocalState): Promise<void> {
  await writeFileAtomically(join(dataDir, STATE_FILE), JSON.stringify(state, null, 2))
}

/**
 * One read-modify-write of the state under the state lock: read it fresh (or
 * make it, on first use), let `apply` change it, write it whole. `apply` throws
 * to change nothing.
 */
export async function changeState<T> (dataDir: string, apply: (state: LocalState) => Promise<T>): Promise<{ result: T, created?: FirstStartSecrets }> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 })
  return withStateLock(dataDir, async () => {
    let state = await readState(dataDir)
    let created: FirstStartSecrets | undefined
    if (state === undefined) ({ state, created } = await createState())
    const result = await apply(state)
    await writeState(dataDir, state)
    return created === undefined ? { result } : { result, created }
  })
}

/** A fresh state: new keys and secrets, the built-in users admin and user with generated passwords. */
export async function createState (): Promise<{ state: LocalState, created: FirstStartSecrets }> {
  const secret = () => randomBytes(24).toString('base64url')
  const passwords = { admin: secret(), user: secret() }
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const state: LocalState = {
    signingKey: { ...privateKey.export({ format: 'jwk' }), kid: randomUUID(), alg: 'RS256', use: 'sig' },
    cookieKeys: [secret(), secret()],
    machineClientSecret: secret(),
    users: [
      await createUser('admin', passwords.admin, ADMIN_PERMISSIONS, 'local|admin'),
      await createUser('user', passwords.user, [], 'local|user')
    ],
    clients: []
  }
  return { state, created: { machineClientSecret: state.machineClientSecret, passwords } }
}

/** A new random secret: a generated password or a machine client's secret. */
export const generateSecret = () => randomBytes(24).toString('base64url')

/** salt and scrypt hash of a password or client secret, both base64url. */
export async function hashSecret (secret: string): Promise<{ salt: string, hash: string }> {
  const salt = randomBytes(16)
  const hash = await scryptAsync(secret, salt, KEY_LENGTH)
  return { salt: salt.toString('base64url'), hash: hash.toString('base64url') }
}

/** Whether the secret hashes to the stored hash; compared in constant time. */
export async function secretMatches (secret: string, stored: { salt: string, hash: string }): Promise<boolean> {
  const hash = await scryptAsync(secret, Buffer.from(stored.salt, 'base64url'), KEY_LENGTH)
  const expected = Buffer.from(stored.hash, 'base64url')
  return hash.length === expected.length && timingSafeEqual(hash, expected)
}

/** A user with a new random subject, so a user removed and added again is someone else to every client. */
export async function createUser (username: string, password: string, permissions: string[], sub = `local|${randomUUID()}`): Promise<LocalUser> {
  return { username, sub, permissions, ...await hashSecret(password) }
}

/** The user, when the password is right; compared in constant time. */
export async function checkPassword (users: LocalUser[], username: string, password: string): Promise<LocalUser | undefined> {
  const user = users.find(u => u.username === username)
  // Hash even for unknown users, so timing does not tell which usernames exist.
  const matches = await secretMatches(password, user ?? { salt: 'AAAAAAAAAAAAAAAAAAAAAA', hash: 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' })
  return user !== undefined && matches ? user : undefined
}
