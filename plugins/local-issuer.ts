import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import type { LocalIssuer } from '../local-issuer/index.js'
import type { IssuerTls } from '../local-issuer/mtls.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** The local development issuer: present only when no external issuer is configured. */
    localIssuer?: LocalIssuer
  }
}

export interface LocalIssuerPluginOptions {
  port: number
  dataDir: string
  audience: string
  clientOrigin: string
  /** More redirect URIs for the local browser client (the docs page's). */
  redirectUris: string[]
  /** The service's HTTPS files with its client CA: the issuer then issues certificate-bound tokens too. */
  tls?: IssuerTls
}

/**
 * The development authorization server (oidc-provider) on its own loopback port:
 * a separate origin, as a real identity provider is, so the API's strict CSP and
 * its routes stay untouched, and the API trusts it through discovery like any issuer.
 */
async function localIssuer (fastify: FastifyInstance, opts: LocalIssuerPluginOptions) {
  // Loaded only when used: with an external issuer, oidc-provider never loads.
  const { startLocalIssuer } = await import('../local-issuer/index.js')
  const issuer = await startLocalIssuer({ ...opts, host: '127.0.0.1', log: fastify.log })
  fastify.log.warn({ issuer: issuer.issuer },
    'LOCAL DEVELOPMENT ISSUER IS ON: tokens come from a test authorization server on this machine. ' +
    'Set ISSUER_BASE_URL and AUDIENCE (or AUTH0_DOMAIN and AUTH0_AUDIENCE) for real use.')
  fastify.decorate('localIssuer', issuer)
  fastify.addHook('onClose', () => issuer.close())
  // The API's port is known only now; `npm run token --api` finds the issuer by it.
  fastify.addHook('onListen', async () => {
    const address = fastify.addresses()[0]
    if (typeof address === 'object') issuer.servesApi(`http://${fastify.config.host}:${address.port}`)
  })
}

export default fp(localIssuer, { name: 'local-issuer', fastify: '5.x' })
