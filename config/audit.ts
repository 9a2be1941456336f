import { closeSync, openSync } from 'node:fs'
import { ConfigError } from './error.js'
import type { Env } from './schema.js'

/** Where audit events go: the process's stdout, or a file appended to. */
export interface AuditConfig {
  destination: 'stdout' | { file: string }
}

/**
 * AUDIT_LOG: `off` (the default), `stdout`, or a file path. A file is opened for
 * appending here, once, so a path that cannot be written stops start-up naming the
 * variable instead of losing the audit trail later. Throws ConfigError.
 */
export function resolveAuditConfig (env: Env): AuditConfig | undefined {
  const value = env.AUDIT_LOG?.trim()
  if (value === undefined || value === 'off') return undefined
  if (value === '') throw new ConfigError('AUDIT_LOG is set but blank: give off, stdout or a file path, or unset it')
  if (value === 'stdout') return { destination: 'stdout' }
  try {
    closeSync(openSync(value, 'a'))
  } catch (error) {
    const code = (error as { code?: unknown }).code
    throw new ConfigError(`AUDIT_LOG names a file that cannot be appended to: ${value} (${typeof code === 'string' ? code : 'not writable'})`)
  }
  return { destination: { file: value } }
}
