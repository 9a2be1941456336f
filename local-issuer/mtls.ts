import { X509Certificate } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { createServer, type Server } from 'node:https'
import type { AddressInfo } from 'node:net'
import type { TLSSocket } from 'node:tls'
import type { ClientAuthMethod, ClientMetadata, Configuration, KoaContextWithOIDC } from 'oidc-provider'
import { LocalClients } from './issuer-info.js'

/** The service's own HTTPS files: the server certificate and key, and the CA its clients' certificates come from. */
export interface IssuerTls {
  cert: string
  key: string
  clientCa: string
}

/** The client certificate's subject the local-mtls client authenticates with (npm run dev-certs makes it). */
export const MTLS_CLIENT_SUBJECT_DN = `CN=${LocalClients.mtls}`

/** oidc-provider's default methods, and tls_client_auth (dynamic registration still allows `none` only: registration.ts). */
export const MTLS_CLIENT_AUTH_METHODS: ClientAuthMethod[] = ['client_secret_basic', 'client_secret_jwt', 'client_secret_post', 'private_key_jwt', 'none', 'tls_client_auth']

/**
 * RFC 8705 at the local issuer: a client authenticates with a certificate of the service's
 * client CA (tls_client_auth) and gets access tokens bound to it (cnf.x5t#S256). The
 * certificate is read from the TLS connection only, never from a header.
 */
export function mtlsFeature (): NonNullable<NonNullable<Configuration['features']>['mTLS']> {
  return {
    enabled: true,
    certificateBoundAccessTokens: true,
    tlsClientAuth: true,
    getCertificate: ctx => peerCertificate(ctx),
    // Verified by the TLS layer against the client CA (requestCert, not rejectUnauthorized).
    certificateAuthorized: ctx => (ctx.socket as Partial<TLSSocket>).authorized === true,
    certificateSubjectMatches: (ctx, property, expected) =>
      property === 'tls_client_auth_subject_dn' && subjectDn(peerCertificate(ctx)) === expected
  }
}

/** The machine client whose tokens are bound to its certificate. */
export function mtlsClient (scope: string): ClientMetadata {
  return {
    client_id: LocalClients.mtls,
    client_name: 'Local machine client with a certificate (RFC 8705)',
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    token_endpoint_auth_method: 'tls_client_auth',
    tls_client_auth_subject_dn: MTLS_CLIENT_SUBJECT_DN,
    tls_client_certificate_bound_access_tokens: true,
    scope
  }
}

/**
 * A second, HTTPS listener for the issuer's endpoints, asking for client certificates of the
 * service's client CA (RFC 8705 §5's separate mTLS endpoint): discovery and keys stay on the
 * plain HTTP port the API fetches them from, which knows nothing of the development CA.
 */
export async function listenMtls (tls: IssuerTls, host: string, handle: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ server: Server, url: string }> {
  const server = createServer({ cert: tls.cert, key: tls.key, ca: tls.clientCa, requestCert: true, rejectUnauthorized: false }, handle)
  server.keepAliveTimeout = 0
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, host, () => resolve())
  })
  return { server, url: `https://${host}:${(server.address() as AddressInfo).port}` }
}

function peerCertificate (ctx: KoaContextWithOIDC): X509Certificate | undefined {
  const socket = ctx.socket as Partial<TLSSocket>
  if (typeof socket.getPeerCertificate !== 'function') return undefined
  const raw = socket.getPeerCertificate().raw as Buffer | undefined
  return raw === undefined ? undefined : new X509Certificate(raw)
}

/** RFC 4514 order (most specific first) of the subject node:crypto lists one RDN a line. */
function subjectDn (certificate: X509Certificate | undefined): string | undefined {
  return certificate?.subject.split('\n').reverse().join(',')
}
