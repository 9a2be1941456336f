import type { FromSchema } from 'json-schema-to-ts'
import { DEFAULT_DATA_DIR } from '../local-issuer/issuer-info.js'

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const
export type LogLevel = typeof LOG_LEVELS[number]

const port = { type: 'integer', minimum: 0, maximum: 65535 } as const

/** The environment variables the service reads, as docs/configuration.md documents them (JSON Schema, checked by env-schema in loadConfig). */
export const EnvSchema = {
  type: 'object',
  properties: {
    PORT: { ...port, default: 6060 },
    HOST: { type: 'string', minLength: 1, default: 'localhost' },
    LOG_LEVEL: { enum: LOG_LEVELS, default: 'info' },
    ISSUER_BASE_URL: { type: 'string' },
    AUDIENCE: { type: 'string' },
    AUTH0_DOMAIN: { type: 'string' },
    AUTH0_AUDIENCE: { type: 'string' },
    JWKS_URI: { type: 'string' },
    // RFC 7662 introspection of opaque tokens, for the one issuer above. Several issuers
    // take numbered ISSUER_<n>_* variables instead, read beside this schema (issuer-list.ts).
    INTROSPECTION_CLIENT_ID: { type: 'string' },
    INTROSPECTION_CLIENT_SECRET: { type: 'string' },
    INTROSPECTION_ENDPOINT: { type: 'string' },
    INTROSPECTION_MAX_CALLS_PER_SECOND: { type: 'string' },
    // What each provider needs (docs/providers.md), checked in provider-settings.ts.
    AUDIENCE_CLAIM: { type: 'string' },
    TENANTS: { type: 'string' },
    ISSUER_ALIASES: { type: 'string' },
    CLIENT_ORIGIN_URL: { type: 'string', default: 'http://localhost:4040' },
    LOCAL_ISSUER_PORT: port,
    LOCAL_ISSUER_DATA: { type: 'string', minLength: 1, default: DEFAULT_DATA_DIR },
    TRUST_PROXY: { type: 'string' },
    METRICS_PORT: port,
    METRICS_HOST: { type: 'string' },
    DPOP: { enum: ['allowed', 'required', 'off'], default: 'allowed' },
    DPOP_NONCE: { enum: ['on', 'off'], default: 'off' },
    // Default in dpop-config.ts. The maximum catches a typo: each entry is a few hundred bytes.
    DPOP_REPLAY_CACHE_SIZE: { type: 'integer', minimum: 10, maximum: 10_000_000 },
    REDIS_URL: { type: 'string' },
    // Checked in rate-limit.ts, which names the variable and the range.
    RATE_LIMIT_PER_MINUTE: { type: 'string' },
    // Step-up authentication (RFC 9470) on the admin route; off while both are unset (step-up.ts).
    ADMIN_ACR_VALUES: { type: 'string' },
    // Seconds, up to a year (the plugin's bound): a larger value is most likely in ms.
    ADMIN_MAX_AGE: { type: 'integer', minimum: 0, maximum: 31_622_400 },
    PUBLIC_URL: { type: 'string' },
    // Claim paths, comma-separated; parsed in permissions.ts.
    PERMISSIONS_CLAIM: { type: 'string' },
    // Tracing turns on with the OpenTelemetry SDK's own OTEL_* variables (tracing.ts reads them from the whole environment).
    TRACE_SUBJECT: { enum: ['on', 'off'] },
    // off, stdout or a file path (audit.ts).
    AUDIT_LOG: { type: 'string' },
    // HTTPS and client certificates (RFC 8705), checked in tls.ts.
    TLS_CERT_FILE: { type: 'string', minLength: 1 },
    TLS_KEY_FILE: { type: 'string', minLength: 1 },
    TLS_CLIENT_CA_FILE: { type: 'string', minLength: 1 },
    TLS_CLIENT_CERT_HEADER: { type: 'string', minLength: 1 },
    TLS_CLIENT_CERT_FORMAT: { enum: ['escaped-pem', 'xfcc', 'base64-der'] },
    NODE_ENV: { type: 'string' }
  },
  required: ['PORT', 'HOST', 'LOG_LEVEL', 'CLIENT_ORIGIN_URL', 'LOCAL_ISSUER_DATA', 'DPOP', 'DPOP_NONCE']
} as const

export type Env = FromSchema<typeof EnvSchema>
