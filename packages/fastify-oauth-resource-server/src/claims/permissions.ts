import type { AccessTokenClaims } from '../types.js'
import { createClaimReader, toClaimPath, type ClaimPath } from './claim-path.js'

/** Auth0's RBAC `permissions` array and the OAuth `scope` string: the default. */
export const DEFAULT_PERMISSIONS_CLAIM: readonly ClaimPath[] = Object.freeze([Object.freeze(['permissions']), Object.freeze(['scope'])])

/** Whether the claims grant a permission (exact, case-sensitive). */
export type Grants = (claims: AccessTokenClaims, permission: string) => boolean

/**
 * The paths of a `permissionsClaim` option, or why not (a sentence to follow its name).
 * A string is one path; an array holds paths, each text or an array of keys.
 */
export function resolvePermissionsClaim (given: unknown): ClaimPath[] | string {
  const entries: unknown[] = Array.isArray(given) ? given : [given]
  if (entries.length === 0) return 'must name at least one claim path'
  const paths: ClaimPath[] = []
  for (const [i, entry] of entries.entries()) {
    const path = toClaimPath(entry)
    if (typeof path === 'string') return Array.isArray(given) ? `[${i}] ${path}` : path
    paths.push(path)
  }
  return paths
}

/**
 * The form a value must have at a path. Two claims have one by their definition and keep
 * it, so a look-alike of the other form grants nothing: `scope` is a space-separated
 * string (RFC 8693 §4.2, RFC 9068 §2.2.3), Auth0's `permissions` an array of strings.
 * Any other path takes either form (Okta's `scp` is an array, Entra ID's a string).
 */
function formOf (path: ClaimPath): 'string' | 'array' | 'either' {
  if (path.length !== 1) return 'either'
  return path[0] === 'scope' ? 'string' : path[0] === 'permissions' ? 'array' : 'either'
}

/** Whether `item` is one of the space-separated entries of `list`, without splitting it. */
export function listed (list: string, item: string): boolean {
  // An entry holds no space: 'a b' must not match across two entries.
  if (item === '' || item.includes(' ')) return false
  for (let at = list.indexOf(item); at !== -1; at = list.indexOf(item, at + 1)) {
    const end = at + item.length
    if ((at === 0 || list.charCodeAt(at - 1) === 0x20) && (end === list.length || list.charCodeAt(end) === 0x20)) return true
  }
  return false
}

/**
 * Grants from these paths, compiled once. A value grants a permission when it is a
 * space-separated string listing it, or an array with it as one of its strings; any other
 * value (a number, an object, an array's non-string entries, a string in an array that only
 * contains the permission) grants nothing and is never coerced.
 */
export function createGrants (paths: readonly ClaimPath[]): Grants {
  const readers = paths.map(path => ({ read: createClaimReader(path), form: formOf(path) }))
  return function grants (claims, permission) {
    for (const { read, form } of readers) {
      const value = read(claims)
      if (typeof value === 'string') {
        if (form !== 'array' && listed(value, permission)) return true
      } else if (Array.isArray(value)) {
        if (form !== 'string' && value.includes(permission)) return true
      }
    }
    return false
  }
}

/**
 * Grants by the issuer that verified the token, when issuers read permissions from
 * different claims: `select` finds the issuer by the verified `iss`. One set of paths for
 * all: a single Grants, with no look-up.
 */
export function createIssuerGrants<T> (entries: ReadonlyArray<readonly [T, readonly ClaimPath[]]>, select: (iss: unknown) => T | undefined): Grants {
  const key = (paths: readonly ClaimPath[]) => JSON.stringify(paths)
  const first = entries[0]
  if (first === undefined || entries.every(([, paths]) => key(paths) === key(first[1]))) return createGrants(first?.[1] ?? DEFAULT_PERMISSIONS_CLAIM)
  const byIssuer = new Map(entries.map(([issuer, paths]) => [issuer, createGrants(paths)]))
  return (claims, permission) => {
    const issuer = select(claims.iss)
    const grants = issuer === undefined ? undefined : byIssuer.get(issuer)
    return grants !== undefined && grants(claims, permission)
  }
}
