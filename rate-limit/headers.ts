/** The response headers of the limit (IETF draft-ietf-httpapi-ratelimit-headers, as @fastify/rate-limit's enableDraftSpec names them), for CORS to expose. */
export const RateLimitHeaders = ['RateLimit-Limit', 'RateLimit-Remaining', 'RateLimit-Reset', 'Retry-After'] as const
