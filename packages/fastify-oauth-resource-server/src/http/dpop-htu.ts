import type { FastifyRequest } from 'fastify'
import { normalizeHtu } from '../dpop/proof.js'

// Any origin: the request path is normalised alike under every http(s) origin.
const BASE = 'http://localhost'
// What a trusted proxy may forward as the host: a DNS name or IPv4 address, or a bracketed IPv6 one, and a port.
const FORWARDED_HOST = /^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/

/**
 * The htu values a proof for a request may name: each configured origin plus the
 * request's path and, for a request whose socket peer is a trusted proxy that sent
 * X-Forwarded-Host, that proxy's origin. Never anything from a header a client can
 * set: not the Host header, not X-Forwarded-* from any other peer. Fastify's
 * `request.host` and `request.protocol` fall back to the Host header when the peer
 * is not trusted, so they are not used.
 */
export function createHtuList (origins: readonly string[], trustedProxy: ((address: string, hop: number) => boolean) | undefined) {
  /** The origin the trusted proxy that sent this request names, if it sent one. */
  function forwardedOrigin (request: FastifyRequest): string | undefined {
    const socket = request.raw.socket
    const peer = socket?.remoteAddress
    if (peer === undefined || !(trustedProxy as NonNullable<typeof trustedProxy>)(peer, 0)) return undefined
    const host = lastValue(request.headers['x-forwarded-host'])
    if (host === undefined || !FORWARDED_HOST.test(host)) return undefined
    const proto = lastValue(request.headers['x-forwarded-proto'])?.toLowerCase() ?? ((socket as { encrypted?: boolean }).encrypted === true ? 'https' : 'http')
    return proto === 'https' || proto === 'http' ? `${proto}://${host}` : undefined
  }

  return function urlsOf (request: FastifyRequest): string[] {
    const query = request.url.indexOf('?')
    const path = query === -1 ? request.url : request.url.slice(0, query)
    // An absolute-form request target (GET http://host/…) names its own host: never trusted.
    if (!path.startsWith('/')) return []
    const url = normalizeHtu(BASE + path)
    if (url === undefined || !url.startsWith(`${BASE}/`)) return []
    const pathname = url.slice(BASE.length)
    const urls = origins.map(origin => origin + pathname)
    if (trustedProxy !== undefined) {
      const origin = forwardedOrigin(request)
      const forwarded = origin === undefined ? undefined : normalizeHtu(origin + pathname)
      if (forwarded !== undefined) urls.push(forwarded)
    }
    return urls
  }
}

/** The last value of a header a proxy may have appended to (as Fastify reads X-Forwarded-*). */
function lastValue (header: string | string[] | undefined): string | undefined {
  const value = Array.isArray(header) ? header[header.length - 1] : header
  if (value === undefined) return undefined
  const comma = value.lastIndexOf(',')
  const last = (comma === -1 ? value : value.slice(comma + 1)).trim()
  return last === '' ? undefined : last
}
