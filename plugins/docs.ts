import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import securityHeaders, { SampleHeaders } from './security-headers.js'

export interface DocsOptions {
  /** When the local issuer runs: the docs page can get a token from it (OAuth2 authorization code + PKCE). */
  localIssuer?: { issuer: string, audience: string, clientId: string, scopes: Record<string, string> }
  /** Protected operations also accept a DPoP-bound token with its proof (RFC 9449). */
  dpop?: boolean
}

/**
 * OpenAPI 3.1 from the route schemas at /docs/json, and Swagger UI at /docs. The
 * page gets only the relaxations it needs, scoped to /docs: a CSP for its own scripts,
 * inline styles, data: images and calls to the local issuer, and no COOP isolation for
 * its sign-in popup. Every other route keeps the strict headers.
 */
async function docs (fastify: FastifyInstance, { localIssuer, dpop = false }: DocsOptions) {
  await fastify.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Hello World API',
        description: 'The Auth0 "Hello World API", protected by OAuth 2.0 JWT access tokens (RFC 6750 bearer tokens).',
        version: '1.0.0'
      },
      components: {
        securitySchemes: {
          bearerAuth: {
            type: 'http',
            scheme: 'bearer',
            bearerFormat: 'JWT',
            description: 'An access token for this API; the listed roles are the permissions (permissions claim or scope) a route needs.'
          },
          ...(dpop && {
            dpopAuth: {
              type: 'http',
              scheme: 'dpop',
              description: 'A DPoP-bound access token (RFC 9449): `Authorization: DPoP <token>` with a fresh proof in the `DPoP` header, signed by the key the token is bound to.'
            }
          }),
          ...(localIssuer === undefined
            ? {}
            : {
                localIssuer: {
                  type: 'oauth2',
                  description: 'The local development issuer (only when it runs)',
                  flows: {
                    authorizationCode: {
                      authorizationUrl: `${localIssuer.issuer}authorize`,
                      tokenUrl: `${localIssuer.issuer}oauth/token`,
                      refreshUrl: `${localIssuer.issuer}oauth/token`,
                      scopes: localIssuer.scopes
                    }
                  }
                }
              })
        }
      }
    },
    // Each protected operation also accepts DPoP when it is on, and the local issuer's OAuth2 scheme when it runs.
    transformObject (documentObject) {
      if (!('openapiObject' in documentObject)) return documentObject.swaggerObject
      const { openapiObject } = documentObject
      if (localIssuer === undefined && !dpop) return openapiObject
      for (const path of Object.values(openapiObject.paths ?? {})) {
        for (const operation of Object.values(path as Record<string, { security?: Array<Record<string, string[]>> }>)) {
          const bearer = operation.security?.find(requirement => 'bearerAuth' in requirement)
          if (bearer === undefined) continue
          if (dpop) operation.security!.push({ dpopAuth: bearer.bearerAuth! })
          if (localIssuer !== undefined) operation.security!.push({ localIssuer: bearer.bearerAuth! })
        }
      }
      return openapiObject
    }
  })

  await fastify.register(async function docsPage (child) {
    const connect = localIssuer === undefined ? ["'self'"] : ["'self'", new URL(localIssuer.issuer).origin]
    await child.register(securityHeaders, {
      ...SampleHeaders,
      contentSecurityPolicy: {
        useDefaults: false,
        directives: {
          defaultSrc: ["'self'"],
          imgSrc: ["'self'", 'data:'],
          styleSrc: ["'self'", "'unsafe-inline'"],
          connectSrc: connect,
          frameAncestors: ["'none'"]
        }
      },
      // The sign-in popup returns through the issuer's origin; COOP same-origin would cut
      // its window.opener, and with it Swagger UI's OAuth2 flow.
      crossOriginOpenerPolicy: { policy: 'unsafe-none' }
    })
    await child.register(swaggerUi, {
      routePrefix: '/docs',
      uiConfig: { deepLinking: true, persistAuthorization: false },
      ...(localIssuer === undefined
        ? {}
        : {
            // The local issuer's client is public (PKCE, no secret): hide the client_secret
            // field Swagger UI shows for every authorization-code flow.
            theme: {
              css: [{
                filename: 'public-client.css',
                content: '.auth-container .wrapper:has(> label[for="client_secret_authorizationCode"]) { display: none }'
              }]
            },
            initOAuth: {
              clientId: localIssuer.clientId,
              usePkceWithAuthorizationCodeGrant: true,
              scopes: Object.keys(localIssuer.scopes),
              additionalQueryStringParams: { audience: localIssuer.audience }
            }
          })
    })
  })
}

export default fp(docs, { name: 'docs', fastify: '5.x' })
