/**
 * A JOSE header's `typ` as compared: lowercase, without the `application/` prefix it may
 * omit (RFC 7515 §4.1.9), so `at+jwt`, `application/at+JWT` and `AT+JWT` are one type.
 * Anything that is not a string is `''`, which names no type.
 */
export function normalizeMediaType (typ: unknown): string {
  return typeof typ === 'string' ? typ.toLowerCase().replace(/^application\//, '') : ''
}
