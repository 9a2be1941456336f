import Provider, { errors, type Configuration, type KoaContextWithOIDC } from 'oidc-provider'
import { checkHashedClientSecrets } from './added-clients.js'
import { createAdapterClass } from './adapter.js'
import type { ClientStore } from './client-store.js'
import { LocalAcr, LocalClients } from './issuer-info.js'
import { MTLS_CLIENT_AUTH_METHODS, mtlsClient, mtlsFeature } from './mtls.js'
import type { LiveState } from './live-state.js'
import { createRegisteredClientPolicy } from './registration.js'
import { ADMIN_PERMISSIONS, type LocalState } from './state.js'
import { createInteractionPolicy, signInClaims } from './step-up.js'

export interface ProviderOptions {
  issuer: string
  audience: string
  clientOrigin: string
  /** More redirect URIs for the browser client (the docs page's). */
  redirectUris: string[]
  /** Dynamically registered clients, kept in the data folder. */
  clients: ClientStore
  /** Keys and secrets, as of the start. */
  state: LocalState
  /** Users and added clients, as state.json says now. */
  live: LiveState
  /** The API's own client, which alone may introspect tokens (RFC 7662). */
  introspectionClient: { clientId: string, clientSecret: string }
  /** Certificate-bound tokens for the local-mtls client (RFC 8705): on when the service has client certificates. */
  mtls?: boolean
}

const API_SCOPES = ADMIN_PERMISSIONS.join(' ')
const HOUR = 3600

/**
 * oidc-provider configured like an Auth0 tenant with one API: Auth0's endpoint
 * paths, JWT access tokens (RFC 9068) for the API's audience with `scope` and an
 * Auth0 RBAC `permissions` claim, `audience=` accepted like RFC 8707 `resource=`.
 */
export function createProvider ({ issuer, audience, clientOrigin, redirectUris, clients, state, live, introspectionClient, mtls = false }: ProviderOptions): Provider {
  const configuration: Configuration = {
    adapter: createAdapterClass(clients, live),
    clients: [
      {
        client_id: LocalClients.machine,
        client_name: 'Local machine client',
        client_secret: state.machineClientSecret,
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
        token_endpoint_auth_method: 'client_secret_post',
        scope: API_SCOPES
      },
      {
        client_id: LocalClients.browser,
        client_name: 'Local browser app',
        application_type: 'web',
        token_endpoint_auth_method: 'none',
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        redirect_uris: [clientOrigin, `${clientOrigin}/callback`, ...redirectUris],
        post_logout_redirect_uris: [clientOrigin]
      },
      {
        client_id: introspectionClient.clientId,
        client_name: 'The API (introspection only)',
        client_secret: introspectionClient.clientSecret,
        grant_types: [],
        response_types: [],
        redirect_uris: [],
        token_endpoint_auth_method: 'client_secret_basic'
      },
      ...(mtls ? [mtlsClient(API_SCOPES)] : [])
    ],
    ...(mtls && { clientAuthMethods: MTLS_CLIENT_AUTH_METHODS }),
    jwks: { keys: [state.signingKey] },
    cookies: { keys: state.cookieKeys },
    scopes: ['openid', 'offline_access', 'profile', ...ADMIN_PERMISSIONS],
    claims: { openid: ['sub'], profile: ['name', 'nickname'] },
    async findAccount (ctx, sub) {
      const user = live.userBySub(sub)
      if (user === undefined) return undefined
      return { accountId: sub, claims: async () => ({ sub, name: user.username, nickname: user.username }) }
    },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      // A token request with a DPoP proof gets a token bound to its key (cnf.jkt): npm run token -- --dpop.
      dPoP: { enabled: true },
      registration: { enabled: true },
      revocation: { enabled: true },
      ...(mtls && { mTLS: mtlsFeature() }),
      // Opaque tokens (token_format=opaque) are checked by the API through introspection,
      // as its own client: no other client learns what a token grants.
      introspection: {
        enabled: true,
        allowedPolicy: async (ctx, client) => client.clientId === introspectionClient.clientId
      },
      resourceIndicators: {
        enabled: true,
        // Auth0 SDKs send audience=; RFC 8707 clients send resource=. Either names the API.
        async defaultResource (ctx) {
          const requested = requestedAudience(ctx)
          if (requested !== undefined && requested !== audience) throw new errors.InvalidTarget('unknown audience')
          return audience
        },
        async getResourceServerInfo (ctx, resource, client) {
          if (resource !== audience) throw new errors.InvalidTarget('unknown resource')
          // JWT access tokens (RFC 9068) unless the request asks token_format=opaque.
          const accessTokenFormat = requestedParam(ctx, 'token_format') === 'opaque' ? 'opaque' : 'jwt'
          return { audience, scope: apiScopes(ctx, client.clientId), accessTokenFormat, accessTokenTTL: HOUR, jwt: { sign: { alg: 'RS256' } } }
        },
        async useGrantedResource () {
          return true
        }
      }
    },
    extraClientMetadata: createRegisteredClientPolicy(clientId => clientId !== undefined && live.client(clientId) !== undefined),
    extraParams: ['audience', 'token_format'],
    async extraTokenClaims (ctx, token) {
      if (token.kind === 'ClientCredentials') {
        // The scope is already cut down to the client's own permissions (apiScopes).
        if (!isLocalMachine(token.clientId) && live.machineClient(token.clientId ?? '') === undefined) return { permissions: [] }
        return { permissions: token.scope?.split(' ').filter(Boolean) ?? [] }
      }
      if (token.kind === 'AccessToken') {
        // acr and auth_time for step-up (RFC 9470): the resource server judges the sign-in from them.
        return { permissions: live.userBySub(token.accountId)?.permissions ?? [], ...signInClaims(ctx) }
      }
      return undefined
    },
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}`, policy: createInteractionPolicy() },
    // A password alone, or a password and a TOTP code (interactions.ts): step-up.ts.
    acrValues: Object.values(LocalAcr),
    routes: {
      authorization: '/authorize',
      token: '/oauth/token',
      jwks: '/.well-known/jwks.json',
      userinfo: '/userinfo',
      end_session: '/v2/logout',
      registration: '/oidc/register',
      revocation: '/oauth/revoke',
      introspection: '/oauth/introspect'
    },
    pkce: { required: () => true },
    // oidc-provider (per OIDC Core) drops offline_access without prompt=consent, which Auth0
    // SDKs never send; like an Auth0 tenant, a client allowed refresh tokens gets them.
    issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
    rotateRefreshToken: true,
    ttl: {
      AccessToken: HOUR,
      ClientCredentials: HOUR,
      AuthorizationCode: 60,
      IdToken: HOUR,
      Interaction: HOUR,
      Session: 14 * 24 * HOUR,
      Grant: 14 * 24 * HOUR,
      RefreshToken: 14 * 24 * HOUR
    },
    // A browser (public) client may call from the origins of its redirect URIs: the client
    // app's and the docs page's. Confidential clients have no business calling from a browser.
    clientBasedCORS: (ctx, origin, client) =>
      client.clientAuthMethod === 'none' && (client.redirectUris ?? []).some(uri => URL.canParse(uri) && new URL(uri).origin === origin),
    async renderError (ctx, out) {
      ctx.type = 'html'
      ctx.body = `<!doctype html><title>Error</title><h1>${escape(out.error)}</h1><p>${escape(out.error_description ?? '')}</p>`
    }
  }

  /**
   * The API permissions a token may carry. API access without a user is for
   * local-machine and the added machine clients alone, each its own permissions,
   * whatever a client's metadata says. A user's token carries only what the user
   * holds now (so a revoke holds for refreshed tokens too); a sign-in may ask
   * for any permission known here, and the consent page grants what the user holds.
   */
  function apiScopes (ctx: KoaContextWithOIDC, clientId: string): string {
    if (isClientCredentials(ctx)) {
      if (isLocalMachine(clientId)) return API_SCOPES
      const machine = live.machineClient(clientId)
      if (machine === undefined) {
        throw new errors.UnauthorizedClient('only local-machine and machine clients added with npm run issuer may use client_credentials for this API')
      }
      return machine.permissions.join(' ')
    }
    const accountId = ctx.oidc.route === 'token' ? ctx.oidc.entities.Account?.accountId : undefined
    if (accountId !== undefined) return live.userBySub(accountId)?.permissions.join(' ') ?? ''
    return live.permissions().join(' ')
  }

  const provider = new Provider(issuer, configuration)
  provider.proxy = false
  checkHashedClientSecrets(provider)
  return provider
}

/** The built-in machine clients, which hold every API permission. */
function isLocalMachine (clientId: string | undefined): boolean {
  return clientId === LocalClients.machine || clientId === LocalClients.mtls
}

function requestedAudience (ctx: KoaContextWithOIDC): string | undefined {
  return requestedParam(ctx, 'audience')
}

function requestedParam (ctx: KoaContextWithOIDC, name: string): string | undefined {
  const value = ctx.oidc.params?.[name] ?? (ctx.oidc.body as Record<string, unknown> | undefined)?.[name]
  return typeof value === 'string' && value !== '' ? value : undefined
}

function isClientCredentials (ctx: KoaContextWithOIDC): boolean {
  return ctx.oidc.route === 'token' && ctx.oidc.params?.grant_type === 'client_credentials'
}

export function escape (value: string): string {
  return value.replace(/[&<>"']/g, c => `&#${c.charCodeAt(0)};`)
}
