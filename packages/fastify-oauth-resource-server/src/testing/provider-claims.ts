import { randomUUID } from 'node:crypto'
import type { Claims } from './test-issuer.js'

/**
 * Claims shaped as each provider documents its access tokens, for `idp.token({ claims })`:
 * test a route with the `permissionsClaim` of your provider against the token it really
 * sends. `iss`, `aud`, `exp` and `iat` stay the test issuer's. Each claim can be overridden
 * with `extra`, and `undefined` drops one.
 */

/**
 * Keycloak: realm roles in `realm_access.roles`, each client's in `resource_access.<client>.roles`
 * (https://www.keycloak.org/docs-api/latest/javadocs/org/keycloak/representations/AccessToken.html).
 */
export function keycloakClaims ({ realmRoles = [], clientRoles = {}, scope = 'openid email profile', extra = {} }: { realmRoles?: string[], clientRoles?: Record<string, string[]>, scope?: string, extra?: Claims } = {}): Claims {
  const resourceAccess: Record<string, { roles: string[] }> = { account: { roles: ['manage-account', 'view-profile'] } }
  for (const [client, roles] of Object.entries(clientRoles)) resourceAccess[client] = { roles }
  return {
    jti: randomUUID(),
    typ: 'Bearer',
    azp: 'test-client',
    sid: randomUUID(),
    acr: '1',
    realm_access: { roles: ['offline_access', 'uma_authorization', ...realmRoles] },
    resource_access: resourceAccess,
    scope,
    email_verified: true,
    preferred_username: 'alice',
    ...extra
  }
}

/**
 * Entra ID (v2.0): application permissions in `roles` (an array), delegated ones in `scp`
 * (space-separated), with `tid`, `oid`, `azp` and `ver`
 * (https://learn.microsoft.com/en-us/entra/identity-platform/access-token-claims-reference).
 */
export function entraClaims ({ roles, scp, tenantId = '72f988bf-86f1-41af-91ab-2d7cd011db47', extra = {} }: { roles?: string[], scp?: string | string[], tenantId?: string, extra?: Claims } = {}): Claims {
  return {
    azp: '6e74172b-be56-4843-9ff4-e66a39bb12e3',
    azpacr: '0',
    oid: '690222be-ff1a-4d56-abd1-7e4f7d38e474',
    tid: tenantId,
    uti: 'fqiBqXLPj0eQa82S-IYFAA',
    ver: '2.0',
    ...(roles === undefined ? {} : { roles }),
    ...(scp === undefined ? {} : { scp: [scp].flat().join(' ') }),
    ...extra
  }
}

/**
 * Okta (custom authorization server): scopes in `scp`, an array, with `cid`, `uid` and `ver`
 * (https://developer.okta.com/docs/api/resources/oidc.html, "Access token").
 */
export function oktaClaims ({ scp = ['openid'], extra = {} }: { scp?: string[], extra?: Claims } = {}): Claims {
  return { ver: 1, jti: `AT.${randomUUID()}`, cid: '0oa1example2client3', uid: '00u1example2user3', scp, ...extra }
}

/**
 * Cognito user pools: groups in `cognito:groups` (an array), scopes in `scope`
 * (space-separated), `token_use: 'access'`, `client_id`, `username`
 * (https://docs.aws.amazon.com/cognito/latest/developerguide/amazon-cognito-user-pools-using-the-access-token.html).
 * Cognito's own access tokens carry no `aud`; the test issuer's do.
 */
export function cognitoClaims ({ groups, scope = 'aws.cognito.signin.user.admin', extra = {} }: { groups?: string[], scope?: string, extra?: Claims } = {}): Claims {
  return {
    ...(groups === undefined ? {} : { 'cognito:groups': groups }),
    token_use: 'access',
    scope,
    jti: randomUUID(),
    client_id: '57cbishk4j24pabc1234567890',
    username: 'janedoe@example.com',
    ...extra
  }
}

/**
 * Auth0: RBAC `permissions` (an array) and `scope`, and namespaced claims an Action adds, such
 * as roles at `<namespace>/roles` (https://auth0.com/docs/secure/tokens/json-web-tokens/create-custom-claims).
 */
export function auth0Claims ({ permissions, scope, roles, namespace = 'https://example.com', extra = {} }: { permissions?: string[], scope?: string, roles?: string[], namespace?: string, extra?: Claims } = {}): Claims {
  return {
    azp: 'test-client',
    ...(permissions === undefined ? {} : { permissions }),
    ...(scope === undefined ? {} : { scope }),
    ...(roles === undefined ? {} : { [`${namespace}/roles`]: roles }),
    ...extra
  }
}
