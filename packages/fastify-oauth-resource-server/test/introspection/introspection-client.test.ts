import { once } from 'node:events'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import type { Test } from 'tap'
import t from 'tap'
import { createIntrospectionClient } from '../../src/introspection/introspection-client.js'
import { ProviderFetchError } from '../../src/keys/fetch-json.js'

interface Endpoint { url: string, requests: Array<{ method?: string, headers: IncomingMessage['headers'], body: string }>, connections: Socket[] }

/** A real endpoint on 127.0.0.1:0 that records what it receives and answers with `answer`. */
async function endpoint (t: Test, answer: (request: IncomingMessage, response: ServerResponse) => void): Promise<Endpoint> {
  const seen: Endpoint = { url: '', requests: [], connections: [] }
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = []
    request.on('data', chunk => chunks.push(chunk))
    request.on('end', () => {
      seen.requests.push({ method: request.method, headers: request.headers, body: Buffer.concat(chunks).toString('utf8') })
      answer(request, response)
    })
  })
  server.keepAliveTimeout = 0
  server.on('connection', socket => seen.connections.push(socket))
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => {
    server.closeAllConnections()
    return new Promise(resolve => server.close(resolve))
  })
  seen.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/introspect`
  return seen
}

const json = (response: ServerResponse, status: number, body: unknown) =>
  response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body))

function clientFor (t: Test, maxResponseBytes = 1024) {
  const client = createIntrospectionClient({ maxResponseBytes, maxSockets: 2 })
  t.teardown(() => client.close())
  return client
}

const form = { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded;charset=UTF-8', authorization: 'Basic cnM6c2VjcmV0' }, body: new URLSearchParams({ token: 'abc', token_type_hint: 'access_token' }) }

t.test('the request carries the method, headers and form it is given; the answer its status, headers and body', async t => {
  const server = await endpoint(t, (request, response) => json(response, 200, { active: false }))
  const answer = await clientFor(t).fetch(server.url, form)
  t.equal(answer.status, 200)
  t.equal(answer.headers.get('content-type'), 'application/json')
  t.same(await answer.json(), { active: false })
  const [request] = server.requests
  t.equal(request?.method, 'POST')
  t.equal(request?.headers.authorization, 'Basic cnM6c2VjcmV0')
  t.equal(request?.headers['content-length'], String('token=abc&token_type_hint=access_token'.length), 'a known length, as fetch sends it')
  t.equal(request?.body, 'token=abc&token_type_hint=access_token')
})

t.test('calls one after another reuse one kept-open connection', async t => {
  const server = await endpoint(t, (request, response) => json(response, 200, { active: false }))
  const client = clientFor(t)
  for (let i = 0; i < 3; i++) await (await client.fetch(server.url, form)).json()
  t.equal(server.requests.length, 3)
  t.equal(server.connections.length, 1, 'one connection for three calls')
})

t.test('close() closes the kept-open connections', async t => {
  const server = await endpoint(t, (request, response) => json(response, 200, { active: false }))
  const client = createIntrospectionClient({ maxResponseBytes: 1024, maxSockets: 2 })
  await (await client.fetch(server.url, form)).json()
  const [socket] = server.connections
  const closed = once(socket!, 'close')
  client.close()
  await closed
  t.ok(socket!.destroyed, 'the endpoint saw the connection close')
})

t.test('a redirect is an error and is never followed: the place it names receives nothing', async t => {
  const elsewhere = await endpoint(t, (request, response) => json(response, 200, { active: true, sub: 'attacker' }))
  for (const status of [301, 302, 303, 307, 308]) {
    const redirecting = await endpoint(t, (request, response) => response.writeHead(status, { location: elsewhere.url }).end())
    const error = await clientFor(t).fetch(redirecting.url, form).then(() => undefined, (error: unknown) => error)
    t.ok(error instanceof ProviderFetchError, `${status}: refused`)
    t.match((error as Error).message, /redirect/)
  }
  t.equal(elsewhere.requests.length, 0, 'no request (and no client credentials) went where a redirect pointed')
})

t.test('a body past maxResponseBytes is refused, whether its length is announced or not', async t => {
  const big = 'x'.repeat(4096)
  const announced = await endpoint(t, (request, response) => response.writeHead(200, { 'content-type': 'application/json', 'content-length': big.length }).end(big))
  const chunked = await endpoint(t, (request, response) => {
    response.writeHead(200, { 'content-type': 'application/json' })
    response.write(big.slice(0, 1000))
    response.end(big.slice(1000))
  })
  for (const server of [announced, chunked]) {
    const error = await clientFor(t, 1024).fetch(server.url, form).then(() => undefined, (error: unknown) => error)
    t.ok(error instanceof ProviderFetchError)
    t.equal((error as ProviderFetchError).result, 'too_large')
  }
})

t.test('the signal aborts a call whose answer does not come', async t => {
  const hanging = await endpoint(t, () => {})
  const controller = new AbortController()
  const call = clientFor(t).fetch(hanging.url, { ...form, signal: controller.signal }).then(() => 'answered', () => 'aborted')
  while (hanging.requests.length === 0) await new Promise(resolve => setTimeout(resolve, 10))
  controller.abort()
  t.equal(await call, 'aborted')
})

t.test('an answer cut off before its end is an error, not a short body', async t => {
  const cut = await endpoint(t, (request, response) => {
    response.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' })
    response.write('{"active":')
    setImmediate(() => response.socket?.destroy())
  })
  const error = await clientFor(t).fetch(cut.url, form).then(() => undefined, (error: unknown) => error)
  t.ok(error instanceof Error, 'rejected')
})
