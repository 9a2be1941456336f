/** The floor: a bare Fastify app with the public route only, no plugin. */
import Fastify from 'fastify'
import { addMessageRoutes, benchEnv } from './routes.js'

const { port } = benchEnv()
const app = Fastify()
addMessageRoutes(app, undefined)
await app.listen({ port, host: '127.0.0.1' })
