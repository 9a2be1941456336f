import type { Socket } from 'node:net'
import type { TLSSocket } from 'node:tls'
import type { FastifyRequest } from 'fastify'
import { countHeader } from './headers.js'
import { describeCertificate, readCertificateHeader, type PresentedCertificate } from '../mtls/certificate.js'
import type { ResolvedMtlsOptions } from '../mtls/options.js'

/** Why a request has no certificate to check against, for the debug log. */
export type NoCertificate = 'none' | 'unverified' | 'header_missing' | 'header_too_large' | 'header_unreadable'

// Distinct header values remembered: a proxy sends one per client certificate, and a bounded
// number of them keeps memory bounded (each value is at most certificateHeader.maxBytes).
const HEADER_CACHE_SIZE = 256

/**
 * Where a request's client certificate comes from: for a request whose socket peer is a
 * trusted proxy, that proxy's header (never the socket's own certificate, which is the
 * proxy's); for anyone else, the TLS connection, and a header they send is ignored.
 * Each connection's certificate is read and hashed once (a WeakMap on the socket), each
 * distinct header value once (a bounded cache).
 */
export function createCertificateSource (options: ResolvedMtlsOptions) {
  const { header, acceptUnverified } = options
  const bySocket = new WeakMap<Socket, PresentedCertificate | NoCertificate>()
  const byHeader = new Map<string, PresentedCertificate | NoCertificate>()

  function fromSocket (socket: Socket): PresentedCertificate | NoCertificate {
    let known = bySocket.get(socket)
    if (known !== undefined) return known
    known = 'none'
    const tls = socket as TLSSocket
    if (tls.encrypted === true) {
      // Present only when the client sent one; `authorized` when it verified against the server's CAs.
      const certificate = tls.getPeerX509Certificate()
      if (certificate !== undefined) known = tls.authorized || acceptUnverified ? describeCertificate(certificate) : 'unverified'
    }
    // A TLS 1.2 client could renegotiate to another certificate of its own; the one first
    // proved on the connection stays its certificate (Node limits renegotiation anyway).
    bySocket.set(socket, known)
    return known
  }

  function fromHeader (request: FastifyRequest, name: string, maxBytes: number, format: NonNullable<typeof header>['format']): PresentedCertificate | NoCertificate {
    const value = request.headers[name]
    if (value === undefined) return 'header_missing'
    // Node joins repeated headers: two certificates are none.
    if (typeof value !== 'string' || countHeader(request.raw.rawHeaders, name) > 1) return 'header_unreadable'
    if (value.length > maxBytes) return 'header_too_large'
    let known = byHeader.get(value)
    if (known !== undefined) return known
    known = readCertificateHeader(value, format) ?? (value === '' ? 'header_missing' : 'header_unreadable')
    if (byHeader.size >= HEADER_CACHE_SIZE) byHeader.delete(byHeader.keys().next().value as string)
    byHeader.set(value, known)
    return known
  }

  /** The request's client certificate, or why there is none. */
  return function certificateOf (request: FastifyRequest): PresentedCertificate | NoCertificate {
    const socket = request.raw.socket
    if (header !== undefined) {
      const peer = socket.remoteAddress
      if (peer !== undefined && header.trustedProxy(peer, 0)) return fromHeader(request, header.name, header.maxBytes, header.format)
    }
    return fromSocket(socket)
  }
}
