import { randomBytes } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { refuseInProduction } from './production-guard.js'

/**
 * A real RFC 7662 introspection endpoint on 127.0.0.1:0 for tests and benchmarks:
 * opaque tokens issued and revoked on demand, the resource server's client
 * credentials checked (Basic or in the form), every call counted, faults on demand.
 */

/** down: connection reset; error: HTTP 500; slow: answers after slowMs; none: answers at once. */
export type IntrospectionFault = 'none' | 'down' | 'error' | 'slow'

export interface IntrospectionServer {
  /** The endpoint to configure as `introspection.endpoint`. */
  readonly endpoint: string
  readonly clientId: string
  readonly clientSecret: string
  /** Introspection requests received (each one, whatever its answer). */
  calls: number
  /** The most requests it was answering at one time. */
  peakInFlight: number
  fault: IntrospectionFault
  slowMs: number
  /** When set, merged into every active answer: an authorization server that lies. */
  override: Record<string, unknown> | undefined
  /** A new opaque token; its answer is `{ active: true, iss, aud, sub, scope, exp, iat, token_type }` with `claims` over it. */
  issue: (claims?: Record<string, unknown>) => string
  /** From now on the token is inactive. */
  revoke: (token: string) => void
  close: () => Promise<void>
}

export interface IntrospectionServerOptions {
  /** The `iss` of active answers. */
  issuer: string
  /** The `aud` of active answers. */
  audience: string
  clientId?: string
}

/** Refuses to start under NODE_ENV=production. */
export async function startIntrospectionServer ({ issuer, audience, clientId = 'resource-server' }: IntrospectionServerOptions): Promise<IntrospectionServer> {
  refuseInProduction('startIntrospectionServer()')
  const tokens = new Map<string, Record<string, unknown>>()
  const pending = new Set<NodeJS.Timeout>()
  const server = createServer(respond)
  // No idle timeout here: the plugin's introspection client closes idle sockets itself (see createTestIssuer).
  server.keepAliveTimeout = 0
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo

  const endpoint: IntrospectionServer = {
    endpoint: `http://127.0.0.1:${port}/oauth/introspect`,
    clientId,
    clientSecret: randomBytes(16).toString('base64url'),
    calls: 0,
    peakInFlight: 0,
    fault: 'none',
    slowMs: 10_000,
    override: undefined,
    issue (claims = {}) {
      const token = randomBytes(24).toString('base64url')
      const now = Math.floor(Date.now() / 1000)
      tokens.set(token, { active: true, iss: issuer, aud: audience, sub: 'user-1', scope: '', exp: now + 3600, iat: now, token_type: 'Bearer', client_id: 'some-client', ...claims })
      return token
    },
    revoke (token) {
      tokens.delete(token)
    },
    async close () {
      for (const timer of pending) clearTimeout(timer)
      server.closeAllConnections()
      await new Promise(resolve => server.close(resolve))
    }
  }

  let inFlight = 0
  function respond (request: IncomingMessage, response: ServerResponse) {
    endpoint.peakInFlight = Math.max(endpoint.peakInFlight, ++inFlight)
    response.on('close', () => inFlight--)
    const chunks: Buffer[] = []
    request.on('data', chunk => chunks.push(chunk))
    request.on('end', () => {
      endpoint.calls++
      const send = (status: number, body: unknown) => {
        response.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(body))
      }
      if (request.method !== 'POST' || request.url !== '/oauth/introspect') return send(404, { error: 'not_found' })
      const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'))
      if (!authenticated(request.headers.authorization, form)) {
        // RFC 6749 §5.2: a client that authenticated with the Authorization header gets a challenge.
        if (request.headers.authorization !== undefined) response.setHeader('www-authenticate', 'Basic realm="introspection"')
        return send(401, { error: 'invalid_client' })
      }
      const token = form.get('token')
      if (token === null) return send(400, { error: 'invalid_request' })
      const known = tokens.get(token)
      const answer = known === undefined ? { active: false } : { ...known, ...endpoint.override }
      switch (endpoint.fault) {
        case 'down': return request.socket.destroy()
        case 'error': return send(500, { error: 'server_error' })
        case 'slow': {
          const timer = setTimeout(() => {
            pending.delete(timer)
            send(200, answer)
          }, endpoint.slowMs)
          pending.add(timer)
          return
        }
        default: return send(200, answer)
      }
    })
  }

  /** client_secret_basic (RFC 6749 §2.3.1: form-encoded, then Basic) or client_secret_post. */
  function authenticated (header: string | undefined, form: URLSearchParams): boolean {
    if (header?.startsWith('Basic ') === true) {
      const [id, secret] = Buffer.from(header.slice(6), 'base64').toString('utf8').split(':').map(part => decodeURIComponent(part.replace(/\+/g, ' ')))
      return id === endpoint.clientId && secret === endpoint.clientSecret
    }
    return form.get('client_id') === endpoint.clientId && form.get('client_secret') === endpoint.clientSecret
  }

  return endpoint
}
