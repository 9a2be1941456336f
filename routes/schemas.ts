import { Type, type Static } from 'typebox'

export const MessageSchema = Type.Object({ message: Type.String() }, { description: 'The message' })
export type Message = Static<typeof MessageSchema>

/** Every error body: a `message`, and for bearer-token errors the RFC 6750 code and description. */
const errorProperties = {
  message: Type.String(),
  error: Type.Optional(Type.String({ description: 'RFC 6750 error code' })),
  error_description: Type.Optional(Type.String())
}

const challenge = {
  'WWW-Authenticate': { type: 'string', description: 'RFC 6750 Bearer challenge (RFC 9728 resource_metadata when enabled)' }
}

const error = (description: string, headers?: Record<string, unknown>) =>
  Type.Object(errorProperties, headers === undefined ? { description } : { description, headers })

/** The documented responses of a route behind `authenticate`, each with its body and headers. */
export const ProtectedResponses = {
  400: error('Malformed Authorization header: error="invalid_request"', challenge),
  401: error('No bearer token (no error code), or the token was rejected: error="invalid_token"', challenge),
  404: error('Not Found'),
  503: error('The signing key cannot be obtained from the identity provider; retry later', {
    'Retry-After': { type: 'integer', description: 'Seconds to wait' }
  })
}

export const ForbiddenResponse = error('The token lacks the required permission: error="insufficient_scope"', challenge)
