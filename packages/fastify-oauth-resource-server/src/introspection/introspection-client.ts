import { Agent as HttpAgent, request as httpRequest, type IncomingMessage, type RequestOptions } from 'node:http'
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https'
import { ProviderFetchError } from '../keys/fetch-json.js'

export interface IntrospectionClientOptions {
  /** The most response bytes read; past it the call fails. */
  maxResponseBytes: number
  /** Sockets kept open to the endpoint: the introspector's concurrency. */
  maxSockets: number
}

/** What oauth4webapi hands its `customFetch`: a URL string and a plain request (headers an object, the body a form). */
export interface FetchInit {
  method?: string
  headers?: Record<string, string>
  body?: unknown
  signal?: AbortSignal | null
}

export interface IntrospectionClient {
  /** A `fetch` for oauth4webapi's `customFetch`: no redirects followed, the body read within the cap. */
  fetch: (url: string, init: FetchInit) => Promise<Response>
  /** Closes the kept-open sockets. */
  close: () => void
}

// Response bodies a Response may not carry (Fetch standard "null body status").
const NULL_BODY_STATUS = new Set([101, 103, 204, 205, 304])
// Idle kept-open sockets close after this, as fetch's own pool does.
const IDLE_SOCKET_MS = 4_000

/**
 * The HTTP client of introspection calls: node:http(s) with one keep-alive agent per
 * endpoint scheme, instead of the global fetch. A flood of opaque tokens makes one call
 * per token (up to maxCallsPerSecond), and each fetch call left several times more
 * garbage that outlived the young generation, so the heap, and the process's peak
 * memory, grew with the flood; these calls leave little. What fetch was asked for is
 * kept: a redirect is an error (never followed), the signal aborts the connection,
 * the headers and the body too, and the body is refused past `maxResponseBytes`.
 * TLS is node:https's, certificates checked as fetch checks them.
 */
export function createIntrospectionClient ({ maxResponseBytes, maxSockets }: IntrospectionClientOptions): IntrospectionClient {
  const agentOptions = { keepAlive: true, maxSockets, timeout: IDLE_SOCKET_MS }
  const http = new HttpAgent(agentOptions)
  const https = new HttpsAgent(agentOptions)

  function fetch (url: string, init: FetchInit): Promise<Response> {
    return new Promise((resolve, reject) => {
      const { protocol } = new URL(url)
      if (protocol !== 'http:' && protocol !== 'https:') return reject(new TypeError(`${url}: only http and https are supported`))
      const body = init.body === undefined || init.body === null ? undefined : String(init.body)
      const options: RequestOptions = {
        method: init.method ?? 'GET',
        headers: { ...init.headers, ...(body === undefined ? {} : { 'content-length': String(Buffer.byteLength(body)) }) },
        agent: protocol === 'https:' ? https : http,
        ...(init.signal == null ? {} : { signal: init.signal })
      }
      const request = (protocol === 'https:' ? httpsRequest : httpRequest)(url, options, response => {
        readCapped(response, url).then(read => {
          const status = response.statusCode ?? 0
          if (status >= 300 && status < 400) throw new ProviderFetchError(url, `redirected (HTTP ${status}): redirects are not followed`, 'http_error')
          const headers = new Headers()
          const raw = response.rawHeaders
          for (let i = 0; i < raw.length; i += 2) headers.append(raw[i]!, raw[i + 1]!)
          return new Response(NULL_BODY_STATUS.has(status) || read.length === 0 ? null : read, { status, statusText: response.statusMessage ?? '', headers })
        }).then(resolve, reject)
      })
      request.on('error', reject)
      request.end(body)
    })
  }

  /** The body, refused past maxResponseBytes (the connection is closed, not read to the end). */
  function readCapped (response: IncomingMessage, url: string): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const tooLarge = () => new ProviderFetchError(url, `the response is larger than ${maxResponseBytes} bytes`, 'too_large')
      if (Number(response.headers['content-length']) > maxResponseBytes) {
        response.destroy()
        return reject(tooLarge())
      }
      const chunks: Buffer[] = []
      let size = 0
      response.on('data', (chunk: Buffer) => {
        size += chunk.length
        if (size > maxResponseBytes) {
          response.destroy()
          reject(tooLarge())
        } else {
          chunks.push(chunk)
        }
      })
      response.on('end', () => resolve(Buffer.concat(chunks, size)))
      response.on('error', reject)
      // Closed before its end (reset, aborted): no complete answer.
      response.on('close', () => {
        if (!response.complete) reject(new ProviderFetchError(url, 'the connection closed before the response ended', 'network_error'))
      })
    })
  }

  return {
    fetch,
    close () {
      http.destroy()
      https.destroy()
    }
  }
}
