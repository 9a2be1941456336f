import { parseProviderUrl, type IntrospectionOptions, type IssuerOptions } from 'fastify-oauth-resource-server'
import { ConfigError } from './error.js'
import { readProviderSettings } from './provider-settings.js'
import { readPermissionsClaim } from './permissions.js'

/**
 * Several trusted issuers, numbered from 1 without gaps, one variable per setting:
 *   ISSUER_1_BASE_URL, ISSUER_1_AUDIENCE, ISSUER_1_JWKS_URI,
 *   ISSUER_1_INTROSPECTION_CLIENT_ID, ISSUER_1_INTROSPECTION_CLIENT_SECRET, ISSUER_1_INTROSPECTION_ENDPOINT,
 *   ISSUER_1_INTROSPECTION_MAX_CALLS_PER_SECOND, ISSUER_1_AUDIENCE_CLAIM, ISSUER_1_TENANTS, ISSUER_1_ALIASES,
 *   ISSUER_1_PERMISSIONS_CLAIM
 * Chosen over one JSON variable: no quoting to get wrong in a shell or a .env file,
 * each error names the one variable at fault, and a secret is a variable of its own.
 */
const SETTINGS = [
  'BASE_URL', 'AUDIENCE', 'JWKS_URI', 'INTROSPECTION_CLIENT_ID', 'INTROSPECTION_CLIENT_SECRET', 'INTROSPECTION_ENDPOINT', 'INTROSPECTION_MAX_CALLS_PER_SECOND',
  'AUDIENCE_CLAIM', 'TENANTS', 'ALIASES', 'PERMISSIONS_CLAIM'
] as const
type Setting = typeof SETTINGS[number]

const NUMBERED = /^ISSUER_(\d+)_(.+)$/
const MAX_ISSUERS = 20

export type ExternalIssuer = Pick<IssuerOptions, 'issuer' | 'audience' | 'jwksUri' | 'introspection' | 'audienceClaim' | 'tenants' | 'issuerAliases'> & { permissionsClaim?: string[][] }

/** The numbered issuers of the environment, or undefined when none is set. Throws ConfigError naming the variable. */
export function readIssuerList (env: Readonly<Record<string, unknown>>): ExternalIssuer[] | undefined {
  const byNumber = new Map<number, Partial<Record<Setting, string>>>()
  for (const [name, raw] of Object.entries(env)) {
    const match = NUMBERED.exec(name)
    if (match === null || typeof raw !== 'string') continue
    const [, digits, setting] = match as unknown as [string, string, string]
    const n = Number(digits)
    if (!(SETTINGS as readonly string[]).includes(setting)) {
      throw new ConfigError(`${name} is not a setting: ISSUER_<n>_ takes ${SETTINGS.join(', ')}`)
    }
    if (String(n) !== digits || n < 1 || n > MAX_ISSUERS) throw new ConfigError(`${name}: issuers are numbered 1 to ${MAX_ISSUERS}, without leading zeros`)
    if (raw.trim() === '') throw new ConfigError(`${name} is set but blank: give it a value, or unset it`)
    const settings = byNumber.get(n) ?? {}
    settings[setting as Setting] = raw.trim()
    byNumber.set(n, settings)
  }
  if (byNumber.size === 0) return undefined

  const issuers: ExternalIssuer[] = []
  const highest = Math.max(...byNumber.keys())
  for (let n = 1; n <= highest; n++) {
    const name = (setting: Setting) => `ISSUER_${n}_${setting}`
    const settings = byNumber.get(n)
    if (settings === undefined) throw new ConfigError(`${name('BASE_URL')} is missing: number issuers from 1 without gaps (ISSUER_${highest}_* is set)`)
    const url = (setting: Setting): string | undefined => {
      const given = settings[setting]
      if (given === undefined) return undefined
      const parsed = parseProviderUrl(given)
      if (typeof parsed === 'string') throw new ConfigError(`${name(setting)} ${parsed} (got ${JSON.stringify(given)})`)
      return given
    }
    const issuer = url('BASE_URL')
    if (issuer === undefined) throw new ConfigError(`${name('BASE_URL')} is required: ISSUER_${n}_* settings are set without it`)
    if (settings.AUDIENCE === undefined) throw new ConfigError(`${name('AUDIENCE')} is required with ${name('BASE_URL')}: the API identifier this issuer's tokens are issued for`)
    const same = issuers.findIndex(each => each.issuer.replace(/\/$/, '') === issuer.replace(/\/$/, ''))
    if (same !== -1) throw new ConfigError(`${name('BASE_URL')} is ISSUER_${same + 1}_BASE_URL again (${issuer})`)
    const entry: ExternalIssuer = { issuer, audience: settings.AUDIENCE, jwksUri: url('JWKS_URI') }
    const introspection = readIntrospection(settings.INTROSPECTION_CLIENT_ID, settings.INTROSPECTION_CLIENT_SECRET, url('INTROSPECTION_ENDPOINT'), `ISSUER_${n}_`, settings.INTROSPECTION_MAX_CALLS_PER_SECOND)
    if (introspection !== undefined) entry.introspection = introspection
    Object.assign(entry, readProviderSettings({
      audienceClaim: { name: name('AUDIENCE_CLAIM'), value: settings.AUDIENCE_CLAIM },
      audience: { name: name('AUDIENCE'), value: settings.AUDIENCE },
      tenants: { name: name('TENANTS'), value: settings.TENANTS },
      aliases: { name: name('ALIASES'), value: settings.ALIASES },
      issuer: { name: name('BASE_URL'), value: issuer }
    }))
    // This issuer's own claim paths; without them, PERMISSIONS_CLAIM's (or the plugin's default).
    const permissionsClaim = readPermissionsClaim(name('PERMISSIONS_CLAIM'), settings.PERMISSIONS_CLAIM)
    if (permissionsClaim !== undefined) entry.permissionsClaim = permissionsClaim.map(path => [...path])
    issuers.push(entry)
  }
  return issuers
}

/**
 * Introspection client credentials (both or neither), the endpoint if not discovered,
 * and the most calls a second (the plugin's default when unset).
 */
export function readIntrospection (clientId: string | undefined, clientSecret: string | undefined, endpoint: string | undefined, prefix: string, maxCallsPerSecond?: string): IntrospectionOptions | undefined {
  if (clientId === undefined && clientSecret === undefined) {
    if (endpoint !== undefined) throw new ConfigError(`${prefix}INTROSPECTION_ENDPOINT needs ${prefix}INTROSPECTION_CLIENT_ID and ${prefix}INTROSPECTION_CLIENT_SECRET`)
    if (maxCallsPerSecond !== undefined) throw new ConfigError(`${prefix}INTROSPECTION_MAX_CALLS_PER_SECOND needs ${prefix}INTROSPECTION_CLIENT_ID and ${prefix}INTROSPECTION_CLIENT_SECRET`)
    return undefined
  }
  if (clientId === undefined) throw new ConfigError(`${prefix}INTROSPECTION_CLIENT_ID is required with ${prefix}INTROSPECTION_CLIENT_SECRET`)
  if (clientSecret === undefined) throw new ConfigError(`${prefix}INTROSPECTION_CLIENT_SECRET is required with ${prefix}INTROSPECTION_CLIENT_ID`)
  return {
    clientId,
    clientSecret,
    ...(endpoint === undefined ? {} : { endpoint }),
    ...(maxCallsPerSecond === undefined ? {} : { maxCallsPerSecond: readRate(`${prefix}INTROSPECTION_MAX_CALLS_PER_SECOND`, maxCallsPerSecond) })
  }
}

// The plugin's own floor for introspection.maxCallsPerSecond.
const MIN_CALLS_PER_SECOND = 0.01

function readRate (name: string, given: string): number {
  const rate = /^\d+(\.\d+)?$/.test(given) ? Number(given) : Number.NaN
  if (!(rate >= MIN_CALLS_PER_SECOND)) {
    throw new ConfigError(`${name} must be a number of introspection calls a second, at least ${MIN_CALLS_PER_SECOND} (got ${JSON.stringify(given)})`)
  }
  return rate
}
