import t from 'tap'
import { loadConfig } from '../../config/index.js'

const issuer = { ISSUER_BASE_URL: 'https://idp.example.com/', AUDIENCE: 'a' }
const tracingOf = (env: Record<string, string>) => loadConfig({ ...issuer, ...env }).tracing

t.test('tracing is off unless an OTLP endpoint or a traces exporter is set', async t => {
  t.equal(tracingOf({}), undefined)
  t.equal(tracingOf({ OTEL_SERVICE_NAME: 'api', OTEL_TRACES_SAMPLER: 'always_on' }), undefined, 'a service name or sampler alone asks for nothing')
  t.equal(tracingOf({ OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://localhost:4318' }), undefined, 'exporter none wins')
  t.equal(tracingOf({ OTEL_SDK_DISABLED: 'true', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://localhost:4318' }), undefined, 'OTEL_SDK_DISABLED=true wins')
  t.match(tracingOf({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://localhost:4318' }), { subject: false, serviceName: 'hello-world-api' })
  t.match(tracingOf({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://localhost:4318/v1/traces' }), { subject: false })
  t.match(tracingOf({ OTEL_TRACES_EXPORTER: 'console' }), { subject: false })
})

t.test('the OTEL_* variables are handed to the SDK as given, and a service name given there is kept', async t => {
  const tracing = tracingOf({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://localhost:4318', OTEL_SERVICE_NAME: 'orders', OTEL_EXPORTER_OTLP_HEADERS: 'x=1', LOG_LEVEL: 'info' })
  t.same(tracing?.variables, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://localhost:4318', OTEL_SERVICE_NAME: 'orders', OTEL_EXPORTER_OTLP_HEADERS: 'x=1' })
  t.equal(tracing?.serviceName, undefined)
  t.equal(tracingOf({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://localhost:4318', OTEL_RESOURCE_ATTRIBUTES: 'service.name=orders' })?.serviceName, undefined)
})

t.test('TRACE_SUBJECT=on puts the subject on spans, and needs tracing on', async t => {
  t.equal(tracingOf({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://localhost:4318', TRACE_SUBJECT: 'on' })?.subject, true)
  t.throws(() => tracingOf({ TRACE_SUBJECT: 'on' }), { name: 'ConfigError', message: /^TRACE_SUBJECT is on but tracing is off/ })
  t.throws(() => tracingOf({ TRACE_SUBJECT: 'yes' }), { name: 'ConfigError', message: /^TRACE_SUBJECT must be equal to one of the allowed values/ })
})

t.test('a bad OTEL_* value stops start-up with a message naming the variable', async t => {
  const on = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://localhost:4318' }
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'localhost:4318' }, /^OTEL_EXPORTER_OTLP_ENDPOINT must be an http\(s\) URL/],
    [{ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'ftp://x' }, /^OTEL_EXPORTER_OTLP_TRACES_ENDPOINT must be an http\(s\) URL/],
    [{ ...on, OTEL_EXPORTER_OTLP_PROTOCOL: 'json' }, /^OTEL_EXPORTER_OTLP_PROTOCOL must be one of grpc, http\/protobuf, http\/json/],
    [{ ...on, OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'udp' }, /^OTEL_EXPORTER_OTLP_TRACES_PROTOCOL must be one of/],
    [{ OTEL_TRACES_EXPORTER: 'jaeger' }, /^OTEL_TRACES_EXPORTER must list otlp, console, zipkin, none \(got "jaeger"\)/],
    [{ ...on, OTEL_TRACES_SAMPLER: 'sometimes' }, /^OTEL_TRACES_SAMPLER must be one of always_on/],
    [{ ...on, OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '5' }, /^OTEL_TRACES_SAMPLER_ARG must be a ratio from 0 to 1/],
    [{ ...on, OTEL_SDK_DISABLED: 'yes' }, /^OTEL_SDK_DISABLED must be one of true, false/]
  ]
  for (const [env, message] of cases) t.throws(() => tracingOf(env), { name: 'ConfigError', message }, JSON.stringify(env))
})
