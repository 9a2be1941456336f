import { writeFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import type { FastifyBaseLogger } from 'fastify'
import { ClientStore } from './client-store.js'
import { createInteractionHandler } from './interactions.js'
import { ISSUER_INFO_FILE, type IssuerInfo } from './issuer-info.js'
import { LocalClients } from './issuer-info.js'
import { createProvider } from './provider.js'
import { loadState, type FirstStartSecrets } from './state.js'

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
}

export interface LocalIssuer {
  issuer: string
  audience: string
  /** Secrets made on this start (first start only), to print once. */
  created: FirstStartSecrets | undefined
  close: () => Promise<void>
}

/** oidc-provider on its own loopback port, with the login and consent pages beside it. */
export async function startLocalIssuer ({ host, port, audience, clientOrigin, redirectUris, dataDir, log }: LocalIssuerOptions): Promise<LocalIssuer> {
  const { state, created } = await loadState(dataDir)
  const server = createServer()
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => resolve())
  })
  const issuer = `http://${host}:${(server.address() as AddressInfo).port}/`

  const clients = new ClientStore(dataDir, error => log.error({ err: error }, 'local issuer: registered clients could not be saved'))
  const provider = createProvider({ issuer, audience, clientOrigin, redirectUris, clients, state })
  provider.on('server_error', (ctx, error) => log.error({ err: error }, 'local issuer: server error'))
  const handleProvider = provider.callback()
  const handleInteraction = createInteractionHandler(provider, state, log)
  server.on('request', (req, res) => {
    // No page of the issuer may be framed (clickjacking of login, consent, logout);
    // the interaction pages set a fuller policy of their own.
    res.setHeader('content-security-policy', "frame-ancestors 'none'")
    res.setHeader('x-frame-options', 'DENY')
    if (req.url?.startsWith('/interaction/')) handleInteraction(req, res)
    else handleProvider(req, res)
  })

  const info: IssuerInfo = { issuer, audience, machineClientId: LocalClients.machine }
  await writeFile(join(dataDir, ISSUER_INFO_FILE), JSON.stringify(info, null, 2))

  return {
    issuer,
    audience,
    created,
    close: async () => {
      await new Promise<void>(resolve => {
        server.closeAllConnections()
        server.close(() => resolve())
      })
      await clients.flush()
    }
  }
}
