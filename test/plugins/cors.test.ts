import cors from '@fastify/cors'
import Fastify, { type FastifyInstance } from 'fastify'
import t, { type Test } from 'tap'
import preflight, { createCorsHeaders, type CorsOptions } from '../../plugins/cors.js'
import securityHeaders, { SampleHeaders } from '../../plugins/security-headers.js'
import { build, envFor, idpFor } from '../helper.js'

const options: CorsOptions = {
  origin: 'http://localhost:4040',
  methods: ['GET'],
  allowedHeaders: ['Authorization', 'Content-Type', 'DPoP'],
  exposedHeaders: ['WWW-Authenticate', 'DPoP-Nonce'],
  maxAgeSeconds: 86_400
}

/** A 200, a 401 with a challenge, and Fastify's 404, behind the headers and CORS as `arrange` sets them up. */
async function appWith (t: Test, arrange: (app: FastifyInstance) => Promise<void>): Promise<FastifyInstance> {
  const app = Fastify()
  t.teardown(() => app.close())
  await arrange(app)
  app.get('/ok', async () => ({ ok: true }))
  app.get('/refused', async () => {
    throw Object.assign(new Error('no'), { statusCode: 401, headers: { 'www-authenticate': 'Bearer realm="api"' } })
  })
  await app.ready()
  return app
}

const requests = [
  { url: '/ok' },
  { url: '/ok', headers: { origin: 'http://localhost:4040' } },
  { url: '/ok', headers: { origin: 'https://evil.example' } },
  { method: 'HEAD' as const, url: '/ok' },
  { url: '/refused' },
  { url: '/nope', headers: { origin: 'http://localhost:4040' } },
  { method: 'POST' as const, url: '/ok' },
  { method: 'OPTIONS' as const, url: '/ok', headers: { origin: 'http://localhost:4040', 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization,dpop' } },
  { method: 'OPTIONS' as const, url: '/nope', headers: { origin: 'https://evil.example', 'access-control-request-method': 'GET' } },
  { method: 'OPTIONS' as const, url: '/ok', headers: { origin: 'http://localhost:4040' } },
  { method: 'OPTIONS' as const, url: '/ok' }
]

t.test('every response has the status, body and headers it had with @fastify/cors on every request', async t => {
  const before = await appWith(t, async app => {
    await app.register(securityHeaders, SampleHeaders)
    const { maxAgeSeconds, ...rest } = options
    await app.register(cors, { ...rest, maxAge: maxAgeSeconds })
  })
  const after = await appWith(t, async app => {
    await app.register(securityHeaders, { ...SampleHeaders, staticHeaders: createCorsHeaders(options) })
    await app.register(preflight, options)
  })
  for (const request of requests) {
    const [old, now] = [await before.inject(request), await after.inject(request)]
    const { date, ...headers } = now.headers
    const { date: oldDate, ...oldHeaders } = old.headers
    const name = `${request.method ?? 'GET'} ${request.url} ${JSON.stringify(request.headers ?? {})}`
    t.equal(now.statusCode, old.statusCode, `${name}: ${old.statusCode}`)
    t.equal(now.body, old.body, name)
    t.same(headers, oldHeaders, name)
  }
})

t.test('the service sends the CORS headers on every response, and answers preflights for CLIENT_ORIGIN_URL', async t => {
  const app = await build(t, envFor(await idpFor(t), { CLIENT_ORIGIN_URL: 'http://localhost:4040' }))
  for (const url of ['/api/messages/public', '/api/messages/protected', '/nope']) {
    const res = await app.inject(url)
    t.equal(res.headers['access-control-allow-origin'], 'http://localhost:4040', url)
    t.equal(res.headers['access-control-expose-headers'], 'WWW-Authenticate, DPoP-Nonce', url)
  }
  const res = await app.inject({ method: 'OPTIONS', url: '/api/messages/protected', headers: { origin: 'http://localhost:4040', 'access-control-request-method': 'GET' } })
  t.equal(res.statusCode, 204)
  t.equal(res.headers['access-control-allow-methods'], 'GET')
  t.equal(res.headers['access-control-allow-headers'], 'Authorization, Content-Type, DPoP')
  t.equal(res.headers['access-control-max-age'], '86400')
  t.equal(res.headers['x-frame-options'], 'DENY', 'with the security headers')
  const strict = await app.inject({ method: 'OPTIONS', url: '/api/messages/protected', headers: { origin: 'http://localhost:4040' } })
  t.equal(strict.statusCode, 400, 'a preflight without Access-Control-Request-Method is refused, as before')
})
