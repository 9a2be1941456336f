import Fastify from 'fastify'
import t from 'tap'
import app from '../../app.js'
import { loadConfig } from '../../config/index.js'
import { envFor, idpFor, TEST_SERVER } from '../helper.js'

t.test('health probes are unauthenticated and left out of the request log', async t => {
  const idp = await idpFor(t)
  const lines: string[] = []
  const server = Fastify({ ...TEST_SERVER, logger: { level: 'info', stream: { write: (line: string) => lines.push(line) } } })
  t.teardown(() => server.close())
  await server.register(app, { config: loadConfig(envFor(idp)) })
  await server.ready()
  t.same((await server.inject('/health/live')).json(), { status: 'ok' })
  t.same((await server.inject('/health/ready')).json(), { status: 'ok', issuers: { [idp.issuer]: 'ok' } })
  t.notOk(lines.some(line => line.includes('/health')), 'no log line mentions /health')
})

t.test('GET /health/ready → 503 while the identity provider keys are not loaded', async t => {
  const idp = await idpFor(t)
  idp.fault = 'down'
  const server = Fastify(TEST_SERVER)
  t.teardown(() => server.close())
  await server.register(app, { config: loadConfig(envFor(idp)) })
  await server.ready()
  t.equal((await server.inject('/health/live')).statusCode, 200)
  const ready = await server.inject('/health/ready')
  t.equal(ready.statusCode, 503)
  t.same(ready.json(), { status: 'identity provider keys not loaded', issuers: { [idp.issuer]: 'keys not loaded' } })
})

t.test('GET /health/ready with several issuers reports each; one down is degraded, not unready', async t => {
  const a = await idpFor(t)
  const b = await idpFor(t, { audience: 'https://other-api.example.com' })
  b.fault = 'down'
  const server = Fastify(TEST_SERVER)
  t.teardown(() => server.close())
  await server.register(app, {
    config: loadConfig({ ISSUER_1_BASE_URL: a.issuer, ISSUER_1_AUDIENCE: a.audience, ISSUER_2_BASE_URL: b.issuer, ISSUER_2_AUDIENCE: b.audience })
  })
  await server.ready()
  const ready = await server.inject('/health/ready')
  t.equal(ready.statusCode, 200)
  t.same(ready.json(), { status: 'degraded', issuers: { [a.issuer]: 'ok', [b.issuer]: 'keys not loaded' } })
  t.equal((await server.inject({ url: '/api/messages/protected', headers: { authorization: `Bearer ${a.sign()}` } })).statusCode, 200)
  t.equal((await server.inject({ url: '/api/messages/protected', headers: { authorization: `Bearer ${b.sign()}` } })).statusCode, 503)
})
