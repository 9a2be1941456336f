import { withoutTrailingSlash } from './provider-url.js'

/**
 * Where a multi-tenant issuer's discovery document puts the tenant: Microsoft Entra ID's
 * `common` and `organizations` name the issuer `https://login.microsoftonline.com/{tenantid}/v2.0`.
 */
export const TENANT_PLACEHOLDER = '{tenantid}'

/**
 * The issuer the configuration names cannot be used as it is: a configuration error that
 * stops start-up, like IssuerMismatchError, with one line saying what to use instead.
 */
export class UnusableIssuerError extends Error {
  readonly code = 'FST_AUTH_ISSUER_UNUSABLE'
  constructor (message: string) {
    super(message)
    this.name = 'UnusableIssuerError'
  }
}

/**
 * Whether the discovery document's issuer fits the configured one: the same (one trailing
 * slash aside), or, for a multi-tenant issuer (`templated`: it has `tenants`), a template
 * whose `{tenantid}` stands where the configured issuer has one path segment
 * (`https://login.microsoftonline.com/{tenantid}/v2.0` for `…/organizations/v2.0`).
 * A template without tenants would let any tenant in, and tenants without a template fill
 * nothing: both stop start-up, as does an Okta org authorization server. `'mismatch'`
 * when the document names another issuer; undefined when it fits.
 */
export function checkDiscoveredIssuer (configured: string, discovered: string, document: Record<string, unknown>, templated: boolean): UnusableIssuerError | 'mismatch' | undefined {
  const at = discovered.indexOf(TENANT_PLACEHOLDER)
  if (at !== -1) {
    const prefix = discovered.slice(0, at)
    const suffix = withoutTrailingSlash(discovered.slice(at + TENANT_PLACEHOLDER.length))
    const given = withoutTrailingSlash(configured)
    const segment = given.slice(prefix.length, given.length - suffix.length)
    const fits = given.startsWith(prefix) && given.endsWith(suffix) && given.length > prefix.length + suffix.length && !segment.includes('/')
    if (!fits) return 'mismatch'
    if (!templated) {
      return new UnusableIssuerError(`The discovery document of ${configured} names the issuer template ${discovered}, which any tenant's tokens fill: set tenants, the tenant ids to accept`)
    }
    return undefined
  }
  if (withoutTrailingSlash(discovered) !== withoutTrailingSlash(configured)) return 'mismatch'
  if (templated) {
    return new UnusableIssuerError(`tenants is set, but the discovery document of ${configured} names one issuer, not a template with ${TENANT_PLACEHOLDER}: unset tenants`)
  }
  if (isOktaOrgAuthorizationServer(discovered, document)) return new UnusableIssuerError(`${configured} ${OKTA_ORG_SERVER(discovered)}`)
  return undefined
}

/** What to say of an Okta org authorization server, after its configured name. */
export const OKTA_ORG_SERVER = (issuer: string) =>
  `is an Okta org authorization server, whose access tokens are for Okta's own APIs and not for validation by an API: use a custom authorization server (${withoutTrailingSlash(issuer)}/oauth2/default or …/oauth2/<id>)`

/**
 * Okta's org authorization server: its issuer is the bare org URL, and its keys sit under
 * `/oauth2/v1/`, where a custom authorization server's issuer (`<org>/oauth2/<id>`) has its
 * own. Okta: "If the token's issuer … is the base domain URL … the Org Authorization Server
 * is being used", and its access tokens are "designed to be used and consumed by Okta only"
 * (https://support.okta.com/help/s/article/Signature-Validation-Failed-on-Access-Token).
 * Both signs are needed: another provider whose issuer is a bare origin (Auth0's
 * `https://tenant.auth0.com/`) keeps its keys elsewhere.
 */
export function isOktaOrgAuthorizationServer (issuer: string, document: Record<string, unknown>): boolean {
  let url: URL
  try {
    url = new URL(issuer)
  } catch {
    return false
  }
  return url.pathname === '/' && document.jwks_uri === `${url.origin}/oauth2/v1/keys`
}
