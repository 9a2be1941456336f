import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import helmet, { type HelmetOptions } from 'helmet'

/** The headers of the Auth0 Hello World API samples. */
export const SampleHeaders = {
  contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ["'self'"], frameAncestors: ["'none'"] } },
  frameguard: { action: 'deny' },
  referrerPolicy: { policy: 'no-referrer' },
  hsts: { maxAge: 31_536_000, includeSubDomains: true }
} as const satisfies HelmetOptions

/** Helmet's options, and other headers that are the same on every response (CORS's). */
export type SecurityHeadersOptions = HelmetOptions & { staticHeaders?: Record<string, string> }

/**
 * The response headers helmet sets for these options, with no-store caching.
 * Without CSP nonces they never change, so helmet runs once at start-up and each
 * request only copies the result: @fastify/helmet rebuilds helmet on every request,
 * CPU spent on every response for headers that never change.
 */
export function createSecurityHeaders (options: HelmetOptions): Record<string, string> {
  const headers: Record<string, string> = {}
  const response = {
    setHeader (name: string, value: string | number) { headers[name.toLowerCase()] = String(value) },
    removeHeader (name: string) { delete headers[name.toLowerCase()] }
  }
  helmet(options)({} as never, response as never, (error?: unknown) => { if (error) throw error })
  headers['cache-control'] = 'no-store'
  return headers
}

async function securityHeaders (fastify: FastifyInstance, { staticHeaders = {}, ...options }: SecurityHeadersOptions) {
  // One object for all of them: one hook and one `reply.headers` call a request.
  const headers = { ...createSecurityHeaders(options), ...staticHeaders }
  fastify.addHook('onRequest', function setSecurityHeaders (request, reply, done) {
    reply.headers(headers)
    done()
  })
}

export default fp(securityHeaders, { name: 'security-headers', fastify: '5.x' })
