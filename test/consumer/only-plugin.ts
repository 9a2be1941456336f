// 1. An app that registers only this plugin: typed claims with no declaration of its own.
import assert from 'node:assert/strict'
import Fastify from 'fastify'
import auth from 'fastify-oauth-resource-server'
import { createTestIssuer } from 'fastify-oauth-resource-server/testing'

const idp = await createTestIssuer()
const app = Fastify()
await app.register(auth, { issuer: idp.issuer, audience: idp.audience })
app.get('/me', { onRequest: app.authenticate }, async request => {
  const sub: string | undefined = request.claims?.sub
  const permissions: string[] | undefined = request.claims?.permissions
  return { sub, permissions }
})

const ok = await app.inject({ url: '/me', headers: { authorization: `Bearer ${idp.sign({ sub: 'alice' })}` } })
assert.equal(ok.statusCode, 200)
assert.equal(ok.json().sub, 'alice')
const bad = await app.inject({ url: '/me', headers: { authorization: `Bearer ${idp.sign({ aud: 'https://other.example' })}` } })
assert.equal(bad.statusCode, 401)
assert.match(String(bad.headers['www-authenticate']), /error="invalid_token"/)
await app.close()
await idp.close()
console.log('only-plugin: ok')
