import { SUPPORTED_ALGORITHMS, type Algorithm, type AudienceClaim, type AuthOptions, type IntrospectionOptions, type IssuerOptions } from './types.js'
import { parseProviderUrl, withoutTrailingSlash } from './keys/provider-url.js'
import { isOktaOrgAuthorizationServer, OKTA_ORG_SERVER } from './keys/discovered-issuer.js'
import { optionChecks } from './option-checks.js'
import { resolveDpopOptions, type ResolvedDpopOptions } from './dpop/options.js'
import { DEFAULT_PERMISSIONS_CLAIM, resolvePermissionsClaim } from './claims/permissions.js'
import type { ClaimPath } from './claims/claim-path.js'
import { resolveIssuerNaming, type IssuerNaming } from './keys/issuer-naming.js'
import { resolveMtlsOptions, type ResolvedMtlsOptions } from './mtls/options.js'

/** Introspection settings; durations in ms. */
export interface ResolvedIntrospection {
  clientId: string
  clientSecret: string
  clientAuthMethod: 'client_secret_basic' | 'client_secret_post'
  /** Undefined: the discovery document's introspection_endpoint. */
  endpoint: string | undefined
  timeout: number
  maxCacheAge: number
  inactiveCacheAge: number
  cacheSize: number
  concurrency: number
  queueLimit: number
  maxCallsPerSecond: number
}

export interface ResolvedIssuer {
  issuer: string
  audience: string[]
  jwksUri: string | undefined
  algorithms: ReadonlySet<Algorithm>
  introspection: ResolvedIntrospection | undefined
  /** Where its tokens' permissions are, parsed once. */
  permissionsClaim: readonly ClaimPath[]
  audienceClaim: AudienceClaim
  /** Tenants and aliases: the `iss` values besides the discovered issuer. */
  naming: IssuerNaming
}

export interface ResolvedOptions {
  /** One or more, in the configured order. */
  issuers: ResolvedIssuer[]
  // Durations below are in ms: the options take seconds, the code counts in ms.
  clockTolerance: number
  requireAccessTokenType: boolean
  realm: string
  /** The scopes RFC 9728 metadata lists; undefined when the metadata is off. */
  resourceMetadataScopes: string[] | undefined
  /** The resource identifier (an origin); undefined: the origin each request was sent to. */
  resourceMetadataResource: string | undefined
  maxAge: number
  cooldown: number
  fetchTimeout: number
  staleIfError: number
  maxResponseBytes: number
  tokenCacheSize: number
  dpop: ResolvedDpopOptions
  tracing: { subject: boolean }
  mtls: ResolvedMtlsOptions
}

// In seconds.
const MINUTE = 60
const HOUR = 60 * MINUTE
const DAY = 24 * HOUR

/** Checks the plugin's options and fills in defaults; throws naming the bad option. */
export function resolveOptions (options: AuthOptions): ResolvedOptions {
  const { fail, number, seconds } = optionChecks('auth plugin: option ')

  // An optional https URL (http only on loopback), as its href.
  const optionalUrl = (option: string, value: string | undefined): string | undefined => {
    if (value === undefined) return undefined
    const parsed = parseProviderUrl(value)
    return typeof parsed === 'string' ? fail(option, parsed) : parsed.href
  }

  const permissionsClaim = (option: string, given: unknown, fallback: readonly ClaimPath[]): readonly ClaimPath[] => {
    if (given === undefined) return fallback
    const paths = resolvePermissionsClaim(given)
    return typeof paths === 'string' ? fail(option, paths) : paths
  }
  const defaultPermissions = permissionsClaim('permissionsClaim', options.permissionsClaim, DEFAULT_PERMISSIONS_CLAIM)

  const resolveIssuer = (given: IssuerOptions, at: string): ResolvedIssuer => {
    const issuer = typeof given.issuer === 'string' ? parseProviderUrl(given.issuer) : 'is required'
    if (typeof issuer === 'string') fail(`${at}issuer`, issuer)

    const audience = [given.audience].flat()
    if (audience.length === 0 || audience.some(a => typeof a !== 'string' || a === '')) {
      fail(`${at}audience`, 'is required: the API identifier (a non-empty string or array of strings)')
    }

    const jwksUri = optionalUrl(`${at}jwksUri`, given.jwksUri)
    // Without discovery, the configured pair is the only sign of an Okta org server.
    if (jwksUri !== undefined && isOktaOrgAuthorizationServer(given.issuer, { jwks_uri: jwksUri })) fail(`${at}issuer`, OKTA_ORG_SERVER(given.issuer))

    const algorithms = given.algorithms ?? ['RS256']
    if (!Array.isArray(algorithms) || algorithms.length === 0) fail(`${at}algorithms`, 'must be a non-empty array')
    for (const alg of algorithms) {
      if (!(SUPPORTED_ALGORITHMS as readonly string[]).includes(alg)) {
        fail(`${at}algorithms`, `has ${JSON.stringify(alg)}; supported: ${SUPPORTED_ALGORITHMS.join(', ')} (never none or HMAC)`)
      }
    }
    const introspection = given.introspection === undefined
      ? undefined
      : resolveIntrospection(given.introspection, `${at}introspection.`, jwksUri !== undefined)
    const permissions = at === '' ? defaultPermissions : permissionsClaim(`${at}permissionsClaim`, given.permissionsClaim, defaultPermissions)
    const audienceClaim = given.audienceClaim ?? 'aud'
    if (audienceClaim !== 'aud' && audienceClaim !== 'client_id') fail(`${at}audienceClaim`, `must be 'aud' or 'client_id' (got ${JSON.stringify(audienceClaim)})`)
    const naming = resolveIssuerNaming(given, jwksUri, at, fail)
    return { issuer: given.issuer, audience, jwksUri, algorithms: new Set(algorithms), introspection, permissionsClaim: permissions, audienceClaim, naming }
  }

  const resolveIntrospection = (given: IntrospectionOptions, at: string, noDiscovery: boolean): ResolvedIntrospection => {
    if (typeof given !== 'object' || given === null) fail(at.slice(0, -1), 'must be an object')
    for (const name of ['clientId', 'clientSecret'] as const) {
      if (typeof given[name] !== 'string' || given[name] === '') fail(`${at}${name}`, 'is required (a non-empty string)')
    }
    const method = given.clientAuthMethod ?? 'client_secret_basic'
    if (method !== 'client_secret_basic' && method !== 'client_secret_post') {
      fail(`${at}clientAuthMethod`, 'must be client_secret_basic or client_secret_post')
    }
    const endpoint = optionalUrl(`${at}endpoint`, given.endpoint)
    if (endpoint === undefined && noDiscovery) {
      fail(`${at}endpoint`, 'is required with jwksUri: without discovery there is no introspection_endpoint to find')
    }
    const count = (option: keyof IntrospectionOptions, fallback: number, min: number) =>
      Math.floor(number(`${at}${option}`, given[option] as number | undefined, fallback, min))
    return {
      clientId: given.clientId,
      clientSecret: given.clientSecret,
      clientAuthMethod: method,
      endpoint,
      timeout: seconds(`${at}timeout`, given.timeout, 5, 0.001, MINUTE),
      maxCacheAge: seconds(`${at}maxCacheAge`, given.maxCacheAge, MINUTE, 0, HOUR),
      inactiveCacheAge: seconds(`${at}inactiveCacheAge`, given.inactiveCacheAge, 5, 0, 5 * MINUTE),
      cacheSize: count('cacheSize', 10_000, 0),
      concurrency: count('concurrency', 8, 1),
      queueLimit: count('queueLimit', 64, 0),
      maxCallsPerSecond: number(`${at}maxCallsPerSecond`, given.maxCallsPerSecond, 50, 0.01)
    }
  }

  let issuers: ResolvedIssuer[]
  if (options.issuers !== undefined) {
    const single = (['issuer', 'audience', 'jwksUri', 'algorithms', 'introspection', 'audienceClaim', 'tenants', 'issuerAliases'] as const).find(name => options[name] !== undefined)
    if (single !== undefined) fail(single, 'goes inside each entry of issuers: give issuers or the one-issuer options, not both')
    if (!Array.isArray(options.issuers) || options.issuers.length === 0) fail('issuers', 'must be a non-empty array')
    issuers = options.issuers.map((given, i) => resolveIssuer(given, `issuers[${i}].`))
  } else {
    issuers = [resolveIssuer(options as IssuerOptions, '')]
  }
  // One issuer's tokens are told from another's by iss alone: two entries one trailing slash
  // apart are the same issuer (discovery compares them so), and would share their tokens.
  const seen = new Map<string, number>()
  issuers.forEach(({ issuer }, i) => {
    const first = seen.get(withoutTrailingSlash(issuer))
    if (first !== undefined) fail(`issuers[${i}].issuer`, `is issuers[${first}].issuer again (${issuer})`)
    seen.set(withoutTrailingSlash(issuer), i)
  })
  // An alias names tokens as an issuer does: one that is another entry's issuer would hand them its keys.
  issuers.forEach(({ naming }, i) => {
    for (const alias of naming.aliases) {
      const other = seen.get(withoutTrailingSlash(alias))
      if (other !== undefined) fail(`issuers[${i}].issuerAliases`, `has issuers[${other}].issuer (${alias})`)
    }
  })
  const introspecting = issuers.filter(each => each.introspection !== undefined)
  if (introspecting.length > 1) {
    // An opaque token names no issuer: sent to each, it would reach servers that did not issue it.
    fail(`issuers[${issuers.indexOf(introspecting[1]!)}].introspection`, 'is a second one: opaque tokens name no issuer, so only one issuer may introspect them')
  }

  const realm = options.realm ?? 'api'
  if (typeof realm !== 'string' || !/^[\x20\x21\x23-\x5B\x5D-\x7E]+$/.test(realm)) {
    fail('realm', 'must be printable ASCII without quotes or backslashes')
  }

  const metadata = options.resourceMetadata
  const resourceMetadataScopes = metadata === undefined || metadata === false
    ? undefined
    : metadata === true ? [] : [...(metadata.scopesSupported ?? [])]
  const resource = typeof metadata === 'object' && metadata !== null ? metadata.resource : undefined
  if (resource !== undefined && resolveOrigin(resource) === undefined) {
    fail('resourceMetadata.resource', `must be the origin clients call, such as https://api.example.com (got ${JSON.stringify(resource)})`)
  }

  const keys = options.keys ?? {}

  return {
    issuers,
    clockTolerance: seconds('clockTolerance', options.clockTolerance, 5, 0, 5 * 60),
    requireAccessTokenType: options.requireAccessTokenType === true,
    realm,
    resourceMetadataScopes,
    resourceMetadataResource: resource === undefined ? undefined : resolveOrigin(resource),
    maxAge: seconds('keys.maxAge', keys.maxAge, 10 * MINUTE, 1, DAY),
    cooldown: seconds('keys.cooldown', keys.cooldown, 30, 0, HOUR),
    fetchTimeout: seconds('keys.fetchTimeout', keys.fetchTimeout, 5, 0.001, MINUTE),
    staleIfError: seconds('keys.staleIfError', keys.staleIfError, DAY, 0, 7 * DAY),
    maxResponseBytes: number('keys.maxResponseBytes', keys.maxResponseBytes, 512 * 1024, 1024),
    tokenCacheSize: Math.floor(number('tokenCacheSize', options.tokenCacheSize, 20_000, 0)),
    dpop: resolveDpopOptions(options.dpop),
    tracing: resolveTracing(options.tracing, fail),
    mtls: resolveMtlsOptions(options.mtls)
  }
}

function resolveTracing (given: AuthOptions['tracing'], fail: (option: string, message: string) => never): { subject: boolean } {
  if (given === undefined) return { subject: false }
  if (typeof given !== 'object' || given === null) fail('tracing', 'must be an object such as { subject: true }')
  if (given.subject !== undefined && typeof given.subject !== 'boolean') fail('tracing.subject', 'must be true or false')
  return { subject: given.subject === true }
}

/** An http(s) origin, given with or without one trailing slash, as URL spells it; undefined for anything else. */
function resolveOrigin (value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined
  let url: URL
  try {
    url = new URL(value)
  } catch {
    return undefined
  }
  return /^https?:$/.test(url.protocol) && url.origin === value.replace(/\/$/, '') ? url.origin : undefined
}
