import { parseProviderUrl } from './auth/urls.js'
import { ConfigError } from './config-error.js'
import type { Env } from './env-schema.js'

/** Which issuer the API trusts: an external one, or the local development issuer. */
export interface IssuerChoice {
  /** The external issuer; undefined when the local development issuer runs instead. */
  auth: { issuer: string, audience: string, jwksUri: string | undefined } | undefined
  localIssuer: { port: number, dataDir: string, audience: string } | undefined
}

/** The Auth0 Hello World samples' API identifier, used by the local issuer unless AUDIENCE is set. */
export const DEFAULT_LOCAL_AUDIENCE = 'https://hello-world.example.com'

/** Chooses the issuer from ISSUER_BASE_URL or AUTH0_DOMAIN; throws ConfigError naming the variable. */
export function resolveIssuer (env: Env): IssuerChoice {
  const set = (value: string | undefined) => value !== undefined && value.trim() !== ''
  const url = (name: keyof Env, value: string): string => {
    const parsed = parseProviderUrl(value)
    if (typeof parsed === 'string') throw new ConfigError(`${name} ${parsed} (got ${JSON.stringify(value)})`)
    return value
  }

  let auth: IssuerChoice['auth']
  let localIssuer: IssuerChoice['localIssuer']
  if (set(env.ISSUER_BASE_URL) && set(env.AUTH0_DOMAIN)) {
    throw new ConfigError('Set ISSUER_BASE_URL or AUTH0_DOMAIN, not both')
  } else if (set(env.ISSUER_BASE_URL)) {
    if (!set(env.AUDIENCE)) throw new ConfigError('AUDIENCE is required with ISSUER_BASE_URL: the API identifier tokens are issued for')
    auth = { issuer: url('ISSUER_BASE_URL', env.ISSUER_BASE_URL!.trim()), audience: env.AUDIENCE!.trim(), jwksUri: undefined }
  } else if (set(env.AUTH0_DOMAIN)) {
    if (!set(env.AUTH0_AUDIENCE)) throw new ConfigError('AUTH0_AUDIENCE is required with AUTH0_DOMAIN: the API identifier tokens are issued for')
    const domain = env.AUTH0_DOMAIN!.trim().replace(/^https:\/\//, '').replace(/\/$/, '')
    if (!/^[A-Za-z0-9.-]+(:\d+)?$/.test(domain)) {
      throw new ConfigError(`AUTH0_DOMAIN must be a host name such as example.us.auth0.com (got ${JSON.stringify(env.AUTH0_DOMAIN)})`)
    }
    auth = { issuer: `https://${domain}/`, audience: env.AUTH0_AUDIENCE!.trim(), jwksUri: undefined }
  } else {
    if (set(env.JWKS_URI)) throw new ConfigError('JWKS_URI needs ISSUER_BASE_URL or AUTH0_DOMAIN: without them the local issuer runs')
    localIssuer = {
      port: env.LOCAL_ISSUER_PORT ?? (env.PORT === 0 ? 0 : env.PORT + 1),
      dataDir: env.LOCAL_ISSUER_DATA,
      audience: set(env.AUDIENCE) ? env.AUDIENCE!.trim() : DEFAULT_LOCAL_AUDIENCE
    }
    if (localIssuer.port !== 0 && localIssuer.port === env.PORT) {
      throw new ConfigError(`LOCAL_ISSUER_PORT must differ from PORT (both ${env.PORT})`)
    }
  }
  if (auth !== undefined && set(env.JWKS_URI)) auth.jwksUri = url('JWKS_URI', env.JWKS_URI!.trim())
  return { auth, localIssuer }
}
