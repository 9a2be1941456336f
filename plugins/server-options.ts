import { isIP } from 'node:net'
import { ConfigError } from './config-error.js'
import { LOG_LEVELS } from './env-schema.js'

/**
 * What Fastify needs at construction, before the config plugin runs: the log
 * level and trustProxy. Read by server.ts; throws ConfigError naming the variable.
 */
export function resolveServerOptions (env: Record<string, string | undefined>) {
  const level = env.LOG_LEVEL || 'info'
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    throw new ConfigError(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')} (got ${JSON.stringify(level)})`)
  }
  return { level, trustProxy: parseTrustProxy(env.TRUST_PROXY) }
}

/**
 * Fastify's trustProxy from TRUST_PROXY: `true`, a hop count, or addresses/CIDRs
 * separated by commas.
 */
export function parseTrustProxy (value: string | undefined): boolean | string | ((address: string, hop: number) => boolean) {
  const trimmed = value?.trim() ?? ''
  if (trimmed === '' || trimmed === 'false') return false
  if (trimmed === 'true') return true
  if (/^\d+$/.test(trimmed)) {
    const hops = Number(trimmed)
    return (address, hop) => hop < hops
  }
  const addresses = trimmed.split(',').map(part => part.trim())
  for (const address of addresses) {
    const [ip = '', bits, extra] = address.split('/')
    const maxBits = isIP(ip) === 4 ? 32 : isIP(ip) === 6 ? 128 : 0
    const okBits = bits === undefined || (/^\d+$/.test(bits) && Number(bits) <= maxBits)
    if (maxBits === 0 || !okBits || extra !== undefined) {
      throw new ConfigError(`TRUST_PROXY must be true, a hop count, or IP addresses/CIDRs separated by commas (got ${JSON.stringify(value)})`)
    }
  }
  return addresses.join(',')
}
