import { SUPPORTED_ALGORITHMS, type Algorithm, type AuthOptions } from './types.js'
import { parseProviderUrl } from './keys/provider-url.js'

export interface ResolvedOptions {
  issuer: string
  audience: string[]
  jwksUri: string | undefined
  algorithms: ReadonlySet<Algorithm>
  /** In ms. */
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

const MINUTE = 60_000

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
  const keys = options.keys ?? {}

  return {
    issuer: options.issuer,
    audience,
    jwksUri,
    algorithms: new Set(algorithms),
    clockTolerance: number('clockTolerance', options.clockTolerance, 5, 0) * 1000,
    requireAccessTokenType: options.requireAccessTokenType === true,
    realm,
    resourceMetadataScopes,
    maxAge: number('keys.maxAge', keys.maxAge, 10 * MINUTE, 1000),
    cooldown: number('keys.cooldown', keys.cooldown, 30_000, 0),
    fetchTimeout: number('keys.fetchTimeout', keys.fetchTimeout, 5000, 1),
    staleIfError: number('keys.staleIfError', keys.staleIfError, 24 * 60 * MINUTE, 0),
    maxResponseBytes: number('keys.maxResponseBytes', keys.maxResponseBytes, 512 * 1024, 1024),
    tokenCacheSize: Math.floor(number('tokenCacheSize', options.tokenCacheSize, 20_000, 0))
  }
}
