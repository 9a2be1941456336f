import { Type, type Static } from 'typebox'

export const MessageSchema = Type.Object({ message: Type.String() })
export type Message = Static<typeof MessageSchema>

/** Every error body: a `message`, and for bearer-token errors the RFC 6750 code and description. */
export const ErrorSchema = Type.Object({
  message: Type.String(),
  error: Type.Optional(Type.String()),
  error_description: Type.Optional(Type.String())
})
export type ErrorBody = Static<typeof ErrorSchema>
