import { createGrants, DEFAULT_PERMISSIONS_CLAIM } from './permissions.js'

// Deeper claims than any issuer sends; past this a token is refused rather than walked.
const MAX_CLAIM_DEPTH = 32

/**
 * Freezes the claims and everything in them, walking with a stack rather than
 * recursion: a signed payload nested thousands deep must not overflow the call
 * stack. False (and the claims must not be used) when it nests past MAX_CLAIM_DEPTH.
 */
export function freezeClaims (claims: object): boolean {
  const pending: Array<[object, number]> = [[claims, 0]]
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const [value, depth] = next
    if (depth > MAX_CLAIM_DEPTH) return false
    Object.freeze(value)
    for (const child of Object.values(value)) {
      if (typeof child === 'object' && child !== null && !Object.isFrozen(child)) pending.push([child, depth + 1])
    }
  }
  return true
}

/**
 * Whether the claims grant a permission under the default `permissionsClaim`: in the Auth0
 * RBAC `permissions` array or the space-separated `scope` string. Exact, case-sensitive
 * matches only, in the token's own claims.
 */
export const grants = createGrants(DEFAULT_PERMISSIONS_CLAIM)
