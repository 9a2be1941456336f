import type { AdapterPayload } from 'oidc-provider'
import type Provider from 'oidc-provider'
import { secretMatches, type LocalClient } from './state.js'

/**
 * What oidc-provider sees of a client added with `npm run issuer -- client add`.
 * A machine client's secret is stored only as its scrypt hash, so its
 * `client_secret` here is that hash, marked, and `compareClientSecret` below
 * checks a presented secret against it (oidc-provider awaits that method for
 * this purpose). Such a client may only authenticate with client_secret_post,
 * so the marked hash is never used as a key.
 */
export function addedClientMetadata (client: LocalClient): AdapterPayload {
  if (client.kind === 'browser') {
    return {
      client_id: client.clientId,
      client_name: client.clientId,
      application_type: 'web',
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      redirect_uris: client.redirectUris,
      post_logout_redirect_uris: [...new Set(client.redirectUris.map(uri => new URL(uri).origin))]
    }
  }
  return {
    client_id: client.clientId,
    client_name: client.clientId,
    client_secret: `${HASHED}${client.salt}:${client.hash}`,
    token_endpoint_auth_method: 'client_secret_post',
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: []
  }
}

const HASHED = 'scrypt-hash:'

/** Makes the provider check marked client secrets as scrypt hashes; other clients' secrets as before. */
export function checkHashedClientSecrets (provider: Provider): void {
  const compare = provider.Client.prototype.compareClientSecret
  provider.Client.prototype.compareClientSecret = async function (actual: string) {
    const stored = this.clientSecret
    if (stored?.startsWith(HASHED) !== true) return compare.call(this, actual)
    const [salt = '', hash = ''] = stored.slice(HASHED.length).split(':')
    return secretMatches(actual, { salt, hash })
  }
}
