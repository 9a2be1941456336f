import { randomBytes } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import type { FastifyBaseLogger } from 'fastify'
import { ClientStore } from './client-store.js'
import { createInteractionHandler } from './interactions.js'
import { LiveState } from './live-state.js'
import { liveInstances, recordInstance, removeInstance, updateInstance, type IssuerInstance } from './instances.js'
import { LocalClients } from './issuer-info.js'
import { listenMtls, type IssuerTls } from './mtls.js'
import { createProvider } from './provider.js'
import { loadState, STATE_FILE, StateFileError, type FirstStartSecrets } from './state.js'

export interface LocalIssuerOptions {
  /** Loopback only: this issuer is for one developer's machine. */
  host: '127.0.0.1'
  /** 0 picks a free port. */
  port: number
  audience: string
  clientOrigin: string
  /** More redirect URIs for the browser client. */
  redirectUris: string[]
  dataDir: string
  log: FastifyBaseLogger
  /** With the service's client CA: an HTTPS listener issuing certificate-bound tokens (RFC 8705). */
  tls?: IssuerTls
}

export interface LocalIssuer {
  issuer: string
  audience: string
  /** Where its state is, for the start-up guide. */
  dataDir: string
  stateFile: string
  /** Secrets made on this start (first start only), to print once. */
  created: FirstStartSecrets | undefined
  /** Names the API this issuer serves, once it listens, for `npm run token --api`. */
  servesApi: (api: string) => void
  /** The API's client for RFC 7662 introspection of opaque tokens; its secret lives in memory only. */
  introspection: { clientId: string, clientSecret: string }
  /** The HTTPS origin (client certificates of the service's client CA) whose /oauth/token issues certificate-bound tokens; undefined without tls. */
  mtlsUrl: string | undefined
  /** The other running servers whose local issuer uses the same data folder. */
  otherInstances: () => IssuerInstance[]
  close: () => Promise<void>
}

/** oidc-provider on its own loopback port, with the login and consent pages beside it. */
export async function startLocalIssuer ({ host, port, audience, clientOrigin, redirectUris, dataDir, log, tls }: LocalIssuerOptions): Promise<LocalIssuer> {
  const { state, created } = await loadState(dataDir)
  const server = createServer()
  // The API in this process fetches keys and introspects here over kept-alive sockets, and its
  // fetch (undici) closes idle ones itself. An idle timeout on this side can close a socket just
  // as the API reuses it after its event loop was busy for seconds, failing that call (ECONNRESET).
  // Browsers close their idle sockets too, and close() ends every connection.
  server.keepAliveTimeout = 0
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => resolve())
  })
  const issuer = `http://${host}:${(server.address() as AddressInfo).port}/`

  const clients = new ClientStore(dataDir, error => log.error({ err: error }, 'local issuer: registered clients could not be saved'))
  // Users and added clients as npm run issuer leaves them; a broken file refuses sign-ins and tokens, said once here.
  const live = new LiveState(dataDir, state, error => log.error(`local issuer: ${error.message}`))
  // The API runs in this process: its introspection secret never needs to leave memory.
  const introspectionClient = { clientId: LocalClients.api, clientSecret: randomBytes(32).toString('base64url') }
  const provider = createProvider({ issuer, audience, clientOrigin, redirectUris, clients, state, live, introspectionClient, mtls: tls !== undefined })
  provider.on('server_error', (ctx, error) => {
    // A broken state file is logged once, by LiveState, not on every request it fails.
    if (!(error instanceof StateFileError)) log.error({ err: error }, 'local issuer: server error')
  })
  const handleProvider = provider.callback()
  const handleInteraction = createInteractionHandler(provider, live, log)
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    // No page of the issuer may be framed (clickjacking of login, consent, logout);
    // the interaction pages set a fuller policy of their own.
    res.setHeader('content-security-policy', "frame-ancestors 'none'")
    res.setHeader('x-frame-options', 'DENY')
    if (req.url?.startsWith('/interaction/')) handleInteraction(req, res)
    else handleProvider(req, res)
  }
  server.on('request', handle)
  const mtls = tls === undefined ? undefined : await listenMtls(tls, host, handle)

  recordInstance(dataDir, { issuer, audience, machineClientId: LocalClients.machine, pid: process.pid, startedAt: Date.now() })

  return {
    issuer,
    audience,
    dataDir,
    stateFile: join(dataDir, STATE_FILE),
    created,
    introspection: introspectionClient,
    mtlsUrl: mtls?.url,
    servesApi: api => updateInstance(dataDir, issuer, { api }),
    otherInstances: () => liveInstances(dataDir).filter(instance => instance.issuer !== issuer),
    close: async () => {
      removeInstance(dataDir, issuer)
      await Promise.all([server, mtls?.server].map(async listener => await new Promise<void>(resolve => {
        if (listener === undefined) return resolve()
        listener.closeAllConnections()
        listener.close(() => resolve())
      })))
      await clients.flush()
    }
  }
}
