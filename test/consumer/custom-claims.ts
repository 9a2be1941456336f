// 3. Custom claims typed by one declaration.
import Fastify from 'fastify'
import auth from 'fastify-oauth-resource-server'

declare module 'fastify-oauth-resource-server' {
  interface AccessTokenClaims {
    email?: string
    tenant_id: string
    level?: number
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
// Claim checks are typed by the same declaration.
app.get('/acme', { onRequest: app.authenticate, preHandler: app.requireClaimEquals('tenant_id', 'acme') }, async () => ({ ok: true }))
app.get('/mfa', { onRequest: app.authenticate, preHandler: app.requireClaimIncludes('amr', 'mfa') }, async () => ({ ok: true }))
app.get('/senior', { onRequest: app.authenticate, preHandler: app.requireClaims(claims => (claims.level ?? 0) >= 3) }, async () => ({ ok: true }))
// @ts-expect-error: tenant_id is a string, never equal to a number
app.requireClaimEquals('tenant_id', 42)
// @ts-expect-error: level is a number, which includes nothing
app.requireClaimIncludes('level', '3')
console.log('custom-claims: compiled')
