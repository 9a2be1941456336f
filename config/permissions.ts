import { parseClaimPaths, type ClaimPath } from 'fastify-oauth-resource-server'
import { ConfigError } from './error.js'
import type { Env } from './schema.js'

/**
 * PERMISSIONS_CLAIM: where tokens carry their permissions, one claim path or several,
 * comma-separated (`realm_access.roles`, `roles,scp`, `["https://example.com/roles"]`).
 * Unset: the plugin's default, Auth0's `permissions` and the `scope` string.
 */
export function resolvePermissionsClaim (env: Env): ClaimPath[] | undefined {
  return readPermissionsClaim('PERMISSIONS_CLAIM', env.PERMISSIONS_CLAIM)
}

/** Claim paths from the variable `name` (PERMISSIONS_CLAIM, ISSUER_<n>_PERMISSIONS_CLAIM); ConfigError names it. */
export function readPermissionsClaim (name: string, given: string | undefined): ClaimPath[] | undefined {
  if (given === undefined) return undefined
  const paths = parseClaimPaths(given)
  if (typeof paths === 'string') {
    throw new ConfigError(`${name} ${paths}: give claim paths such as realm_access.roles or roles,scp (a key with a dot or comma in brackets: resource_access["my.client"].roles)`)
  }
  return paths
}
