/**
 * The peer a user would pick: fastify-auth0-verify (@fastify/jwt and its own JWKS
 * fetch) on a bare Fastify app, as its README sets it up, pointed at the bench's
 * loopback issuer: `domain` may be an http URL, and its JWKS is then fetched from
 * `<domain>.well-known/jwks.json`, where the test issuer serves it.
 */
import { createRequire } from 'node:module'
import Fastify, { type FastifyPluginCallback, type onRequestHookHandler } from 'fastify'
import { addMessageRoutes, benchEnv, serve } from './routes.js'

interface Auth0VerifyOptions { domain: string, issuer: string, audience: string }
// Loaded without its type declarations: they declare `fastify.authenticate` with
// another type than this repository's plugin does, and both are in one program.
const auth0Verify = createRequire(import.meta.url)('fastify-auth0-verify') as FastifyPluginCallback<Auth0VerifyOptions>

const { port, issuer, audience } = benchEnv()
const app = Fastify()
await app.register(auth0Verify, { domain: issuer, issuer, audience })
// Its `authenticate` is an async hook; declared here for the reason above.
const { authenticate } = app as unknown as { authenticate: onRequestHookHandler }
addMessageRoutes(app, authenticate)
await serve(app, port)
