import { parseProviderUrl, type IssuerOptions } from 'fastify-oauth-resource-server'
import { ConfigError } from './error.js'

/** One issuer's provider settings, as given, and the variables they came from. */
export interface ProviderSettingsInput {
  audienceClaim?: { name: string, value: string | undefined }
  /** AUDIENCE (or ISSUER_<n>_AUDIENCE): with AUDIENCE_CLAIM=client_id, app client ids, comma-separated. */
  audience: { name: string, value: string }
  tenants?: { name: string, value: string | undefined }
  aliases?: { name: string, value: string | undefined }
  /** The issuer's variable and URL, for the Entra ID multi-tenant check. */
  issuer: { name: string, value: string }
}

export type ProviderSettings = Pick<IssuerOptions, 'audienceClaim' | 'tenants' | 'issuerAliases'> & { audience?: string[] }

// A tenant id goes into a URL path: a GUID (Entra ID's `tid`) or a domain name.
const TENANT = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/

// Entra ID's multi-tenant endpoints, whose discovery names the issuer as a template.
const ENTRA_MULTI_TENANT = /^https:\/\/login\.microsoftonline\.(com|us)\/(common|organizations)\//i

const list = (value: string) => value.split(',').map(each => each.trim())

/**
 * AUDIENCE_CLAIM, TENANTS and ISSUER_ALIASES (or ISSUER_<n>_AUDIENCE_CLAIM, _TENANTS,
 * _ALIASES) as the plugin's audienceClaim, tenants and issuerAliases (and, with
 * AUDIENCE_CLAIM=client_id, AUDIENCE as a list of app client ids); throws ConfigError
 * naming the variable. An Entra ID `common` or `organizations` issuer without tenants is
 * refused here, before any fetch: its discovery names a template every tenant fills.
 */
export function readProviderSettings ({ audienceClaim, audience, tenants, aliases, issuer }: ProviderSettingsInput): ProviderSettings {
  const settings: ProviderSettings = {}
  if (audienceClaim?.value !== undefined) {
    if (audienceClaim.value !== 'aud' && audienceClaim.value !== 'client_id') {
      throw new ConfigError(`${audienceClaim.name} must be aud or client_id (got ${JSON.stringify(audienceClaim.value)})`)
    }
    settings.audienceClaim = audienceClaim.value
    // App client ids are plain ids: a list is unambiguous here, unlike an API identifier (a URI).
    if (audienceClaim.value === 'client_id' && audience.value.includes(',')) {
      const ids = list(audience.value)
      if (ids.includes('')) throw new ConfigError(`${audience.name} must be app client ids separated by commas (got ${JSON.stringify(audience.value)})`)
      settings.audience = ids
    }
  }
  if (tenants?.value !== undefined) {
    const ids = list(tenants.value)
    const bad = ids.find(id => !TENANT.test(id))
    if (bad !== undefined) throw new ConfigError(`${tenants.name} must be tenant ids separated by commas (got ${JSON.stringify(bad)})`)
    settings.tenants = ids
  } else if (ENTRA_MULTI_TENANT.test(issuer.value)) {
    throw new ConfigError(`${tenants?.name ?? 'TENANTS'} is required with ${issuer.name} ${issuer.value}: a multi-tenant Entra ID issuer takes the tenant ids listed, never every tenant`)
  }
  if (aliases?.value !== undefined) {
    const urls = list(aliases.value)
    for (const url of urls) {
      const parsed = parseProviderUrl(url)
      if (typeof parsed === 'string') throw new ConfigError(`${aliases.name} ${parsed} (got ${JSON.stringify(url)})`)
      if (url.includes('{tenantid}') && settings.tenants === undefined) {
        throw new ConfigError(`${aliases.name} has {tenantid} (${url}): it needs ${tenants?.name ?? 'TENANTS'}`)
      }
    }
    settings.issuerAliases = urls
  }
  return settings
}
