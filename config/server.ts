import { isIP } from 'node:net'
import { ConfigError } from './error.js'
import { LOG_LEVELS, type LogLevel } from './schema.js'

/**
 * What Fastify needs at construction: the log level and trustProxy. Checked before
 * the schema, so a bad LOG_LEVEL is named with the levels it may be; throws ConfigError naming the variable.
 */
export function resolveServerOptions (env: Readonly<Record<string, string | undefined>>): { level: LogLevel, trustProxy: boolean | string } {
  const level = (env.LOG_LEVEL || 'info') as LogLevel
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    throw new ConfigError(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')} (got ${JSON.stringify(level)})`)
  }
  return { level, trustProxy: parseTrustProxy(env.TRUST_PROXY) }
}

/** proxy-addr's names for address ranges, which Fastify accepts beside addresses and CIDRs. */
const RANGE_NAMES = ['loopback', 'linklocal', 'uniquelocal']

/**
 * Fastify's trustProxy from TRUST_PROXY: `true`, or addresses/CIDRs separated by
 * commas. A hop count is refused: Fastify 5 ignores it, since it cannot tell a
 * proxy from a direct client that sends X-Forwarded-* itself.
 */
export function parseTrustProxy (value: string | undefined): boolean | string {
  const trimmed = value?.trim() ?? ''
  if (trimmed === '' || trimmed === 'false') return false
  if (trimmed === 'true') return true
  if (/^\d+$/.test(trimmed)) {
    throw new ConfigError(`TRUST_PROXY must not be a hop count (got ${JSON.stringify(value)}): it would let any client set X-Forwarded-*. ` +
      'List the proxies\' addresses or CIDRs (such as 10.0.0.0/8 or loopback), or use true if nothing but the proxy can reach the server')
  }
  const addresses = trimmed.split(',').map(part => part.trim())
  for (const address of addresses) {
    if (RANGE_NAMES.includes(address)) continue
    const [ip = '', bits, extra] = address.split('/')
    const maxBits = isIP(ip) === 4 ? 32 : isIP(ip) === 6 ? 128 : 0
    const okBits = bits === undefined || (/^\d+$/.test(bits) && Number(bits) <= maxBits)
    if (maxBits === 0 || !okBits || extra !== undefined) {
      throw new ConfigError(`TRUST_PROXY must be true, or proxy addresses/CIDRs separated by commas (got ${JSON.stringify(value)})`)
    }
  }
  return addresses.join(',')
}
