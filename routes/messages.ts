import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { ErrorSchema, MessageSchema } from './schemas.js'

export const Messages = {
  public: "The API doesn't require an access token to share this message.",
  protected: 'The API successfully validated your access token.',
  admin: 'The API successfully recognized you as an admin.'
} as const

export const Permissions = {
  readAdminMessages: 'read:admin-messages'
} as const

const messages: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get('/public', {
    schema: { response: { 200: MessageSchema } }
  }, async () => ({ message: Messages.public }))

  fastify.get('/protected', {
    schema: { response: { 200: MessageSchema, '4xx': ErrorSchema, 503: ErrorSchema } },
    onRequest: fastify.authenticate
  }, async () => ({ message: Messages.protected }))

  fastify.get('/admin', {
    schema: { response: { 200: MessageSchema, '4xx': ErrorSchema, 503: ErrorSchema } },
    onRequest: fastify.authenticate,
    preHandler: fastify.requireScopes(Permissions.readAdminMessages)
  }, async () => ({ message: Messages.admin }))
}

export default messages
