import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Validator } from '@seriousme/openapi-schema-validator'
import { Ajv2020 } from 'ajv/dist/2020.js'
import t from 'tap'
import { bearer, build, envFor, idpFor } from '../helper.js'

interface Operation {
  security?: Array<Record<string, string[]>>
  responses: Record<string, { description: string, headers?: Record<string, unknown>, content?: Record<string, { schema: object }> }>
}
type Spec = { openapi: string, paths: Record<string, Record<string, Operation>>, components: { securitySchemes: Record<string, Record<string, unknown>> } }

async function specOf (app: Awaited<ReturnType<typeof build>>): Promise<Spec> {
  return (await app.inject('/docs/json')).json()
}

t.test('/docs/json is a valid OpenAPI 3.1 document listing every route', async t => {
  const app = await build(t, envFor(await idpFor(t)))
  const spec = await specOf(app)
  t.equal(spec.openapi, '3.1.0')
  const result = await new Validator().validate(spec as never)
  t.ok(result.valid, JSON.stringify(result.errors))
  t.same(Object.keys(spec.paths).sort(), [
    '/.well-known/oauth-protected-resource', '/api/messages/admin', '/api/messages/greeting', '/api/messages/protected', '/api/messages/public', '/health/live', '/health/ready'
  ])
  t.match(spec.components.securitySchemes.bearerAuth, { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' })
  t.equal(spec.paths['/api/messages/public']!.get!.security, undefined, 'the public route needs nothing')
  t.same(spec.paths['/api/messages/protected']!.get!.security, [{ bearerAuth: [] }, { dpopAuth: [] }])
  t.same(spec.paths['/api/messages/admin']!.get!.security, [{ bearerAuth: ['read:admin-messages'] }, { dpopAuth: ['read:admin-messages'] }])
  t.same(spec.paths['/api/messages/greeting']!.get!.security, [{ bearerAuth: [] }, {}, { dpopAuth: [] }], 'optional: a token, or nothing')
  for (const status of ['200', '400', '401', '403', '404', '503']) {
    t.ok(spec.paths['/api/messages/admin']!.get!.responses[status], `admin documents ${status}`)
  }
  t.ok(spec.paths['/api/messages/admin']!.get!.responses['401']!.headers!['WWW-Authenticate'], 'the challenge header is documented')
  t.ok(spec.paths['/api/messages/admin']!.get!.responses['503']!.headers!['Retry-After'])
})

t.test('every documented response matches what the route really returns', async t => {
  const idp = await idpFor(t)
  const app = await build(t, envFor(idp))
  const spec = await specOf(app)
  const down = await idpFor(t)
  down.fault = 'down'
  const outage = await build(t, envFor(down))

  const cases: Array<[string, string, () => Promise<{ statusCode: number, headers: Record<string, unknown>, json: () => unknown }>]> = [
    ['/api/messages/public', '200', () => app.inject('/api/messages/public')],
    ['/api/messages/greeting', '200', () => app.inject('/api/messages/greeting')],
    ['/api/messages/greeting', '401', () => app.inject({ url: '/api/messages/greeting', headers: bearer(idp.badToken('expired')) })],
    ['/api/messages/protected', '200', () => app.inject({ url: '/api/messages/protected', headers: bearer(idp.sign()) })],
    ['/api/messages/protected', '400', () => app.inject({ url: '/api/messages/protected', headers: { authorization: 'Bearer a b' } })],
    ['/api/messages/protected', '401', () => app.inject('/api/messages/protected')],
    ['/api/messages/protected', '404', () => app.inject('/api/messages/protected/nope')],
    ['/api/messages/protected', '503', () => outage.inject({ url: '/api/messages/protected', headers: bearer(down.sign()) })],
    ['/api/messages/admin', '200', () => app.inject({ url: '/api/messages/admin', headers: bearer(idp.sign({ permissions: ['read:admin-messages'] })) })],
    ['/api/messages/admin', '401', () => app.inject({ url: '/api/messages/admin', headers: bearer(idp.sign({ aud: 'other' })) })],
    ['/api/messages/admin', '403', () => app.inject({ url: '/api/messages/admin', headers: bearer(idp.sign()) })],
    ['/health/live', '200', () => app.inject('/health/live')],
    ['/health/ready', '200', () => app.inject('/health/ready')],
    ['/health/ready', '503', () => outage.inject('/health/ready')]
  ]
  const ajv = new Ajv2020({ strict: false })
  for (const [path, status, request] of cases) {
    const documented = spec.paths[path]!.get!.responses[status]
    if (documented === undefined) {
      t.fail(`${path} does not document ${status}`)
      continue
    }
    const res = await request()
    t.equal(String(res.statusCode), status, `${path} really answers ${status}`)
    const validate = ajv.compile(documented.content!['application/json']!.schema)
    t.ok(validate(res.json()), `${path} ${status} body matches: ${JSON.stringify(validate.errors)}`)
    for (const header of Object.keys(documented.headers ?? {})) {
      t.ok(res.headers[header.toLowerCase()], `${path} ${status} sends ${header}`)
    }
  }
})

t.test('the docs page loads with a CSP relaxed for it alone', async t => {
  const app = await build(t, envFor(await idpFor(t)))
  const page = await app.inject('/docs')
  t.equal(page.statusCode, 200)
  t.match(page.body, 'swagger-ui')
  const docsCsp = String(page.headers['content-security-policy'])
  t.match(docsCsp, "img-src 'self' data:")
  t.match(docsCsp, "frame-ancestors 'none'")
  t.equal(page.headers['x-frame-options'], 'DENY')
  const api = await app.inject('/api/messages/public')
  t.equal(api.headers['content-security-policy'], "default-src 'self';frame-ancestors 'none'", 'API routes keep the strict CSP')
})

t.test('with the local issuer on, the spec offers its OAuth2 flow beside the bearer scheme', async t => {
  const app = await build(t, { LOCAL_ISSUER_PORT: '0', LOCAL_ISSUER_DATA: mkdtempSync(join(tmpdir(), 'local-issuer-')) })
  const spec = await specOf(app)
  const issuer = app.localIssuer!.issuer
  t.match(spec.components.securitySchemes.localIssuer, {
    type: 'oauth2',
    flows: { authorizationCode: { authorizationUrl: `${issuer}authorize`, tokenUrl: `${issuer}oauth/token` } }
  })
  t.same(spec.paths['/api/messages/admin']!.get!.security, [{ bearerAuth: ['read:admin-messages'] }, { dpopAuth: ['read:admin-messages'] }, { localIssuer: ['read:admin-messages'] }])
  t.same(spec.paths['/api/messages/greeting']!.get!.security, [{ bearerAuth: [] }, {}, { dpopAuth: [] }, { localIssuer: [] }])
  t.ok((await new Validator().validate(spec as never)).valid)
  const page = await app.inject('/docs')
  t.match(String(page.headers['content-security-policy']), `connect-src 'self' ${new URL(issuer).origin}`)
})
