import { connect, type AddressInfo } from 'node:net'
import t from 'tap'
import { bearer, build, DPOP_CHALLENGE, envFor, idpFor, RESOURCE_METADATA } from './helper.js'

// RFC 6750 §2.1 (the header), §3 (the challenge) and §3.1 (the error codes).

const PROTECTED = '/api/messages/protected'

t.test('the scheme is case-insensitive', async t => {
  const idp = await idpFor(t)
  const app = await build(t, envFor(idp))
  const token = idp.sign()
  for (const scheme of ['Bearer', 'bearer', 'BEARER', 'bEaReR']) {
    const res = await app.inject({ url: PROTECTED, headers: { authorization: `${scheme} ${token}` } })
    t.equal(res.statusCode, 200, scheme)
  }
})

t.test('several spaces after the scheme are allowed (1*SP)', async t => {
  const idp = await idpFor(t)
  const app = await build(t, envFor(idp))
  const res = await app.inject({ url: PROTECTED, headers: { authorization: `Bearer   ${idp.sign()}` } })
  t.equal(res.statusCode, 200)
})

t.test('no credentials → 401 with a challenge and no error code', async t => {
  const app = await build(t, envFor(await idpFor(t)))
  // DPoP is a scheme of its own (test/dpop.test.ts) under the default DPOP=allowed.
  for (const authorization of [undefined, '', 'Basic dXNlcjpwYXNz', 'Digest username="x"', 'Bearertoken']) {
    const headers = authorization === undefined ? {} : { authorization }
    const res = await app.inject({ url: PROTECTED, headers })
    t.equal(res.statusCode, 401, String(authorization))
    t.equal(res.headers['www-authenticate'], `Bearer realm="api", ${RESOURCE_METADATA}, ${DPOP_CHALLENGE}`, String(authorization))
    t.same(res.json(), { message: 'Requires authentication' }, String(authorization))
  }
})

t.test('a malformed Bearer header → 400 invalid_request', async t => {
  const idp = await idpFor(t)
  const app = await build(t, envFor(idp))
  const token = idp.sign()
  const shapes = [
    'Bearer',
    'Bearer ',
    `Bearer ${token} ${token}`,
    `Bearer ${token},Bearer ${token}`,
    `Bearer ${token}, Bearer ${token}`,
    'Bearer "abc.def.ghi"',
    'Bearer abc\tdef',
    'Bearer ab=c.def.ghi',
    'Bearer abc%2Edef'
  ]
  for (const authorization of shapes) {
    const res = await app.inject({ url: PROTECTED, headers: { authorization } })
    t.equal(res.statusCode, 400, authorization.slice(0, 40))
    t.match(res.headers['www-authenticate'], /^Bearer realm="api", error="invalid_request", error_description="[^"]+", resource_metadata="[^"]+", DPoP realm="api", algs="[^"]+"$/)
    const body = res.json()
    t.equal(body.error, 'invalid_request')
    t.type(body.message, 'string')
    t.type(body.error_description, 'string')
  }
})

t.test('a rejected token → 401 invalid_token with a short description', async t => {
  const app = await build(t, envFor(await idpFor(t)))
  const res = await app.inject({ url: PROTECTED, headers: bearer('not.a.jwt') })
  t.equal(res.statusCode, 401)
  t.equal(res.headers['www-authenticate'],
    `Bearer realm="api", error="invalid_token", error_description="The access token is malformed", ${RESOURCE_METADATA}, ${DPOP_CHALLENGE}`)
  t.same(res.json(), {
    message: 'The access token is malformed',
    error: 'invalid_token',
    error_description: 'The access token is malformed'
  })
})

t.test('a token in the query string, a form body or a cookie is ignored', async t => {
  const idp = await idpFor(t)
  const app = await build(t, envFor(idp))
  const token = idp.sign()
  const query = await app.inject({ url: `${PROTECTED}?access_token=${token}` })
  t.equal(query.statusCode, 401)
  const cookie = await app.inject({ url: PROTECTED, headers: { cookie: `access_token=${token}; token=${token}` } })
  t.equal(cookie.statusCode, 401)
  const form = await app.inject({
    method: 'GET',
    url: PROTECTED,
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: `access_token=${token}`
  })
  t.equal(form.statusCode, 401)
  t.equal(form.headers['www-authenticate'], `Bearer realm="api", ${RESOURCE_METADATA}, ${DPOP_CHALLENGE}`)
})

t.test('two Authorization headers over real HTTP → 400 invalid_request', async t => {
  const idp = await idpFor(t)
  const app = await build(t, envFor(idp))
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as AddressInfo
  const token = idp.sign()

  // Raw HTTP/1.1 on a socket: the request an attacker would write by hand.
  const send = (headerLines: string[]) => new Promise<{ status: number, body: string }>((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    let raw = ''
    socket.on('data', chunk => { raw += chunk })
    socket.on('end', () => {
      const [head = '', body = ''] = raw.split('\r\n\r\n')
      resolve({ status: Number(head.split(' ')[1]), body })
    })
    socket.on('error', reject)
    socket.end([`GET ${PROTECTED} HTTP/1.1`, 'Host: 127.0.0.1', 'Connection: close', ...headerLines, '', ''].join('\r\n'))
  })

  const one = await send([`Authorization: Bearer ${token}`])
  t.equal(one.status, 200, 'one header passes over real HTTP')
  const two = await send([`Authorization: Bearer ${token}`, `authorization: Bearer ${token}`])
  t.equal(two.status, 400)
  t.equal(JSON.parse(two.body).error, 'invalid_request')
})
