/**
 * This repository's plugin alone on a bare Fastify app, with its defaults. With
 * BENCH_PLUGIN_MODULE, another build of the plugin (its dist/index.js) is loaded instead.
 */
import Fastify from 'fastify'
import { addMessageRoutes, benchEnv, serve } from './routes.js'

type Plugin = typeof import('fastify-oauth-resource-server')
const { default: auth } = await import(process.env.BENCH_PLUGIN_MODULE ?? 'fastify-oauth-resource-server') as Plugin

const { port, issuer, audience } = benchEnv()
const app = Fastify()
await app.register(auth, { issuer, audience })
addMessageRoutes(app, app.authenticate, () => app.authStatus().keysLoaded)
await serve(app, port)
