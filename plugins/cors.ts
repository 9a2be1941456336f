import cors from '@fastify/cors'
import type { FastifyInstance } from 'fastify'

/** CORS for the one client origin the service serves. */
export interface CorsOptions {
  origin: string
  methods: string[]
  allowedHeaders: string[]
  exposedHeaders: string[]
  maxAgeSeconds: number
}

/**
 * The CORS headers @fastify/cors puts on every response for a fixed origin: the same on
 * each, so they are sent with the security headers, from one precomputed set.
 */
export function createCorsHeaders ({ origin, exposedHeaders }: CorsOptions): Record<string, string> {
  return { 'access-control-allow-origin': origin, 'access-control-expose-headers': exposedHeaders.join(', ') }
}

/**
 * Preflights (OPTIONS), answered by @fastify/cors. Registered as an encapsulated plugin
 * (not `fp`): @fastify/cors's per-request hook, which copies its options and resolves the
 * origin on every request, then runs only on the OPTIONS route it adds here; every other
 * response gets the same two headers from `createCorsHeaders`.
 */
async function preflight (fastify: FastifyInstance, { origin, methods, allowedHeaders, exposedHeaders, maxAgeSeconds }: CorsOptions) {
  await fastify.register(cors, { origin, methods, allowedHeaders, exposedHeaders, maxAge: maxAgeSeconds })
}

export default preflight
