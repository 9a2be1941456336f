const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]'])

/** Parse an absolute http(s) URL; http: is accepted only for loopback hosts. */
export function parseProviderUrl (value: string): URL | string {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    return 'must be an absolute URL'
  }
  if (url.protocol === 'https:') return url
  if (url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname)) return url
  if (url.protocol === 'http:') return 'must use https: (http: is allowed only for localhost, 127.0.0.1 and [::1])'
  return 'must be an http(s) URL'
}

export function withoutTrailingSlash (value: string): string {
  return value.endsWith('/') ? value.slice(0, -1) : value
}
