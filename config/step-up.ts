import type { AuthContextRequirement } from 'fastify-oauth-resource-server'
import { ConfigError } from './error.js'
import type { Env } from './schema.js'

// What the plugin takes as an acr value: it is listed, space-separated, in a quoted challenge parameter.
const ACR_VALUE = /^[\x21\x23-\x5B\x5D-\x7E]+$/

/**
 * The admin route's step-up requirement (RFC 9470), from ADMIN_ACR_VALUES (space-separated
 * acr values, any one of which passes) and ADMIN_MAX_AGE (seconds since the user signed
 * in); undefined when neither is set (off). Throws ConfigError naming the variable.
 */
export function resolveAdminAuthContext (env: Env): AuthContextRequirement | undefined {
  let acrValues: string[] | undefined
  if (env.ADMIN_ACR_VALUES !== undefined) {
    acrValues = env.ADMIN_ACR_VALUES.split(/\s+/).filter(value => value !== '')
    if (acrValues.length === 0) throw new ConfigError('ADMIN_ACR_VALUES is set but blank: give it a value, or unset it')
    const bad = acrValues.find(value => !ACR_VALUE.test(value))
    if (bad !== undefined) throw new ConfigError(`ADMIN_ACR_VALUES has ${JSON.stringify(bad)}: acr values are separated by spaces and hold no quotes or backslashes`)
  }
  const maxAge = env.ADMIN_MAX_AGE
  if (acrValues !== undefined) return maxAge === undefined ? { acrValues } : { acrValues, maxAge }
  return maxAge === undefined ? undefined : { maxAge }
}
