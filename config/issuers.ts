import { parseProviderUrl } from 'fastify-oauth-resource-server'
import { ConfigError } from './error.js'
import type { Env } from './schema.js'
import { readIntrospection, readIssuerList, type ExternalIssuer } from './issuer-list.js'
import { readProviderSettings } from './provider-settings.js'

/** The numbered issuers; the one-issuer fields stay undefined. */
export interface SeveralIssuers {
  issuers: ExternalIssuer[]
  issuer?: undefined
  audience?: undefined
  jwksUri?: undefined
  introspection?: undefined
}

/** Which issuers the API trusts: external ones, or the local development issuer. */
export interface IssuerChoice {
  /** One external issuer, or several (ISSUER_<n>_*); undefined when the local development issuer runs instead. */
  auth: (ExternalIssuer & { issuers?: undefined }) | SeveralIssuers | undefined
  localIssuer: { port: number, dataDir: string, audience: string } | undefined
}

/** The Auth0 Hello World samples' API identifier, used by the local issuer unless AUDIENCE is set. */
export const DEFAULT_LOCAL_AUDIENCE = 'https://hello-world.example.com'

/**
 * The variables that choose whom the API trusts. Set but blank, any of them is
 * an error: read as unset, a blank issuer would turn the local issuer on.
 */
const ISSUER_VARIABLES = [
  'ISSUER_BASE_URL', 'AUDIENCE', 'AUTH0_DOMAIN', 'AUTH0_AUDIENCE', 'JWKS_URI',
  'INTROSPECTION_CLIENT_ID', 'INTROSPECTION_CLIENT_SECRET', 'INTROSPECTION_ENDPOINT', 'INTROSPECTION_MAX_CALLS_PER_SECOND',
  'AUDIENCE_CLAIM', 'TENANTS', 'ISSUER_ALIASES'
] as const

/**
 * Chooses the issuers from ISSUER_BASE_URL or AUTH0_DOMAIN, or the numbered ISSUER_<n>_*
 * variables (read from `raw`, the whole environment); throws ConfigError naming the variable.
 */
export function resolveIssuer (env: Env, raw: Readonly<Record<string, unknown>> = env): IssuerChoice {
  const list = readIssuerList(raw)
  const value: Partial<Record<typeof ISSUER_VARIABLES[number], string>> = {}
  for (const name of ISSUER_VARIABLES) {
    const raw = env[name]
    if (raw === undefined) continue
    if (raw.trim() === '') throw new ConfigError(`${name} is set but blank: give it a value, or unset it`)
    value[name] = raw.trim()
  }
  const url = (name: keyof Env, given: string): string => {
    const parsed = parseProviderUrl(given)
    if (typeof parsed === 'string') throw new ConfigError(`${name} ${parsed} (got ${JSON.stringify(given)})`)
    return given
  }

  let auth: ExternalIssuer | undefined
  let localIssuer: IssuerChoice['localIssuer']
  if (list !== undefined) {
    const single = ISSUER_VARIABLES.find(name => value[name] !== undefined)
    if (single !== undefined) {
      throw new ConfigError(`${single} does not go with the numbered ISSUER_<n>_* variables: give each issuer, the first too, as ISSUER_<n>_*`)
    }
    return { auth: { issuers: list }, localIssuer: undefined }
  } else if (value.ISSUER_BASE_URL !== undefined && value.AUTH0_DOMAIN !== undefined) {
    throw new ConfigError('Set ISSUER_BASE_URL or AUTH0_DOMAIN, not both')
  } else if (value.ISSUER_BASE_URL !== undefined) {
    if (value.AUTH0_AUDIENCE !== undefined) {
      throw new ConfigError('AUTH0_AUDIENCE goes with AUTH0_DOMAIN: with ISSUER_BASE_URL, name the API identifier AUDIENCE')
    }
    if (value.AUDIENCE === undefined) throw new ConfigError('AUDIENCE is required with ISSUER_BASE_URL: the API identifier tokens are issued for')
    auth = { issuer: url('ISSUER_BASE_URL', value.ISSUER_BASE_URL), audience: value.AUDIENCE, jwksUri: undefined }
  } else if (value.AUTH0_DOMAIN !== undefined) {
    if (value.AUDIENCE !== undefined) {
      throw new ConfigError('AUDIENCE goes with ISSUER_BASE_URL: with AUTH0_DOMAIN, name the API identifier AUTH0_AUDIENCE')
    }
    if (value.AUTH0_AUDIENCE === undefined) throw new ConfigError('AUTH0_AUDIENCE is required with AUTH0_DOMAIN: the API identifier tokens are issued for')
    const domain = value.AUTH0_DOMAIN.replace(/^https:\/\//, '').replace(/\/$/, '')
    if (!/^[A-Za-z0-9.-]+(:\d+)?$/.test(domain)) {
      throw new ConfigError(`AUTH0_DOMAIN must be a host name such as example.us.auth0.com (got ${JSON.stringify(env.AUTH0_DOMAIN)})`)
    }
    auth = { issuer: `https://${domain}/`, audience: value.AUTH0_AUDIENCE, jwksUri: undefined }
  } else {
    if (env.NODE_ENV?.trim().toLowerCase() === 'production') {
      throw new ConfigError('NODE_ENV is production but no issuer is set: configure ISSUER_BASE_URL or AUTH0_DOMAIN (the local development issuer never runs in production)')
    }
    const introspection = (['INTROSPECTION_CLIENT_ID', 'INTROSPECTION_CLIENT_SECRET', 'INTROSPECTION_ENDPOINT', 'INTROSPECTION_MAX_CALLS_PER_SECOND'] as const).find(name => value[name] !== undefined)
    if (introspection !== undefined) throw new ConfigError(`${introspection} needs ISSUER_BASE_URL or AUTH0_DOMAIN: the local issuer configures its own introspection`)
    if (value.JWKS_URI !== undefined) throw new ConfigError('JWKS_URI needs ISSUER_BASE_URL or AUTH0_DOMAIN: without them the local issuer runs')
    const provider = (['AUDIENCE_CLAIM', 'TENANTS', 'ISSUER_ALIASES'] as const).find(name => value[name] !== undefined)
    if (provider !== undefined) throw new ConfigError(`${provider} needs ISSUER_BASE_URL or AUTH0_DOMAIN: without them the local issuer runs`)
    if (value.AUTH0_AUDIENCE !== undefined) {
      throw new ConfigError('AUTH0_AUDIENCE needs AUTH0_DOMAIN: without an issuer the local issuer runs, and AUDIENCE names its API identifier')
    }
    localIssuer = {
      port: env.LOCAL_ISSUER_PORT ?? (env.PORT === 0 ? 0 : env.PORT + 1),
      dataDir: env.LOCAL_ISSUER_DATA,
      audience: value.AUDIENCE ?? DEFAULT_LOCAL_AUDIENCE
    }
    if (localIssuer.port !== 0 && localIssuer.port === env.PORT) {
      throw new ConfigError(`LOCAL_ISSUER_PORT must differ from PORT (both ${env.PORT})`)
    }
  }
  if (auth !== undefined && value.JWKS_URI !== undefined) auth.jwksUri = url('JWKS_URI', value.JWKS_URI)
  if (auth !== undefined) {
    const endpoint = value.INTROSPECTION_ENDPOINT === undefined ? undefined : url('INTROSPECTION_ENDPOINT', value.INTROSPECTION_ENDPOINT)
    const introspection = readIntrospection(value.INTROSPECTION_CLIENT_ID, value.INTROSPECTION_CLIENT_SECRET, endpoint, '', value.INTROSPECTION_MAX_CALLS_PER_SECOND)
    if (introspection !== undefined) auth.introspection = introspection
    Object.assign(auth, readProviderSettings({
      audienceClaim: { name: 'AUDIENCE_CLAIM', value: value.AUDIENCE_CLAIM },
      audience: { name: value.AUDIENCE === undefined ? 'AUTH0_AUDIENCE' : 'AUDIENCE', value: [auth.audience].flat().join(',') },
      tenants: { name: 'TENANTS', value: value.TENANTS },
      aliases: { name: 'ISSUER_ALIASES', value: value.ISSUER_ALIASES },
      issuer: { name: value.ISSUER_BASE_URL === undefined ? 'AUTH0_DOMAIN' : 'ISSUER_BASE_URL', value: auth.issuer }
    }))
  }
  return { auth, localIssuer }
}
