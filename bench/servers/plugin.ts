/**
 * This repository's plugin alone on a bare Fastify app, with its defaults. With
 * BENCH_PLUGIN_MODULE, another build of the plugin (its dist/index.js) is loaded instead.
 */
import Fastify from 'fastify'
import { Messages, Permissions } from '../../routes/messages.js'
import { MessageSchema } from '../../routes/schemas.js'
import { addMessageRoutes, BENCH_STEP_UP, benchEnv, serve } from './routes.js'

type Plugin = typeof import('fastify-oauth-resource-server')
const { default: auth } = await import(process.env.BENCH_PLUGIN_MODULE ?? 'fastify-oauth-resource-server') as Plugin

const { port, issuer, audience } = benchEnv()
const app = Fastify()
await app.register(auth, { issuer, audience })
addMessageRoutes(app, app.authenticate, () => app.authStatus().keysLoaded)
// The admin route, plain and with step-up (RFC 9470), for BENCH_PAIR=plugin:admin,plugin:step-up.
const admin = { schema: { response: { 200: MessageSchema } }, onRequest: app.authenticate }
app.get('/api/messages/admin', { ...admin, preHandler: app.requireScopes(Permissions.readAdminMessages) }, async () => ({ message: Messages.admin }))
// A build of the plugin from before step-up has no requireAuthContext.
if (typeof app.requireAuthContext === 'function') {
  app.get('/api/messages/step-up', {
    ...admin,
    preHandler: [app.requireScopes(Permissions.readAdminMessages), app.requireAuthContext({ acrValues: [...BENCH_STEP_UP.acrValues], maxAge: BENCH_STEP_UP.maxAge })]
  }, async () => ({ message: Messages.admin }))
}
await serve(app, port)
