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

// Hosts fit to quote inside a challenge parameter and to name a resource.
const SAFE_HOST = /^[A-Za-z0-9.-]+(?::\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](?::\d{1,5})?$/

/**
 * RFC 9728 protected resource metadata, and the `resource_metadata` challenge
 * parameter (§5.1) that points clients at it. Both name one resource: the configured
 * one, or else the origin the request was sent to, so that the document fetched at
 * `<origin>/.well-known/oauth-protected-resource` says `resource: <origin>` (§3.3: a
 * client discards metadata whose resource is not the URL it fetched it for). That
 * origin is `request.protocol` and `request.host`: Fastify takes them from
 * X-Forwarded-Proto and -Host only when the socket peer is a proxy `trustProxy` trusts.
 */
export function registerResourceMetadata (fastify: FastifyInstance, options: ResolvedOptions, scopesSupported: readonly string[], dpop?: DpopMetadata, mtls = false) {
  const configured = options.resourceMetadataResource
  const resourceOf = (request: FastifyRequest): string | undefined => {
    if (configured !== undefined) return configured
    const { protocol, host } = request
    return (protocol === 'http' || protocol === 'https') && SAFE_HOST.test(host) ? `${protocol}://${host}` : undefined
  }

  const described = {
    // Every trusted issuer, in the configured order (RFC 9728 §2).
    authorization_servers: options.issuers.map(each => each.issuer),
    scopes_supported: [...scopesSupported],
    bearer_methods_supported: ['header'],
    resource_signing_alg_values_supported: [...new Set(options.issuers.flatMap(each => [...each.algorithms]))],
    // RFC 9728 §2, from RFC 9449: announced when the plugin's mode takes DPoP.
    ...(dpop?.enabled === true && {
      dpop_signing_alg_values_supported: [...dpop.algorithms],
      dpop_bound_access_tokens_required: dpop.required
    }),
    // RFC 9728 §2, from RFC 8705: announced when the plugin is told client certificates reach it.
    ...(mtls && { tls_client_certificate_bound_access_tokens: true })
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
            dpop_bound_access_tokens_required: { type: 'boolean' },
            tls_client_certificate_bound_access_tokens: { type: 'boolean' }
          }
        },
        400: { type: 'object', properties: { message: { type: 'string' } } }
      }
    }
  }, async (request, reply) => {
    const resource = resourceOf(request)
    // A Host that is no host name: no URL this document could be the metadata of.
    if (resource === undefined) return reply.code(400).send({ message: 'The Host header does not name this server' })
    return { resource, ...described }
  })

  /** The error, its challenge pointing at this server's metadata document. */
  return function withResourceMetadata (error: AuthError, request: FastifyRequest): AuthError {
    const challenge = error.headers['www-authenticate']
    const resource = challenge === undefined ? undefined : resourceOf(request)
    if (resource === undefined) return error
    error.headers['www-authenticate'] = `${challenge}, resource_metadata="${resource}${RESOURCE_METADATA_PATH}"`
    return error
  }
}
