import { createPrivateKey, createPublicKey, generateKeyPair } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { createKeyPair, type KeyAlgorithm, type KeyPair } from '../src/testing/index.js'

// An RSA key costs about 100 ms of CPU to generate, and the suite's tests ask for over a
// hundred. Run as a script (the last step of `npm run build:test`, so of every
// `npm test`), this file makes POOL_SIZE real keys for the run, on the thread pool, into
// dist-test/. Each test process hands every pooled key out at most once, so keys that
// meet in one test are always different; past the pool, or with no pool file, keys are
// made as before.

const POOL_SIZE = 16
const POOL_FILE = fileURLToPath(new URL('../../../key-pool.json', import.meta.url))

let pool: string[] | undefined

function readPool (): string[] {
  try {
    const parsed: unknown = JSON.parse(readFileSync(POOL_FILE, 'utf8'))
    return Array.isArray(parsed) ? parsed.filter((pem): pem is string => typeof pem === 'string') : []
  } catch {
    return []
  }
}

/** A new RSA key pair (RS256 or PS256) under this kid: from the run's pool while it lasts. */
export function testKeyPair (kid: string, alg: KeyAlgorithm = 'RS256'): KeyPair {
  pool ??= readPool()
  const pem = alg === 'RS256' || alg === 'PS256' ? pool.pop() : undefined
  if (pem === undefined) return createKeyPair(kid, alg)
  const privateKey = createPrivateKey(pem)
  return { kid, alg, privateKey, jwk: { ...createPublicKey(privateKey).export({ format: 'jwk' }), kid, alg, use: 'sig' } }
}

async function writePool (): Promise<void> {
  const generate = promisify(generateKeyPair)
  const keys = await Promise.all(Array.from({ length: POOL_SIZE }, () => generate('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' }
  })))
  writeFileSync(POOL_FILE, JSON.stringify(keys.map(key => key.privateKey)), { mode: 0o600 })
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await writePool()
