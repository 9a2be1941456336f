import type { FastifyBaseLogger } from 'fastify'
import { Introspector } from '../introspection/introspector.js'
import { KeyStore, type KeyRecord } from '../keys/key-store.js'
import { withoutTrailingSlash } from '../keys/provider-url.js'
import type { ResolvedOptions } from '../options.js'
import type { Algorithm, IssuerStatus } from '../types.js'

/** One configured issuer: its own audience, algorithms, key store and, maybe, introspection. */
export interface TrustedIssuer {
  /** As configured. */
  readonly issuer: string
  readonly audience: readonly string[]
  readonly algorithms: ReadonlySet<Algorithm>
  readonly store: KeyStore
  readonly introspector: Introspector | undefined
}

export interface TrustedIssuers {
  readonly list: readonly TrustedIssuer[]
  /** The issuer that does introspection, if one does. */
  readonly introspecting: TrustedIssuer | undefined
  /**
   * The configured issuer a token's unverified `iss` names, by exact string match
   * (with or without one trailing slash; the verifier then requires the exact spelling
   * discovery gives). Anything else, an array or a non-string included: undefined.
   */
  select: (iss: unknown) => TrustedIssuer | undefined
  status: () => IssuerStatus[]
  start: () => Promise<void>
  close: () => void
}

/**
 * Builds one key store per issuer, so a key is only ever looked up among the keys of
 * the issuer the token claims: a key of one issuer never verifies a token claiming
 * another, whatever its kid. Tokens a key verified leave the cache when it is retired.
 */
export function createTrustedIssuers (options: ResolvedOptions, onRetire: (key: KeyRecord) => void, log: FastifyBaseLogger): TrustedIssuers {
  const list: TrustedIssuer[] = options.issuers.map(({ issuer, audience, jwksUri, algorithms, introspection }) => {
    const store = new KeyStore({ ...options, issuer, jwksUri, algorithms, onRetire, log })
    const introspector = introspection === undefined
      ? undefined
      : new Introspector({
        ...introspection,
        issuer: () => store.issuer(),
        audience,
        endpoint: introspection.endpoint === undefined ? () => store.introspectionEndpoint() : () => introspection.endpoint,
        clockTolerance: options.clockTolerance,
        maxResponseBytes: options.maxResponseBytes,
        log
      })
    return { issuer, audience, algorithms, store, introspector }
  })

  // A Map, never an object: an array `iss` must not be coerced to a key that matches.
  const byIss = new Map<string, TrustedIssuer>()
  for (const trusted of list) {
    const bare = withoutTrailingSlash(trusted.issuer)
    byIss.set(bare, trusted)
    byIss.set(`${bare}/`, trusted)
  }

  return {
    list,
    introspecting: list.find(each => each.introspector !== undefined),
    select: iss => typeof iss === 'string' ? byIss.get(iss) : undefined,
    status: () => list.map(({ issuer, store, introspector }) => ({
      issuer,
      keysLoaded: store.loaded(),
      ...(introspector === undefined ? {} : { introspection: introspector.status() })
    })),
    // One issuer that is down is logged and retried by its store; it delays no other.
    // Only a configuration error (discovery naming another issuer) stops start-up.
    start: async () => { await Promise.all(list.map(each => each.store.start())) },
    close: () => {
      for (const each of list) {
        each.store.close()
        each.introspector?.close()
      }
    }
  }
}
