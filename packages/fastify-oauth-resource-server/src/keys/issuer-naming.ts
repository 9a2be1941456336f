import { TENANT_PLACEHOLDER } from './discovered-issuer.js'
import { parseProviderUrl, withoutTrailingSlash } from './provider-url.js'
import type { Fail } from '../option-checks.js'
import type { Rejection } from '../claims/rejections.js'
import type { IssuerOptions } from '../types.js'

/** The `iss` values an issuer's tokens may carry besides the issuer discovery names. */
export interface IssuerNaming {
  /** The accepted tenants of a templated issuer; undefined for an issuer of one tenant or none. */
  tenants: readonly string[] | undefined
  /** Other `iss` values its keys sign for, as given (`{tenantid}` filled per tenant). */
  aliases: readonly string[]
}

/** Each accepted `iss`, exactly, with the tenant its `tid` must be (undefined: no `tid` check). */
export type AcceptedIssuers = ReadonlyMap<string, string | undefined>

export const isTemplate = (issuer: string): boolean => issuer.includes(TENANT_PLACEHOLDER)

// A tenant id goes into a URL path: a GUID or a domain name, never a `/` or a `{`.
const TENANT = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/

/** Checks `tenants` and `issuerAliases` of one issuer; throws naming the option. */
export function resolveIssuerNaming (given: IssuerOptions, jwksUri: string | undefined, at: string, fail: Fail): IssuerNaming {
  const { issuer, tenants, issuerAliases = [] } = given
  if (tenants !== undefined) {
    if (!Array.isArray(tenants) || tenants.length === 0) fail(`${at}tenants`, 'must be a non-empty array of tenant ids (an empty list would accept no tenant)')
    const bad = tenants.find(each => typeof each !== 'string' || !TENANT.test(each))
    if (bad !== undefined) fail(`${at}tenants`, `has ${JSON.stringify(bad)}: a tenant id is letters, digits, '.', '_' and '-'`)
  }
  // An introspection answer's `iss` would be held to the template: no tenant's token would pass.
  if (tenants !== undefined && given.introspection !== undefined) fail(`${at}tenants`, 'does not go with introspection: a multi-tenant issuer\'s tokens are JWTs')
  // Without discovery the issuer itself must be the template the tenants fill.
  if (tenants !== undefined && jwksUri !== undefined && !isTemplate(issuer)) {
    fail(`${at}tenants`, `with jwksUri needs the issuer to be the template itself, such as https://login.microsoftonline.com/${TENANT_PLACEHOLDER}/v2.0`)
  }
  if (isTemplate(issuer)) {
    if (tenants === undefined) fail(`${at}tenants`, `is required with a templated issuer (${issuer}): the tenant ids to accept, never every tenant`)
    if (jwksUri === undefined) fail(`${at}issuer`, 'is a template, which has no discovery document: give the issuer discovery is read from (such as https://login.microsoftonline.com/organizations/v2.0), or jwksUri')
  }
  if (!Array.isArray(issuerAliases)) fail(`${at}issuerAliases`, 'must be an array of issuer URLs')
  for (const alias of issuerAliases) {
    const parsed = typeof alias === 'string' ? parseProviderUrl(alias) : 'must be a string'
    if (typeof parsed === 'string') fail(`${at}issuerAliases`, `has ${JSON.stringify(alias)}, which ${parsed}`)
    if (isTemplate(alias) && tenants === undefined) fail(`${at}issuerAliases`, `has the template ${alias}: give tenants to fill it`)
    if (withoutTrailingSlash(alias) === withoutTrailingSlash(issuer)) fail(`${at}issuerAliases`, `has the issuer itself (${alias})`)
  }
  return { tenants: tenants === undefined ? undefined : [...tenants], aliases: [...issuerAliases] }
}

/**
 * The exact `iss` values this issuer's tokens carry, given the issuer as discovery (or,
 * with jwksUri, the configuration) names it: that issuer, or with tenants each tenant's
 * fill of its template; and the aliases, filled alike. Made from the configuration and
 * discovery alone: no claim of a token ever adds to it. With tenants but no template
 * (discovery not read yet), nothing is accepted.
 */
export function acceptedIssuers (named: string, { tenants, aliases }: IssuerNaming): AcceptedIssuers {
  const accepted = new Map<string, string | undefined>()
  if (tenants === undefined) {
    for (const name of [named, ...aliases]) accepted.set(name, undefined)
    return accepted
  }
  if (!isTemplate(named)) return accepted
  for (const name of [named, ...aliases]) {
    if (!isTemplate(name)) accepted.set(name, undefined)
    else for (const tenant of tenants) accepted.set(name.split(TENANT_PLACEHOLDER).join(tenant), tenant)
  }
  return accepted
}

/**
 * A verified token's `iss` is one of the accepted, byte for byte; and an `iss` filled from
 * a template must be of the tenant its `tid` names, as Microsoft asks of multi-tenant APIs.
 */
export function judgeIssuer (claims: Readonly<Record<string, unknown>>, accepted: AcceptedIssuers): Rejection | undefined {
  const { iss } = claims
  if (typeof iss !== 'string' || !accepted.has(iss)) return 'issuer'
  const tenant = accepted.get(iss)
  if (tenant !== undefined && claims.tid !== tenant) return 'tenant'
  return undefined
}
