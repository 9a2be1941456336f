/**
 * The service with tracing on, as a build the pair compares with the plain service:
 * `BENCH_PAIR='service@dist/bench/servers/traced-service.js,service'`. An always-on
 * sampler, the default OTLP exporter (http/protobuf, batched) to BENCH_OTLP_ENDPOINT,
 * by default the sink `node dist/bench/servers/otlp-sink.js` serves on loopback.
 */
process.env.OTEL_EXPORTER_OTLP_ENDPOINT = process.env.BENCH_OTLP_ENDPOINT ?? 'http://127.0.0.1:14318'
process.env.OTEL_TRACES_SAMPLER = 'always_on'
await import('../../server.js')
