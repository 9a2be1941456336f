import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { AuthError } from './errors.js'
import type { ResolvedOptions } from '../options.js'

/** What the metadata says of DPoP (from the plugin's own mode, not per-route overrides). */
export interface DpopMetadata {
  enabled: boolean
  required: boolean
  algorithms: readonly string[]
}

export const RESOURCE_METADATA_PATH = '/.well-known/oauth-protected-resource'

// Hosts fit to quote inside a challenge parameter.
const SAFE_HOST = /^[A-Za-z0-9.-]+(?::\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](?::\d{1,5})?$/

/**
 * RFC 9728 protected resource metadata, and the `resource_metadata` challenge
 * parameter (§5.1) that points clients at it.
 */
export function registerResourceMetadata (fastify: FastifyInstance, options: ResolvedOptions, scopesSupported: readonly string[], dpop?: DpopMetadata) {
  const document = {
    // One resource identifier: the first issuer's first audience.
    resource: options.issuers[0]!.audience[0],
    // Every trusted issuer, in the configured order (RFC 9728 §2).
    authorization_servers: options.issuers.map(each => each.issuer),
    scopes_supported: [...scopesSupported],
    bearer_methods_supported: ['header'],
    resource_signing_alg_values_supported: [...new Set(options.issuers.flatMap(each => [...each.algorithms]))],
    // RFC 9728 §2, from RFC 9449: announced when the plugin's mode takes DPoP.
    ...(dpop?.enabled === true && {
      dpop_signing_alg_values_supported: [...dpop.algorithms],
      dpop_bound_access_tokens_required: dpop.required
    })
  }
  const strings = { type: 'array', items: { type: 'string' } }
  fastify.get(RESOURCE_METADATA_PATH, {
    schema: {
      summary: 'OAuth 2.0 Protected Resource Metadata (RFC 9728)',
      response: {
        200: {
          type: 'object',
          properties: {
            resource: { type: 'string' },
            authorization_servers: strings,
            scopes_supported: strings,
            bearer_methods_supported: strings,
            resource_signing_alg_values_supported: strings,
            dpop_signing_alg_values_supported: strings,
            dpop_bound_access_tokens_required: { type: 'boolean' }
          }
        }
      }
    }
  }, async () => document)

  /** The error, its challenge pointing at this server's metadata document. */
  return function withResourceMetadata (error: AuthError, request: FastifyRequest): AuthError {
    const challenge = error.headers['www-authenticate']
    if (challenge === undefined || !SAFE_HOST.test(request.host)) return error
    error.headers['www-authenticate'] = `${challenge}, resource_metadata="${request.protocol}://${request.host}${RESOURCE_METADATA_PATH}"`
    return error
  }
}
