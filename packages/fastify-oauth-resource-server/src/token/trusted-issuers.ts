import type { FastifyBaseLogger } from 'fastify'
import { Introspector } from '../introspection/introspector.js'
import { KeyStore, type KeyRecord } from '../keys/key-store.js'
import { withoutTrailingSlash } from '../keys/provider-url.js'
import type { ResolvedOptions } from '../options.js'
import type { Algorithm, AudienceClaim, IssuerStatus } from '../types.js'
import { acceptedIssuers, isTemplate, type AcceptedIssuers } from '../keys/issuer-naming.js'

/** One configured issuer: its own audience, algorithms, key store and, maybe, introspection. */
export interface TrustedIssuer {
  /** As configured. */
  readonly issuer: string
  readonly audience: readonly string[]
  readonly audienceClaim: AudienceClaim
  readonly algorithms: ReadonlySet<Algorithm>
  readonly store: KeyStore
  readonly introspector: Introspector | undefined
  /** The exact `iss` values accepted, given the issuer as discovery named it (a key's `issuer`). */
  accepted: (named: string) => AcceptedIssuers
}

export interface TrustedIssuers {
  readonly list: readonly TrustedIssuer[]
  /** The issuer that does introspection, if one does. */
  readonly introspecting: TrustedIssuer | undefined
  /**
   * The configured issuer a token's unverified `iss` names, by exact string match
   * (with or without one trailing slash; the verifier then requires the exact spelling
   * discovery gives), or one of its aliases; for a multi-tenant issuer, one of the
   * allowlisted tenants' issuers. Anything else, an array or a non-string included: undefined.
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
  const list: TrustedIssuer[] = options.issuers.map(({ issuer, audience, audienceClaim, jwksUri, algorithms, introspection, naming }) => {
    const store = new KeyStore({ ...options, issuer, jwksUri, algorithms, templated: naming.tenants !== undefined, onRetire, log })
    const introspector = introspection === undefined
      ? undefined
      : new Introspector({
        ...introspection,
        issuer: () => store.issuer(),
        audience,
        audienceClaim,
        endpoint: introspection.endpoint === undefined ? () => store.introspectionEndpoint() : () => introspection.endpoint,
        clockTolerance: options.clockTolerance,
        maxResponseBytes: options.maxResponseBytes,
        log
      })
    let memo: { named: string, accepted: AcceptedIssuers } | undefined
    const accepted = (named: string) => {
      if (memo?.named !== named) memo = { named, accepted: acceptedIssuers(named, naming) }
      return memo.accepted
    }
    return { issuer, audience, audienceClaim, algorithms, store, introspector, accepted }
  })

  // A Map, never an object: an array `iss` must not be coerced to a key that matches.
  const byIss = new Map<string, TrustedIssuer>()
  const add = (name: string, trusted: TrustedIssuer) => {
    const bare = withoutTrailingSlash(name)
    byIss.set(bare, trusted)
    byIss.set(`${bare}/`, trusted)
  }
  for (const [i, trusted] of list.entries()) {
    add(trusted.issuer, trusted)
    const { naming } = options.issuers[i]!
    if (naming.tenants === undefined) for (const alias of naming.aliases) add(alias, trusted)
  }
  // Before discovery has named the template, a multi-tenant issuer takes the tokens on its
  // own origins (the issuer's and its templated aliases'): each waits for, or starts, the one
  // bounded fetch of its provider's discovery and keys, and is judged once it is read.
  const templated = list.flatMap((trusted, i) => {
    const { naming } = options.issuers[i]!
    if (naming.tenants === undefined) return []
    return [{ trusted, origins: [trusted.issuer, ...naming.aliases.filter(isTemplate)].map(name => `${new URL(name).origin}/`) }]
  })

  /**
   * A multi-tenant issuer for this `iss`: one of the exact issuers its allowlisted tenants
   * fill its template with. Never filled from the token: its `tid` is not verified yet, and
   * is only compared, once the signature holds, with the tenant its `iss` names.
   */
  const selectTemplated = (iss: string): TrustedIssuer | undefined => {
    for (const { trusted, origins } of templated) {
      const named = trusted.store.issuer()
      if (!isTemplate(named)) {
        if (origins.some(origin => iss.startsWith(origin))) return trusted
        continue
      }
      const accepted = trusted.accepted(named)
      if (accepted.has(iss) || accepted.has(iss.endsWith('/') ? iss.slice(0, -1) : `${iss}/`)) return trusted
    }
    return undefined
  }

  return {
    list,
    introspecting: list.find(each => each.introspector !== undefined),
    select: iss => typeof iss !== 'string' ? undefined : byIss.get(iss) ?? (templated.length === 0 ? undefined : selectTemplated(iss)),
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
