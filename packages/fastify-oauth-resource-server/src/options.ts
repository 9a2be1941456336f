import { SUPPORTED_ALGORITHMS, type Algorithm, type AuthOptions } from './types.js'
import { parseProviderUrl } from './keys/provider-url.js'

export interface ResolvedOptions {
  issuer: string
  audience: string[]
  jwksUri: string | undefined
  algorithms: ReadonlySet<Algorithm>
  // Durations below are in ms: the options take seconds, the code counts in ms.
  clockTolerance: number
  requireAccessTokenType: boolean
  realm: string
  /** The scopes RFC 9728 metadata lists; undefined when the metadata is off. */
  resourceMetadataScopes: string[] | undefined
  maxAge: number
  cooldown: number
  fetchTimeout: number
  staleIfError: number
  maxResponseBytes: number
  tokenCacheSize: number
}

// In seconds.
const MINUTE = 60
const HOUR = 60 * MINUTE
const DAY = 24 * HOUR

/** Checks the plugin's options and fills in defaults; throws naming the bad option. */
export function resolveOptions (options: AuthOptions): ResolvedOptions {
  const fail = (option: string, problem: string): never => {
    throw new Error(`auth plugin: option ${option} ${problem}`)
  }

  const issuer = typeof options.issuer === 'string' ? parseProviderUrl(options.issuer) : 'is required'
  if (typeof issuer === 'string') fail('issuer', issuer)

  const audience = [options.audience].flat()
  if (audience.length === 0 || audience.some(a => typeof a !== 'string' || a === '')) {
    fail('audience', 'is required: the API identifier (a non-empty string or array of strings)')
  }

  let jwksUri: string | undefined
  if (options.jwksUri !== undefined) {
    const parsed = parseProviderUrl(options.jwksUri)
    if (typeof parsed === 'string') fail('jwksUri', parsed)
    else jwksUri = parsed.href
  }

  const algorithms = options.algorithms ?? ['RS256']
  if (!Array.isArray(algorithms) || algorithms.length === 0) fail('algorithms', 'must be a non-empty array')
  for (const alg of algorithms) {
    if (!(SUPPORTED_ALGORITHMS as readonly string[]).includes(alg)) {
      fail('algorithms', `has ${JSON.stringify(alg)}; supported: ${SUPPORTED_ALGORITHMS.join(', ')} (never none or HMAC)`)
    }
  }

  const realm = options.realm ?? 'api'
  if (typeof realm !== 'string' || !/^[\x20\x21\x23-\x5B\x5D-\x7E]+$/.test(realm)) {
    fail('realm', 'must be printable ASCII without quotes or backslashes')
  }

  const metadata = options.resourceMetadata
  const resourceMetadataScopes = metadata === undefined || metadata === false
    ? undefined
    : metadata === true ? [] : [...(metadata.scopesSupported ?? [])]

  const number = (option: string, value: number | undefined, fallback: number, min: number): number => {
    if (value === undefined) return fallback
    if (typeof value !== 'number' || !Number.isFinite(value) || value < min) fail(option, `must be a number ≥ ${min}`)
    return value
  }
  // Durations are in seconds, everywhere. A value past the bound is most likely in ms:
  // the message gives the number meant.
  const seconds = (option: string, value: number | undefined, fallback: number, min: number, max: number): number => {
    const checked = number(option, value, fallback, min)
    if (checked > max) fail(option, `is in seconds: at most ${max}, got ${checked} (in ms? then write ${checked / 1000})`)
    return checked * 1000
  }
  const keys = options.keys ?? {}

  return {
    issuer: options.issuer,
    audience,
    jwksUri,
    algorithms: new Set(algorithms),
    clockTolerance: seconds('clockTolerance', options.clockTolerance, 5, 0, 5 * 60),
    requireAccessTokenType: options.requireAccessTokenType === true,
    realm,
    resourceMetadataScopes,
    maxAge: seconds('keys.maxAge', keys.maxAge, 10 * MINUTE, 1, DAY),
    cooldown: seconds('keys.cooldown', keys.cooldown, 30, 0, HOUR),
    fetchTimeout: seconds('keys.fetchTimeout', keys.fetchTimeout, 5, 0.001, MINUTE),
    staleIfError: seconds('keys.staleIfError', keys.staleIfError, DAY, 0, 7 * DAY),
    maxResponseBytes: number('keys.maxResponseBytes', keys.maxResponseBytes, 512 * 1024, 1024),
    tokenCacheSize: Math.floor(number('tokenCacheSize', options.tokenCacheSize, 20_000, 0))
  }
}
