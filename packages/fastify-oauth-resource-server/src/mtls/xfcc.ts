/** The parts of an XFCC element the plugin reads: the client certificate, or its hash. */
export interface XfccElement {
  /** `Cert=`: the URL-encoded PEM of the client certificate. */
  cert: string | undefined
  /** `Hash=`: the hex SHA-256 of its DER. */
  hash: string | undefined
}

/**
 * Envoy's x-forwarded-client-cert: elements separated by commas, each `key=value` pairs
 * separated by semicolons, keys case-insensitive, a value double-quoted when it holds
 * `,`, `;` or `=`, with `\"` for a quote inside. Only a header of exactly one element is
 * read: several mean proxies appended their own peers (Envoy's APPEND_FORWARD), and which
 * one is the client's is not ours to guess; the proxy in front should SANITIZE_SET.
 * Undefined for anything malformed: an unterminated quote, a pair without `=`, a second
 * `Cert` or `Hash`. One pass over the value, which the caller has bounded in length.
 */
export function parseXfcc (value: string): XfccElement | undefined {
  const element: XfccElement = { cert: undefined, hash: undefined }
  let i = 0
  const length = value.length
  while (i < length) {
    const equals = value.indexOf('=', i)
    if (equals === -1) return undefined
    const key = value.slice(i, equals).trim().toLowerCase()
    if (key === '' || /[",;]/.test(key)) return undefined
    i = equals + 1
    let pairValue: string
    if (value[i] === '"') {
      let text = ''
      i++
      for (;;) {
        if (i >= length) return undefined
        const char = value[i] as string
        if (char === '\\' && value[i + 1] === '"') {
          text += '"'
          i += 2
        } else if (char === '"') {
          i++
          break
        } else {
          text += char
          i++
        }
      }
      pairValue = text
    } else {
      let end = i
      while (end < length && value[end] !== ';' && value[end] !== ',') end++
      pairValue = value.slice(i, end)
      if (pairValue.includes('=') || pairValue.includes('"')) return undefined
      i = end
    }
    if (key === 'cert' || key === 'hash') {
      if (element[key] !== undefined) return undefined
      element[key] = pairValue
    }
    if (i >= length) break
    // A comma outside quotes starts a second element.
    if (value[i] !== ';') return undefined
    i++
  }
  return element
}
