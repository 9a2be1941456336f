import type { IncomingHttpHeaders } from 'node:http'

/**
 * Query parameters whose values are credentials, compared case-insensitively
 * with `-` read as `_`. A token in a URL is refused by the API, but would
 * otherwise reach the request log verbatim.
 */
export const CREDENTIAL_PARAMETERS: ReadonlySet<string> = new Set([
  'access_token', 'id_token', 'refresh_token', 'token', 'code', 'client_secret', 'client_assertion', 'assertion',
  'password', 'secret', 'api_key', 'apikey', 'key', 'auth', 'authorization', 'session', 'signature', 'sig'
])

export const REDACTED = '[REDACTED]'

/** What a request log entry is built from: a Fastify request, or Node's when logged directly. */
export interface LoggedRequest {
  method?: string
  url?: string
  headers?: IncomingHttpHeaders
  host?: string
  ip?: string
  socket?: { remotePort?: number } | null
}

/** The URL with the value of every credential-looking query parameter replaced by [REDACTED]. */
export function redactUrl (url: string): string {
  const queryStart = url.indexOf('?')
  if (queryStart === -1) return url
  // Split on & and ; alike (kept in the output): redacting too much is safe, too little is not.
  const parts = url.slice(queryStart + 1).split(/([&;])/)
  const redacted = parts.map(part => {
    const equals = part.indexOf('=')
    const name = equals === -1 ? part : part.slice(0, equals)
    return CREDENTIAL_PARAMETERS.has(normalize(name)) ? `${name}=${REDACTED}` : part
  })
  return url.slice(0, queryStart + 1) + redacted.join('')
}

function normalize (name: string): string {
  let decoded = name.replace(/\+/g, ' ')
  try {
    decoded = decodeURIComponent(decoded)
  } catch {}
  return decoded.trim().toLowerCase().replace(/-/g, '_').replace(/\[[^\]]*\]$/, '')
}

/**
 * Fastify's request serializer (method, url, version, host, remoteAddress,
 * remotePort) with credentials redacted from the URL's query.
 */
export function serializeRequest (request: LoggedRequest) {
  const version = request.headers?.['accept-version']
  return {
    method: request.method,
    url: typeof request.url === 'string' ? redactUrl(request.url) : request.url,
    version: typeof version === 'string' ? version : undefined,
    host: request.host,
    remoteAddress: request.ip,
    remotePort: request.socket?.remotePort
  }
}
