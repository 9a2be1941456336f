import type { FromSchema } from 'json-schema-to-ts'

// Plain JSON Schema: Fastify validates and serializes with it, @fastify/swagger documents
// it, and json-schema-to-ts derives the types (at compile time only).

export const MessageSchema = {
  type: 'object',
  properties: { message: { type: 'string' } },
  required: ['message'],
  description: 'The message'
} as const
export type Message = FromSchema<typeof MessageSchema>

/** Every error body: a `message`, and for bearer-token errors the RFC 6750 code and description. */
const errorProperties = {
  message: { type: 'string' },
  error: { type: 'string', description: 'RFC 6750 error code' },
  error_description: { type: 'string' }
} as const

const challenge = {
  'WWW-Authenticate': { type: 'string', description: 'RFC 6750 Bearer challenge (RFC 9728 resource_metadata when enabled)' }
} as const

const error = <const Headers extends Record<string, unknown> | undefined>(description: string, headers?: Headers) => ({
  type: 'object',
  properties: errorProperties,
  required: ['message'],
  description,
  ...(headers === undefined ? {} : { headers })
} as const)

/** The documented responses of a route behind `authenticate`, each with its body and headers. */
export const ProtectedResponses = {
  400: error('Malformed Authorization header: error="invalid_request"', challenge),
  401: error('No bearer token (no error code), or the token was rejected: error="invalid_token"', challenge),
  404: error('Not Found'),
  503: error('The signing key cannot be obtained from the identity provider; retry later', {
    'Retry-After': { type: 'integer', description: 'Seconds to wait' }
  })
} as const

const integer = (description: string) => ({ type: 'integer', description } as const)

/** The rate limit's answer, when RATE_LIMIT_PER_MINUTE is set (docs/operations.md, "Rate limits"). */
export const TooManyRequestsResponse = {
  429: error('Too many requests: the caller\'s budget (its token\'s subject, or its address without a verified token) is spent until the window ends. Only with RATE_LIMIT_PER_MINUTE set', {
    'Retry-After': integer('Seconds until the budget is renewed'),
    'RateLimit-Limit': integer('Requests a budget holds per window'),
    'RateLimit-Remaining': integer('Requests left in this window (0)'),
    'RateLimit-Reset': integer('Seconds until the budget is renewed')
  })
} as const

export const ForbiddenResponse = error('The token lacks the required permission: error="insufficient_scope"', challenge)
