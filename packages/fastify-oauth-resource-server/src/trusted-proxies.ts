import proxyAddr from '@fastify/proxy-addr'
import type { Fail } from './option-checks.js'

/** Whether a socket peer (hop 0) or a forwarded hop is a trusted proxy. */
export type TrustedProxy = (address: string, hop: number) => boolean

/**
 * Proxies given as Fastify's trustProxy takes them (true, addresses/CIDRs or range names as
 * an array or a comma-separated string, or a function), compiled with proxy-addr as Fastify
 * compiles its own, which it does not show to plugins. A hop count cannot tell a proxy from a client.
 */
export function compileTrustedProxies (value: unknown, option: string, fail: Fail): TrustedProxy {
  if (value === true) return () => true
  if (typeof value === 'function') return value as TrustedProxy
  const list = typeof value === 'string' ? value.split(',').map(each => each.trim()) : value
  if (!Array.isArray(list) || list.length === 0 || list.some(each => typeof each !== 'string' || each === '')) {
    fail(option, 'must be true, addresses/CIDRs (an array or a comma-separated string) or a function (address, hop) => boolean; a hop count cannot tell a proxy from a client')
  }
  try {
    return proxyAddr.compile(list as string[])
  } catch (error) {
    return fail(option, `has an address proxy-addr cannot read: ${(error as Error).message}`)
  }
}
