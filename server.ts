import type { Server as TlsServer } from 'node:tls'
import closeWithGrace from 'close-with-grace'
import Fastify from 'fastify'
import app from './app.js'
import { ConfigError, loadConfig, readEnvironment, readTlsFiles, type Config, type TlsFiles } from './config/index.js'
import { deferredChildLogger } from './logging/request-logger.js'
import { serializeRequest } from './logging/redaction.js'
import { createMetricsServer, METRICS_PATH } from './metrics/metrics-server.js'
import type { Tracing } from './tracing/sdk.js'

// The issuer's discovery document names another issuer: the configuration is wrong, not the provider.
// The local issuer's state file is broken: its message names the file and what is wrong.
// An issuer that cannot be used as configured (an Okta org server, a template without TENANTS) likewise.
const CONFIGURATION_ERROR_CODES = new Set(['FST_AUTH_ISSUER_MISMATCH', 'FST_AUTH_ISSUER_UNUSABLE', 'LOCAL_ISSUER_STATE_INVALID'])

/** A configuration error is one line naming the variable; anything else is logged in full. */
function exitOnStartError (error: unknown, log?: (error: unknown) => void): never {
  const configuration = error instanceof ConfigError || CONFIGURATION_ERROR_CODES.has((error as { code?: string } | null)?.code ?? '')
  if (configuration) console.error(`Configuration error: ${(error as Error).message}`)
  else if (log !== undefined) log(error)
  else console.error(error)
  process.exit(1)
}

// Read once, here: .env and the environment (variables already set win), checked as a whole.
let config: Readonly<Config>
try {
  config = loadConfig(readEnvironment())
} catch (error) {
  exitOnStartError(error)
}

// Tracing only when the OTEL_* variables ask for it: otherwise the OpenTelemetry SDK and
// @fastify/otel are never imported. Started before the app, whose auth plugin looks for it when ready.
let tracing: Tracing | undefined
try {
  tracing = config.tracing === undefined ? undefined : (await import('./tracing/sdk.js')).startTracing(config.tracing)
} catch (error) {
  exitOnStartError(error)
}
/**
 * HTTPS options from TLS_CERT_FILE and TLS_KEY_FILE. With TLS_CLIENT_CA_FILE, clients are
 * asked for a certificate signed by that CA but not made to send one (Bearer clients without
 * one still connect); the plugin counts only certificates the handshake verified.
 */
const secureContext = (files: TlsFiles) => ({ cert: files.cert, key: files.key, ...(files.clientCa !== undefined && { ca: files.clientCa }) })
const https = config.tls === undefined
  ? null
  : { ...secureContext(config.tls.files), ...(config.tls.clientCaFile !== undefined && { requestCert: true, rejectUnauthorized: false }) }

const server = Fastify({
  https,
  // Credentials never reach the log: not the Authorization header, not a token in the query, and
  // not the raw bytes of a malformed request, which Fastify logs at trace as err.rawPacket.
  logger: { level: config.logLevel, redact: ['req.headers.authorization', 'err.rawPacket'], serializers: { req: serializeRequest } },
  // Each request's logger (with its reqId) is made when the request first logs, not for every request.
  childLoggerFactory: deferredChildLogger,
  // Behind a TLS-terminating proxy, the scheme and host in challenges come from X-Forwarded-*.
  trustProxy: config.trustProxy,
  // Hello World clients send no bodies; keep what a request may cost small.
  bodyLimit: 16 * 1024,
  // Start-up waits on the identity provider (each fetch bounded by its own timeout) and, with
  // the local issuer, loads oidc-provider, makes a key and hashes passwords: CPU work that on a
  // busy machine outlasts Fastify's 10 s default. A plugin that never finishes still stops it.
  pluginTimeout: 60_000
})

// SIGINT, SIGTERM, an uncaught error or an unhandled rejection: close the server (the
// local issuer and the key store with it) within 10 s, then exit. Registered before the
// server listens: a SIGTERM just after "Server listening" still closes it gracefully.
// With HTTPS, SIGHUP reloads the certificate (below) instead of closing.
closeWithGrace({ delay: 10_000, skip: config.tls === undefined ? [] : ['SIGHUP'] }, async ({ signal, err }) => {
  if (err !== undefined) server.log.error({ err }, 'closing after an error')
  else server.log.info({ signal }, 'closing')
  await server.close()
  // The spans of the last requests are exported before the process exits.
  await tracing?.shutdown()
})

// SIGHUP: read the certificate files again (a renewed certificate needs no restart). New
// connections get the new ones; a file that fails its checks leaves the running ones in place.
if (config.tls !== undefined) {
  const tls = config.tls
  process.on('SIGHUP', () => {
    try {
      (server.server as TlsServer).setSecureContext(secureContext(readTlsFiles(tls)))
      server.log.info({ certFile: tls.certFile }, 'TLS certificate reloaded')
    } catch (error) {
      server.log.error({ err: error }, 'TLS certificate not reloaded; the previous one stays in use')
    }
  })
}

try {
  if (tracing !== undefined) await server.register(tracing.plugin)
  await server.register(app, { config })
  // Prometheus scrapes a second listener, never the API's port; it closes with the API.
  // server.metrics is there exactly when config.metrics is (the app registers it then).
  const { metrics } = config
  const metricsServer = server.metrics === undefined ? undefined : createMetricsServer(server.metrics, server.log.child({ listener: 'metrics' }))
  if (metricsServer !== undefined) server.addHook('onClose', () => metricsServer.close())
  await server.listen({ port: config.port, host: config.host })
  if (metricsServer !== undefined && metrics !== undefined) {
    await metricsServer.listen({ port: metrics.port, host: metrics.host, listenTextResolver: address => `Metrics listening at ${address}${METRICS_PATH}` })
  }
  if (server.localIssuer !== undefined) printNewcomerGuide()
} catch (error) {
  exitOnStartError(error, err => server.log.fatal({ err }, 'the server could not start'))
}

/** The few lines a newcomer needs when the local development issuer is on. */
function printNewcomerGuide () {
  const { issuer, created, dataDir, stateFile, otherInstances } = server.localIssuer!
  const { port } = server.addresses()[0] as { port: number }
  const api = `${config.tls === undefined ? 'http' : 'https'}://${config.host}:${port}`
  // With another server on the same data folder, `npm run token` must be told which one.
  const shared = otherInstances().length > 0
  const token = shared ? `npm run -s token -- --port ${port}` : 'npm run -s token'
  const tokenWith = (args: string) => shared ? `${token} ${args}` : `${token} -- ${args}`
  const lines = [
    '',
    `Hello World API:  ${api}`,
    `Local development issuer (NOT for production): ${issuer}`,
    ...(created === undefined
      ? [`Secrets from the first start are in ${stateFile} (passwords only as hashes; delete the folder to start afresh)`]
      : [
          'First start: these secrets are printed once and stored (passwords hashed) in ' + dataDir + '/',
          `  machine client  local-machine  secret ${created.machineClientSecret}`,
          `  admin user      admin          password ${created.passwords.admin}   (has read:admin-messages)`,
          `  other user      user           password ${created.passwords.user}`
        ]),
    ...(shared ? ['Another server uses the same local issuer folder: the commands below name this one by its port.'] : []),
    `Get a token:  ${token}              (add ${shared ? '' : '-- '}--scope read:admin-messages for the admin route)`,
    'Add users, permissions and clients (no restart needed):  npm run issuer -- help',
    'Try it:',
    `  curl ${api}/api/messages/public`,
    `  curl -H "Authorization: Bearer $(${token})" ${api}/api/messages/protected`,
    `  curl -H "Authorization: Bearer $(${tokenWith('--scope read:admin-messages')})" ${api}/api/messages/admin`,
    `DPoP (a token bound to a key of yours): ${tokenWith('--dpop')} prints the two headers for one call of /api/messages/protected`,
    ...(server.localIssuer!.mtlsUrl === undefined
      ? []
      : [`Certificate-bound tokens (RFC 8705): client local-mtls with a CN=local-mtls certificate of TLS_CLIENT_CA_FILE's CA at ${server.localIssuer!.mtlsUrl}/oauth/token (docs/mtls.md)`]),
    ''
  ]
  console.log(lines.join('\n'))
}
