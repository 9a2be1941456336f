import { existsSync } from 'node:fs'
import closeWithGrace from 'close-with-grace'
import Fastify from 'fastify'
import app from './app.js'
import { ConfigError, resolveServerOptions } from './plugins/config.js'
import { serializeRequest } from './plugins/log-redaction.js'
import { deferredChildLogger } from './plugins/request-logger.js'
import { createMetricsServer, METRICS_PATH } from './plugins/metrics-server.js'

// The Auth0 samples keep their settings in .env; variables already set win.
if (existsSync('.env')) process.loadEnvFile('.env')

// The issuer's discovery document names another issuer: the configuration is wrong, not the provider.
// The local issuer's state file is broken: its message names the file and what is wrong.
const CONFIGURATION_ERROR_CODES = new Set(['FST_AUTH_ISSUER_MISMATCH', 'LOCAL_ISSUER_STATE_INVALID'])

/** A configuration error is one line naming the variable; anything else is logged in full. */
function exitOnStartError (error: unknown, log?: (error: unknown) => void): never {
  const configuration = error instanceof ConfigError || CONFIGURATION_ERROR_CODES.has((error as { code?: string } | null)?.code ?? '')
  if (configuration) console.error(`Configuration error: ${(error as Error).message}`)
  else if (log !== undefined) log(error)
  else console.error(error)
  process.exit(1)
}

let serverOptions: ReturnType<typeof resolveServerOptions>
try {
  serverOptions = resolveServerOptions(process.env)
} catch (error) {
  exitOnStartError(error)
}
const { level, trustProxy } = serverOptions

const server = Fastify({
  // Credentials never reach the log: not the Authorization header, not a token in the query, and
  // not the raw bytes of a malformed request, which Fastify logs at trace as err.rawPacket.
  logger: { level, redact: ['req.headers.authorization', 'err.rawPacket'], serializers: { req: serializeRequest } },
  // Each request's logger (with its reqId) is made when the request first logs, not for every request.
  childLoggerFactory: deferredChildLogger,
  // Behind a TLS-terminating proxy, the scheme and host in challenges come from X-Forwarded-*.
  trustProxy,
  // Hello World clients send no bodies; keep what a request may cost small.
  bodyLimit: 16 * 1024
})

// SIGINT, SIGTERM, an uncaught error or an unhandled rejection: close the server (the
// local issuer and the key store with it) within 10 s, then exit. Registered before the
// server listens: a SIGTERM just after "Server listening" still closes it gracefully.
closeWithGrace({ delay: 10_000 }, async ({ signal, err }) => {
  if (err !== undefined) server.log.error({ err }, 'closing after an error')
  else server.log.info({ signal }, 'closing')
  await server.close()
})

try {
  await server.register(app, { env: process.env })
  // Prometheus scrapes a second listener, never the API's port; it closes with the API.
  const metrics = server.config.metrics
  const metricsServer = metrics === undefined ? undefined : createMetricsServer(server.metrics, server.log.child({ listener: 'metrics' }))
  if (metricsServer !== undefined) server.addHook('onClose', () => metricsServer.close())
  await server.listen({ port: server.config.port, host: server.config.host })
  await metricsServer?.listen({ port: metrics!.port, host: metrics!.host, listenTextResolver: address => `Metrics listening at ${address}${METRICS_PATH}` })
  if (server.localIssuer !== undefined) printNewcomerGuide()
} catch (error) {
  exitOnStartError(error, err => server.log.fatal({ err }, 'the server could not start'))
}

/** The few lines a newcomer needs when the local development issuer is on. */
function printNewcomerGuide () {
  const { issuer, created, dataDir, stateFile, otherInstances } = server.localIssuer!
  const { port } = server.addresses()[0] as { port: number }
  const api = `http://${server.config.host}:${port}`
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
    ''
  ]
  console.log(lines.join('\n'))
}
