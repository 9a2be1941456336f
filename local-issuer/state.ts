import { generateKeyPairSync, randomBytes, randomUUID, scrypt, timingSafeEqual, type JsonWebKey } from 'node:crypto'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'

const scryptAsync = promisify(scrypt) as (password: string, salt: Buffer, length: number) => Promise<Buffer>

export interface LocalUser {
  username: string
  sub: string
  permissions: string[]
  /** scrypt(password, salt), both base64url. */
  salt: string
  hash: string
}

/** What must survive a restart: signing key, cookie keys, the machine client's secret, users. */
export interface LocalState {
  signingKey: JsonWebKey & { kid: string, alg: 'RS256', use: 'sig' }
  cookieKeys: string[]
  machineClientSecret: string
  users: LocalUser[]
}

/** Secrets made on this start, to be printed once. */
export interface FirstStartSecrets {
  machineClientSecret: string
  passwords: Record<string, string>
}

export const ADMIN_PERMISSIONS = ['read:admin-messages']

export const STATE_FILE = 'state.json'
const KEY_LENGTH = 32

/**
 * The local issuer's state from its data folder, made on first start. The file
 * holds a private key and password hashes: mode 0600, in a git-ignored folder.
 */
export async function loadState (dataDir: string): Promise<{ state: LocalState, created?: FirstStartSecrets }> {
  const file = join(dataDir, STATE_FILE)
  try {
    return { state: JSON.parse(await readFile(file, 'utf8')) as LocalState }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new Error(`The local issuer's state in ${file} cannot be read (${(error as Error).message}); delete the folder to start afresh`)
    }
  }

  const secret = () => randomBytes(24).toString('base64url')
  const passwords = { admin: secret(), user: secret() }
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const state: LocalState = {
    signingKey: { ...privateKey.export({ format: 'jwk' }), kid: randomUUID(), alg: 'RS256', use: 'sig' },
    cookieKeys: [secret(), secret()],
    machineClientSecret: secret(),
    users: [
      await createUser('admin', passwords.admin, ADMIN_PERMISSIONS),
      await createUser('user', passwords.user, [])
    ]
  }
  await mkdir(dataDir, { recursive: true, mode: 0o700 })
  await writeFile(file, JSON.stringify(state, null, 2), { mode: 0o600, flag: 'wx' })
  return { state, created: { machineClientSecret: state.machineClientSecret, passwords } }
}

async function createUser (username: string, password: string, permissions: string[]): Promise<LocalUser> {
  const salt = randomBytes(16)
  const hash = await scryptAsync(password, salt, KEY_LENGTH)
  return { username, sub: `local|${username}`, permissions, salt: salt.toString('base64url'), hash: hash.toString('base64url') }
}

/** The user, when the password is right; compared in constant time. */
export async function checkPassword (users: LocalUser[], username: string, password: string): Promise<LocalUser | undefined> {
  const user = users.find(u => u.username === username)
  // Hash even for unknown users, so timing does not tell which usernames exist.
  const salt = Buffer.from(user?.salt ?? 'AAAAAAAAAAAAAAAAAAAAAA', 'base64url')
  const hash = await scryptAsync(password, salt, KEY_LENGTH)
  if (user === undefined) return
  return timingSafeEqual(hash, Buffer.from(user.hash, 'base64url')) ? user : undefined
}
