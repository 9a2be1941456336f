import type { FastifyInstance, FastifyRequest } from 'fastify'
import { MTLS_MODES, type ResolvedMtlsOptions } from '../mtls/options.js'
import type { MtlsMode } from '../mtls/types.js'
import type { AccessTokenClaims } from '../types.js'
import { createCertificateSource } from './client-certificate.js'
import { InvalidTokenError, type AuthError } from './errors.js'

export const MtlsRefusals = {
  // RFC 8705 §3: the certificate presented is not the one the token is bound to (or there is none).
  mtls_certificate_mismatch: 'The client certificate does not match the certificate the access token is bound to',
  mtls_required: 'Requires an access token bound to a client certificate'
} as const

/**
 * The certificate-binding step of `authenticate` (RFC 8705 §3), after the access token
 * verified: a token whose `cnf` has `x5t#S256` only with the client certificate of that
 * thumbprint, on every route and whatever the options; on a route whose mode (the plugin's,
 * or the route's `config.mtls`) is required, only such a token.
 */
export function createMtlsStep (fastify: FastifyInstance, options: ResolvedMtlsOptions, realm: string) {
  const certificateOf = createCertificateSource(options)
  let routesOverride = false

  fastify.addHook('onRoute', route => {
    const mode = (route.config as { mtls?: unknown } | undefined)?.mtls
    if (mode === undefined) return
    if (!MTLS_MODES.includes(mode as MtlsMode)) {
      throw new Error(`auth plugin: route ${route.method} ${route.url} has config.mtls ${JSON.stringify(mode)}; use one of ${MTLS_MODES.join(', ')}`)
    }
    if (mode === 'required' && !options.enabled) {
      throw new Error(`auth plugin: route ${route.method} ${route.url} requires certificate-bound tokens but the plugin has no mtls option`)
    }
    routesOverride = true
  })

  const mismatch = (request: FastifyRequest, why: string) => {
    // Why only, a fixed code: never the certificate or the token.
    request.log.debug({ certificate: why }, 'certificate-bound token without its certificate')
    return new InvalidTokenError(realm, MtlsRefusals.mtls_certificate_mismatch, 'mtls_certificate_mismatch')
  }

  return {
    /** RFC 9728: whether the plugin was told certificates reach it. */
    metadata: options.enabled,

    /** Null when the token may be used on this request, else the error to answer. */
    check (request: FastifyRequest, claims: AccessTokenClaims): AuthError | null {
      const cnf = claims.cnf as Record<string, unknown> | undefined
      const bound = cnf?.['x5t#S256']
      if (bound === undefined) {
        const mode = routesOverride ? request.routeOptions.config.mtls ?? options.mode : options.mode
        return mode === 'required' ? new InvalidTokenError(realm, MtlsRefusals.mtls_required, 'mtls_required') : null
      }
      const presented = certificateOf(request)
      if (typeof presented === 'string') return mismatch(request, presented)
      if (bound !== presented.thumbprint) return mismatch(request, 'other')
      const now = Date.now()
      // RFC 8705 binds the token to the certificate, which is only the client's while valid.
      if (now < presented.notBefore || now > presented.notAfter) return mismatch(request, 'expired')
      return null
    }
  }
}
