import { errors, type ClientMetadata, type Configuration } from 'oidc-provider'
import { LocalClients } from './issuer-info.js'

/**
 * What a dynamically registered client (RFC 7591) may be. Registration stays for
 * the SPA samples that register themselves, so it admits browser apps only:
 * public clients (no secret) using the authorization code flow, whose API access
 * comes from the signed-in user's permissions. API access without a user belongs
 * to the built-in local-machine client and the machine clients a developer adds
 * with `npm run issuer -- client add --machine`, never to a registered one.
 */
export const RegistrationPolicy = {
  grantTypes: ['authorization_code', 'refresh_token'],
  responseTypes: ['code'],
  /** The client's metadata as JSON: a sample app needs a few hundred bytes. */
  maxBytes: 4096,
  /** Registered clients kept in the data folder; past this, registration is refused. */
  maxClients: 100
} as const

const builtIn = new Set<string>(Object.values(LocalClients))

/**
 * oidc-provider's hook that sees every client's whole metadata: on registration,
 * and again whenever a stored client is loaded, so a client registered before
 * this policy existed is refused too. The built-in clients are set in code; the
 * added ones come from state.json (`isAdded`), which registration cannot write,
 * and are found before any registered client of the same id.
 */
export function createRegisteredClientPolicy (isAdded: (clientId: string | undefined) => boolean): NonNullable<Configuration['extraClientMetadata']> {
  return {
    properties: ['client_name'],
    validator (ctx, key, value, metadata) {
      if (key !== 'client_name' || builtIn.has(metadata.client_id) || isAdded(metadata.client_id)) return
      checkRegisteredClient(metadata)
    }
  }
}

function checkRegisteredClient (metadata: ClientMetadata): void {
  if (metadata.token_endpoint_auth_method !== 'none') {
    throw new errors.InvalidClientMetadata('token_endpoint_auth_method must be none: only public (browser) clients may register here')
  }
  const grantTypes = metadata.grant_types ?? []
  if (!grantTypes.every(grant => (RegistrationPolicy.grantTypes as readonly string[]).includes(grant))) {
    throw new errors.InvalidClientMetadata(`grant_types may only hold ${RegistrationPolicy.grantTypes.join(' and ')}: client_credentials is for local-machine and machine clients added with npm run issuer`)
  }
  if (!(metadata.response_types ?? []).every(type => (RegistrationPolicy.responseTypes as readonly string[]).includes(type))) {
    throw new errors.InvalidClientMetadata('response_types may only hold code')
  }
  if (Buffer.byteLength(JSON.stringify(metadata)) > RegistrationPolicy.maxBytes) {
    throw new errors.InvalidClientMetadata(`client metadata must be at most ${RegistrationPolicy.maxBytes} bytes as JSON`)
  }
}
