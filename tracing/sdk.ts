import { FastifyOtelInstrumentation } from '@fastify/otel'
import { NodeSDK } from '@opentelemetry/sdk-node'
import type { FastifyPluginCallback } from 'fastify'
import { exportSdkEnvironment, type TracingConfig } from '../config/index.js'

export interface Tracing {
  /** @fastify/otel's plugin: a span per request (and per hook), under which the auth plugin's spans nest. Register it before the app. */
  plugin: FastifyPluginCallback
  /** Exports what is still buffered, then stops: on graceful close, after the server closed. */
  shutdown: () => Promise<void>
}

/** `url.path` without its query: a token sent in the URL (refused, but sent) never reaches a span. */
export function pathOf (url: string): string {
  const query = url.indexOf('?')
  return query === -1 ? url : url.slice(0, query)
}

/**
 * Starts the OpenTelemetry Node SDK for traces, configured by the standard OTEL_*
 * variables (exporter and protocol, endpoint and headers, sampler, service name,
 * resource attributes), which it reads itself; server.ts imports this module only when
 * config/ found tracing asked for. Traces only: the service's metrics are Prometheus'
 * (METRICS_PORT), so the SDK's own metric readers and log processors stay off whatever
 * OTEL_METRICS_EXPORTER and OTEL_LOGS_EXPORTER say.
 */
export function startTracing (config: TracingConfig): Tracing {
  exportSdkEnvironment(config)
  const instrumentation = new FastifyOtelInstrumentation({
    requestHook: (span, request) => { span.setAttribute('url.path', pathOf(request.url)) }
  })
  const sdk = new NodeSDK({
    ...(config.serviceName === undefined ? {} : { serviceName: config.serviceName }),
    instrumentations: [instrumentation],
    metricReaders: [],
    logRecordProcessors: []
  })
  sdk.start()
  return { plugin: instrumentation.plugin() as FastifyPluginCallback, shutdown: () => sdk.shutdown() }
}
