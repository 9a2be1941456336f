import { performance } from 'node:perf_hooks'
import { channels, type KeyFetchResult, type ProviderDocument } from '../diagnostics/channels.js'

/** Why a fetch from the identity provider failed; for the log, never for a client. */
export class ProviderFetchError extends Error {
  /** How the HTTP fetch failed, when it did (undefined for a fetched document found unusable). */
  readonly result: Exclude<KeyFetchResult, 'ok'> | undefined
  constructor (url: string, reason: string, result?: Exclude<KeyFetchResult, 'ok'>) {
    super(`${url}: ${reason}`)
    this.name = 'ProviderFetchError'
    this.result = result
  }
}

export interface FetchLimits {
  timeout: number
  maxBytes: number
}

/**
 * GET a JSON document within a time limit (connect, headers and body together)
 * and a size limit, following no redirects; published on the keys:fetch channel.
 */
export async function fetchJson (url: string, limits: FetchLimits, document: ProviderDocument): Promise<unknown> {
  if (!channels.keyFetch.hasSubscribers) return getJson(url, limits)
  const started = performance.now()
  let result: KeyFetchResult = 'ok'
  try {
    return await getJson(url, limits)
  } catch (error) {
    result = (error as ProviderFetchError).result ?? 'network_error'
    throw error
  } finally {
    channels.keyFetch.publish({ document, url, result, durationSeconds: (performance.now() - started) / 1000 })
  }
}

async function getJson (url: string, { timeout, maxBytes }: FetchLimits): Promise<unknown> {
  const signal = AbortSignal.timeout(timeout)
  let body: Buffer
  try {
    const response = await fetch(url, { signal, redirect: 'error', headers: { accept: 'application/json' } })
    if (!response.ok) {
      await response.body?.cancel()
      throw new ProviderFetchError(url, `HTTP ${response.status}`, 'http_error')
    }
    body = await readCapped(response, maxBytes, url)
  } catch (error) {
    if (error instanceof ProviderFetchError) throw error
    throw signal.aborted
      ? new ProviderFetchError(url, `no complete answer within ${timeout} ms`, 'timeout')
      : new ProviderFetchError(url, describe(error), 'network_error')
  }
  try {
    return JSON.parse(body.toString('utf8'))
  } catch {
    throw new ProviderFetchError(url, 'the response is not JSON', 'not_json')
  }
}

/** The body of a response, refused past maxBytes (the stream is cancelled, not read to the end). */
export async function readCapped (response: Response, maxBytes: number, url: string): Promise<Buffer> {
  const tooLarge = () => new ProviderFetchError(url, `the response is larger than ${maxBytes} bytes`, 'too_large')
  if (Number(response.headers.get('content-length')) > maxBytes) {
    await response.body?.cancel()
    throw tooLarge()
  }
  const chunks: Uint8Array[] = []
  let size = 0
  if (response.body !== null) {
    for await (const chunk of response.body) {
      size += chunk.byteLength
      // Leaving the loop cancels the stream.
      if (size > maxBytes) throw tooLarge()
      chunks.push(chunk)
    }
  }
  return Buffer.concat(chunks, size)
}

function describe (error: unknown): string {
  const cause = (error as { cause?: { code?: unknown } }).cause
  if (typeof cause?.code === 'string') return cause.code
  return error instanceof Error ? error.message : 'fetch failed'
}
