import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { ForbiddenResponse, MessageSchema, ProtectedResponses } from './schemas.js'

export const Messages = {
  public: "The API doesn't require an access token to share this message.",
  protected: 'The API successfully validated your access token.',
  admin: 'The API successfully recognized you as an admin.'
} as const

export const Permissions = {
  readAdminMessages: 'read:admin-messages'
} as const

const tags = ['messages']

const messages: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get('/public', {
    schema: {
      summary: 'A message for anyone',
      tags,
      response: { 200: MessageSchema }
    }
  }, async () => ({ message: Messages.public }))

  fastify.get('/protected', {
    schema: {
      summary: 'A message for any valid access token',
      tags,
      security: [{ bearerAuth: [] }],
      response: { 200: MessageSchema, ...ProtectedResponses }
    },
    onRequest: fastify.authenticate
  }, async () => ({ message: Messages.protected }))

  fastify.get('/admin', {
    schema: {
      summary: `A message for tokens granting ${Permissions.readAdminMessages}`,
      description: `Needs \`${Permissions.readAdminMessages}\` in the token's \`permissions\` array or \`scope\` string.`,
      tags,
      security: [{ bearerAuth: [Permissions.readAdminMessages] }],
      response: { 200: MessageSchema, ...ProtectedResponses, 403: ForbiddenResponse }
    },
    onRequest: fastify.authenticate,
    preHandler: fastify.requireScopes(Permissions.readAdminMessages)
  }, async () => ({ message: Messages.admin }))
}

export default messages
