import { Type, type Static } from 'typebox'
import { DEFAULT_DATA_DIR } from '../local-issuer/issuer-info.js'

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const

/** The environment variables the service reads, as the README documents them. */
export const EnvSchema = Type.Object({
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 6060 }),
  HOST: Type.String({ minLength: 1, default: 'localhost' }),
  LOG_LEVEL: Type.Enum(LOG_LEVELS, { default: 'info' }),
  ISSUER_BASE_URL: Type.Optional(Type.String()),
  AUDIENCE: Type.Optional(Type.String()),
  AUTH0_DOMAIN: Type.Optional(Type.String()),
  AUTH0_AUDIENCE: Type.Optional(Type.String()),
  JWKS_URI: Type.Optional(Type.String()),
  // RFC 7662 introspection of opaque tokens, for the one issuer above. Several issuers
  // take numbered ISSUER_<n>_* variables instead, read beside this schema (issuer-list.ts).
  INTROSPECTION_CLIENT_ID: Type.Optional(Type.String()),
  INTROSPECTION_CLIENT_SECRET: Type.Optional(Type.String()),
  INTROSPECTION_ENDPOINT: Type.Optional(Type.String()),
  CLIENT_ORIGIN_URL: Type.String({ default: 'http://localhost:4040' }),
  LOCAL_ISSUER_PORT: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535 })),
  LOCAL_ISSUER_DATA: Type.String({ minLength: 1, default: DEFAULT_DATA_DIR }),
  TRUST_PROXY: Type.Optional(Type.String()),
  METRICS_PORT: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535 })),
  METRICS_HOST: Type.Optional(Type.String()),
  DPOP: Type.Enum(['allowed', 'required', 'off'], { default: 'allowed' }),
  DPOP_NONCE: Type.Enum(['on', 'off'], { default: 'off' }),
  REDIS_URL: Type.Optional(Type.String()),
  PUBLIC_URL: Type.Optional(Type.String()),
  NODE_ENV: Type.Optional(Type.String())
})

export type Env = Static<typeof EnvSchema>
