import { mkdtempSync, readFileSync } from 'node:fs'
import { createServer, type IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { compiled, idpFor } from './helper.js'
import { startServerProcess } from './fixtures/server-process.js'

t.jobs = 2

const MODULE_LOG_HOOK = compiled('test/fixtures/module-log')

interface OtlpValue { stringValue?: string, intValue?: string | number, boolValue?: boolean, doubleValue?: number }
interface OtlpSpan {
  traceId: string
  spanId: string
  parentSpanId?: string
  name: string
  attributes?: Array<{ key: string, value: OtlpValue }>
}
interface OtlpExport {
  resourceSpans?: Array<{
    resource?: { attributes?: Array<{ key: string, value: OtlpValue }> }
    scopeSpans?: Array<{ scope?: { name?: string }, spans?: OtlpSpan[] }>
  }>
}

/** A span as the receiver got it: its scope, and its attributes as an object. */
interface Received extends Omit<OtlpSpan, 'attributes'> {
  scope: string | undefined
  service: string | undefined
  attributes: Record<string, unknown>
}

const valueOf = (value: OtlpValue) => value.stringValue ?? value.intValue ?? value.boolValue ?? value.doubleValue

/** An OTLP/HTTP receiver (JSON) on 127.0.0.1, closed when the test ends: what a collector would get. */
async function startReceiver (t: Test) {
  const spans: Received[] = []
  const bodies: string[] = []
  const server = createServer((request: IncomingMessage, response) => {
    let body = ''
    request.setEncoding('utf8')
    request.on('data', chunk => { body += chunk })
    request.on('end', () => {
      bodies.push(body)
      if (request.url === '/v1/traces' && request.method === 'POST') {
        const parsed = JSON.parse(body) as OtlpExport
        for (const { resource, scopeSpans } of parsed.resourceSpans ?? []) {
          const service = resource?.attributes?.find(each => each.key === 'service.name')?.value.stringValue
          for (const { scope, spans: list } of scopeSpans ?? []) {
            for (const span of list ?? []) {
              spans.push({ ...span, scope: scope?.name, service, attributes: Object.fromEntries((span.attributes ?? []).map(({ key, value }) => [key, valueOf(value)])) })
            }
          }
        }
      }
      response.writeHead(200, { 'content-type': 'application/json' }).end('{}')
    })
  })
  server.listen(0, '127.0.0.1')
  await new Promise(resolve => server.once('listening', resolve))
  t.teardown(() => new Promise(resolve => server.close(resolve)))
  return { endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, spans, bodies }
}

function startServer (t: Test, env: Record<string, string>, nodeArgs: string[] = []) {
  const server = startServerProcess(t, () => ({ PORT: '0', HOST: '127.0.0.1', ...env }), nodeArgs)
  const listening = server.printed(/Server listening at (http:\/\/127\.0\.0\.1:\d+)/)
  listening.catch(() => {})
  return { child: server.child, exited: server.exited, listening, output: () => ({ stdout: server.output(), stderr: server.errors() }) }
}

t.test('with OTEL_EXPORTER_OTLP_ENDPOINT set, the service exports each request span with the auth spans under it, flushed on SIGTERM', async t => {
  const idp = await idpFor(t)
  const receiver = await startReceiver(t)
  const server = startServer(t, {
    ISSUER_BASE_URL: idp.issuer,
    AUDIENCE: idp.audience,
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
    OTEL_TRACES_SAMPLER: 'always_on',
    // Nothing is exported on a schedule within the test: what arrives came from the flush on close.
    OTEL_BSP_SCHEDULE_DELAY: '600000'
  })
  const address = await server.listening
  const token = idp.sign({ sub: 'alice' })
  t.equal((await fetch(`${address}/api/messages/protected`, { headers: { authorization: `Bearer ${token}` } })).status, 200)
  t.equal((await fetch(`${address}/api/messages/protected?access_token=SECRETVALUE`, { headers: { authorization: `Bearer ${token}x` } })).status, 401)
  t.equal(receiver.spans.length, 0, 'nothing exported before the close')

  server.child.kill('SIGTERM')
  t.equal(await server.exited, 0)

  const requests = receiver.spans.filter(span => span.name === 'request')
  t.equal(requests.length, 2, 'one request span per request')
  t.equal(requests[0]?.service, 'hello-world-api', 'the service name by default')
  t.match(requests[0]?.attributes, { 'http.route': '/api/messages/protected', 'http.response.status_code': 200 })
  const byId = new Map(receiver.spans.map(span => [span.spanId, span]))
  const ancestors = (span: Received): Received[] => {
    const parent = span.parentSpanId === undefined || span.parentSpanId === '' ? undefined : byId.get(span.parentSpanId)
    return parent === undefined ? [] : [parent, ...ancestors(parent)]
  }
  const authenticate = receiver.spans.filter(span => span.name === 'oauth.authenticate')
  t.equal(authenticate.length, 2)
  t.match(authenticate.map(span => span.attributes), [
    { 'oauth.outcome': 'accepted', 'oauth.reason': 'valid', 'oauth.scheme': 'Bearer' },
    { 'oauth.outcome': 'refused', 'oauth.reason': 'signature', 'oauth.scheme': 'Bearer' }
  ])
  for (const [i, span] of authenticate.entries()) {
    t.equal(span.scope, 'fastify-oauth-resource-server')
    t.ok(ancestors(span).includes(requests[i] as Received), 'under its request span')
    const children = receiver.spans.filter(each => each.parentSpanId === span.spanId)
    t.same(children.map(each => each.name), ['oauth.verify_token'])
  }
  t.notOk('user.id' in (authenticate[0]?.attributes ?? {}), 'no subject unless TRACE_SUBJECT=on')

  const everything = receiver.bodies.join('\n')
  t.notMatch(everything, 'SECRETVALUE', 'a token in the URL reaches no span')
  t.notMatch(everything, token.split('.')[2] as string, 'nor does the token')
  t.match(requests[1]?.attributes, { 'url.path': '/api/messages/protected' })
})

t.test('without the OTEL_* variables, the OpenTelemetry SDK and @fastify/otel are never loaded', async t => {
  const idp = await idpFor(t)
  const dir = mkdtempSync(join(tmpdir(), 'module-log-'))
  const run = async (env: Record<string, string>) => {
    const log = join(dir, `${Object.keys(env).length}.log`)
    const server = startServer(t, { ISSUER_BASE_URL: idp.issuer, AUDIENCE: idp.audience, MODULE_LOG: log, ...env }, ['--import', MODULE_LOG_HOOK])
    const address = await server.listening
    t.equal((await fetch(`${address}/api/messages/protected`, { headers: { authorization: `Bearer ${idp.sign()}` } })).status, 200)
    server.child.kill('SIGTERM')
    t.equal(await server.exited, 0)
    return readFileSync(log, 'utf8')
  }
  const off = await run({})
  t.match(off, /fastify-oauth-resource-server/, 'the log records what was loaded')
  t.notMatch(off, '@opentelemetry/sdk-node')
  t.notMatch(off, '@fastify/otel')
  t.notMatch(off, /\/tracing\/sdk\.js/)

  // The check itself works: with tracing asked for (exported nowhere), both are loaded.
  const on = await run({ OTEL_TRACES_EXPORTER: 'console', OTEL_TRACES_SAMPLER: 'always_off' })
  t.match(on, '@opentelemetry/sdk-node')
  t.match(on, '@fastify/otel')
})

t.test('OTEL_SDK_DISABLED=true keeps tracing off even with an endpoint set', async t => {
  const idp = await idpFor(t)
  const receiver = await startReceiver(t)
  const server = startServer(t, {
    ISSUER_BASE_URL: idp.issuer,
    AUDIENCE: idp.audience,
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
    OTEL_SDK_DISABLED: 'true'
  })
  const address = await server.listening
  t.equal((await fetch(`${address}/api/messages/protected`, { headers: { authorization: `Bearer ${idp.sign()}` } })).status, 200)
  server.child.kill('SIGTERM')
  t.equal(await server.exited, 0)
  t.same(receiver.bodies, [])
})

t.test('a bad OTEL_* value stops start-up with one line naming the variable', async t => {
  const server = startServer(t, { ISSUER_BASE_URL: 'https://idp.example.com/', AUDIENCE: 'a', OTEL_EXPORTER_OTLP_PROTOCOL: 'http' })
  t.equal(await server.exited, 1)
  t.equal(server.output().stderr, 'Configuration error: OTEL_EXPORTER_OTLP_PROTOCOL must be one of grpc, http/protobuf, http/json (got "http")\n')
})
