// 3. Custom claims typed by one declaration.
import Fastify from 'fastify'
import auth from 'fastify-oauth-resource-server'

declare module 'fastify-oauth-resource-server' {
  interface AccessTokenClaims {
    email?: string
    tenant_id: string
  }
}

const app = Fastify()
await app.register(auth, { issuer: 'https://tenant.example.com/', audience: 'https://api.example.com' })
app.get('/tenant', { onRequest: app.authenticate }, async request => {
  const claims = request.claims!
  const tenant: string = claims.tenant_id
  const email: string = claims.email ?? 'unknown'
  // @ts-expect-error: tenant_id is a string, not a number
  const wrong: number = claims.tenant_id
  return { tenant, email, wrong }
})
console.log('custom-claims: compiled')
