import { ConfigError } from './error.js'
import type { Env } from './schema.js'

/** Tracing on: the OpenTelemetry SDK's own variables, and the service's choice about `sub`. */
export interface TracingConfig {
  /**
   * Every OTEL_* variable of the environment (.env included). The OpenTelemetry SDK reads
   * its variables from process.env itself; `exportSdkEnvironment` hands it these.
   */
  variables: Readonly<Record<string, string>>
  /** TRACE_SUBJECT=on: the token's `sub` on the authenticate span (`user.id`). */
  subject: boolean
  /** The service name unless OTEL_SERVICE_NAME (or service.name in OTEL_RESOURCE_ATTRIBUTES) names one. */
  serviceName: string | undefined
}

export const DEFAULT_SERVICE_NAME = 'hello-world-api'

const EXPORTERS = ['otlp', 'console', 'zipkin', 'none']
const PROTOCOLS = ['grpc', 'http/protobuf', 'http/json']
const SAMPLERS = ['always_on', 'always_off', 'traceidratio', 'parentbased_always_on', 'parentbased_always_off', 'parentbased_traceidratio']

/**
 * Tracing is on when the standard OpenTelemetry variables ask for it: an OTLP endpoint
 * (OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) or an exporter
 * (OTEL_TRACES_EXPORTER other than none), and OTEL_SDK_DISABLED is not true. Otherwise
 * undefined, and the SDK is never loaded. The variables that decide this, and the few
 * whose typo would otherwise be a warning the SDK prints once and ignores, are checked
 * here; the SDK reads the rest itself. Throws ConfigError naming the variable.
 */
export function resolveTracingConfig (env: Env, raw: Readonly<Record<string, unknown>>): TracingConfig | undefined {
  const variables: Record<string, string> = {}
  for (const [name, value] of Object.entries(raw)) {
    if (name.startsWith('OTEL_') && typeof value === 'string') variables[name] = value
  }
  const get = (name: string): string | undefined => {
    const value = variables[name]?.trim()
    return value === '' ? undefined : value
  }
  const oneOf = (name: string, allowed: string[]) => {
    const value = get(name)
    if (value !== undefined && !allowed.includes(value.toLowerCase())) {
      throw new ConfigError(`${name} must be one of ${allowed.join(', ')} (got ${JSON.stringify(value)})`)
    }
    return value?.toLowerCase()
  }

  const disabled = oneOf('OTEL_SDK_DISABLED', ['true', 'false']) === 'true'
  const exporters = get('OTEL_TRACES_EXPORTER')?.split(',').map(each => each.trim().toLowerCase())
  for (const exporter of exporters ?? []) {
    if (!EXPORTERS.includes(exporter)) throw new ConfigError(`OTEL_TRACES_EXPORTER must list ${EXPORTERS.join(', ')} (got ${JSON.stringify(exporter)}); this service exports traces only`)
  }
  for (const name of ['OTEL_EXPORTER_OTLP_PROTOCOL', 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL']) oneOf(name, PROTOCOLS)
  for (const name of ['OTEL_EXPORTER_OTLP_ENDPOINT', 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT']) {
    const value = get(name)
    if (value !== undefined && !isHttpUrl(value)) throw new ConfigError(`${name} must be an http(s) URL such as http://localhost:4318 (got ${JSON.stringify(value)})`)
  }
  const sampler = oneOf('OTEL_TRACES_SAMPLER', SAMPLERS)
  const ratio = get('OTEL_TRACES_SAMPLER_ARG')
  if (ratio !== undefined && sampler?.endsWith('traceidratio') === true && !(Number(ratio) >= 0 && Number(ratio) <= 1)) {
    throw new ConfigError(`OTEL_TRACES_SAMPLER_ARG must be a ratio from 0 to 1 with ${sampler} (got ${JSON.stringify(ratio)})`)
  }

  const endpoint = get('OTEL_EXPORTER_OTLP_ENDPOINT') ?? get('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT')
  const asked = exporters === undefined ? endpoint !== undefined : !exporters.every(each => each === 'none')
  if (disabled || !asked) {
    if (env.TRACE_SUBJECT === 'on') throw new ConfigError('TRACE_SUBJECT is on but tracing is off: set OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_TRACES_EXPORTER), or unset TRACE_SUBJECT')
    return undefined
  }
  const named = get('OTEL_SERVICE_NAME') !== undefined || /(^|,)\s*service\.name\s*=/.test(get('OTEL_RESOURCE_ATTRIBUTES') ?? '')
  return { variables, subject: env.TRACE_SUBJECT === 'on', serviceName: named ? undefined : DEFAULT_SERVICE_NAME }
}

/**
 * The one write to process.env: the OpenTelemetry SDK reads its variables from there,
 * so those set only in .env are copied in (the process's own always win, as in loadConfig).
 */
export function exportSdkEnvironment ({ variables }: TracingConfig): void {
  for (const [name, value] of Object.entries(variables)) process.env[name] ??= value
}

function isHttpUrl (value: string): boolean {
  try {
    return /^https?:$/.test(new URL(value).protocol)
  } catch {
    return false
  }
}
