/** The floor: a bare Fastify app with the public route only, no plugin. */
import Fastify from 'fastify'
import { addMessageRoutes, benchEnv, serve } from './routes.js'

const { port } = benchEnv()
const app = Fastify()
addMessageRoutes(app, undefined)
await serve(app, port)
