/**
 * The plugin alone on a bare Fastify HTTPS app: BENCH_TLS_CERT and BENCH_TLS_KEY are the
 * server's PEM files; with BENCH_TLS_CLIENT_CA, clients are asked for a certificate of that
 * CA (not required), and certificate-bound tokens are checked against it.
 */
import { readFileSync } from 'node:fs'
import Fastify from 'fastify'
import auth from 'fastify-oauth-resource-server'
import { addMessageRoutes, benchEnv, serve } from './routes.js'

const { port, issuer, audience } = benchEnv()
const { BENCH_TLS_CERT: cert, BENCH_TLS_KEY: key, BENCH_TLS_CLIENT_CA: clientCa } = process.env
if (cert === undefined || key === undefined) throw new Error('plugin-tls needs BENCH_TLS_CERT and BENCH_TLS_KEY (bench/tls.ts sets them)')
const https = {
  cert: readFileSync(cert),
  key: readFileSync(key),
  ...(clientCa !== undefined && { ca: readFileSync(clientCa), requestCert: true, rejectUnauthorized: false })
}
const app = Fastify({ https })
await app.register(auth, { issuer, audience, ...(clientCa !== undefined && { mtls: {} }) })
addMessageRoutes(app, app.authenticate, () => app.authStatus().keysLoaded)
await serve(app, port)
