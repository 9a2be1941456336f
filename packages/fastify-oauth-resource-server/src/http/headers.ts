/**
 * How many times a header was sent, from the raw headers: Node keeps only the first
 * Authorization header and joins repeated unknown ones (DPoP) with ", ", so the
 * parsed headers cannot tell. `name` in lowercase.
 */
export function countHeader (rawHeaders: string[], name: string): number {
  let seen = 0
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const raw = rawHeaders[i] as string
    if (raw.length === name.length && raw.toLowerCase() === name) seen++
  }
  return seen
}
