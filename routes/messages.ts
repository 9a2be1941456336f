import type { FastifyPluginAsyncJsonSchemaToTs } from '@fastify/type-provider-json-schema-to-ts'
import { ForbiddenResponse, MessageSchema, ProtectedResponses, TooManyRequestsResponse } from './schemas.js'

export const Messages = {
  public: "The API doesn't require an access token to share this message.",
  protected: 'The API successfully validated your access token.',
  admin: 'The API successfully recognized you as an admin.',
  guest: 'Hello, guest. Send an access token and this message names you.',
  /** The greeting for a verified token's caller: its subject, or the client of a token without one. */
  greeting: (caller: string) => `Hello, ${caller}. The API validated your access token.`
} as const

export const Permissions = {
  readAdminMessages: 'read:admin-messages'
} as const

const tags = ['messages']

const messages: FastifyPluginAsyncJsonSchemaToTs = async (fastify) => {
  const { adminAuthContext } = fastify.config
  fastify.get('/public', {
    schema: {
      summary: 'A message for anyone',
      tags,
      response: { 200: MessageSchema, ...TooManyRequestsResponse }
    }
  }, async () => ({ message: Messages.public }))

  fastify.get('/protected', {
    schema: {
      summary: 'A message for any valid access token',
      tags,
      security: [{ bearerAuth: [] }],
      response: { 200: MessageSchema, ...ProtectedResponses, ...TooManyRequestsResponse }
    },
    onRequest: fastify.authenticate
  }, async () => ({ message: Messages.protected }))

  // Optional authentication: anyone may call it, and a token that is sent must be valid.
  fastify.get('/greeting', {
    schema: {
      summary: 'A greeting for anyone, naming the caller when a token is sent',
      description: 'With no Authorization header it greets a guest; a token that is sent is verified, and a bad one is a 401. ' +
        'It names the token\'s `sub`, or, for a client credentials token without one, its `client_id`.',
      tags,
      security: [{ bearerAuth: [] }, {}],
      response: { 200: MessageSchema, ...ProtectedResponses, ...TooManyRequestsResponse }
    },
    onRequest: fastify.authenticateOptional
  }, async request => {
    // The plugin refuses a token whose sub or client_id is not a string: both are strings here.
    const caller = request.claims?.sub ?? request.claims?.client_id
    return { message: caller === undefined ? Messages.guest : Messages.greeting(caller) }
  })

  fastify.get('/admin', {
    schema: {
      summary: `A message for tokens granting ${Permissions.readAdminMessages}`,
      description: `Needs \`${Permissions.readAdminMessages}\` in the token's \`permissions\` array or \`scope\` string.` +
        (adminAuthContext === undefined ? '' : ' The sign-in behind the token must also meet ADMIN_ACR_VALUES/ADMIN_MAX_AGE, else 401 `insufficient_user_authentication` (RFC 9470).'),
      tags,
      security: [{ bearerAuth: [Permissions.readAdminMessages] }],
      response: { 200: MessageSchema, ...ProtectedResponses, 403: ForbiddenResponse, ...TooManyRequestsResponse }
    },
    onRequest: fastify.authenticate,
    // The permission first: a user without it gains nothing by signing in again.
    preHandler: adminAuthContext === undefined
      ? fastify.requireScopes(Permissions.readAdminMessages)
      : [fastify.requireScopes(Permissions.readAdminMessages), fastify.requireAuthContext(adminAuthContext)]
  }, async () => ({ message: Messages.admin }))
}

export default messages
