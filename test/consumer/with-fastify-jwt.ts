// 2. An app that also uses @fastify/jwt for its own session tokens: both compile and work.
import assert from 'node:assert/strict'
import fastifyJwt from '@fastify/jwt'
import Fastify from 'fastify'
import auth from 'fastify-oauth-resource-server'
import { createTestIssuer } from 'fastify-oauth-resource-server/testing'

declare module '@fastify/jwt' {
  interface FastifyJWT {
    payload: { name: string }
    user: { name: string }
  }
}

const idp = await createTestIssuer()
const app = Fastify()
// The app's own @fastify/jwt first (see the README): it keeps request.user and request.jwtVerify.
await app.register(fastifyJwt, { secret: 'a-session-secret-of-at-least-32-bytes!' })
await app.register(auth, { issuer: idp.issuer, audience: idp.audience })

// @fastify/jwt passes some fast-jwt errors (a foreign alg) on without a status, which
// Fastify answers 500; an app answers its own session failures, as here.
app.get('/session', async (request, reply) => {
  try {
    await request.jwtVerify()
  } catch {
    return reply.code(401).send({ message: 'Sign in again' })
  }
  const name: string = request.user.name
  return { name }
})
app.get('/api', { onRequest: app.authenticate }, async request => {
  const sub: string | undefined = request.claims?.sub
  return { sub }
})
await app.ready()

const session = app.jwt.sign({ name: 'bob' })
const access = idp.sign({ sub: 'alice' })
const call = (url: string, token: string) => app.inject({ url, headers: { authorization: `Bearer ${token}` } })

assert.equal((await call('/session', session)).json().name, 'bob', 'the session token works on the session route')
assert.equal((await call('/api', access)).json().sub, 'alice', 'the access token works on the API route')
assert.equal((await call('/api', session)).statusCode, 401, 'a session token is refused by the API route')
assert.equal((await call('/session', access)).statusCode, 401, 'an access token is refused by the session route')
await app.close()
await idp.close()
console.log('with-fastify-jwt: ok')
