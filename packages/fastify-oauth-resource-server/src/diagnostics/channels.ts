import { channel, type Channel } from 'node:diagnostics_channel'
import type { ProofRejection } from '../dpop/proof.js'
import { Rejections, type Rejection } from '../claims/rejections.js'

// The reasons of refused DPoP proofs, `dpop_` and the proof's rejection: every one, checked by the type.
const DPOP_PROOF_REASONS = {
  dpop_missing: true,
  dpop_multiple: true,
  dpop_malformed: true,
  dpop_type: true,
  dpop_algorithm: true,
  dpop_privateKey: true,
  dpop_signature: true,
  dpop_claims: true,
  dpop_method: true,
  dpop_url: true,
  dpop_stale: true,
  dpop_future: true,
  dpop_accessTokenHash: true,
  dpop_keyBinding: true,
  dpop_replayed: true
} as const satisfies Record<`dpop_${ProofRejection}`, true>

/**
 * What the plugin publishes through Node's `diagnostics_channel`, as undici and
 * Fastify do: subscribe by name (`diagnostics_channel.subscribe(name, fn)`) or
 * through the typed channels below. Messages carry fixed codes, counts and
 * durations: never a token, its claims or anything else taken from a request.
 *
 * Nothing is built or published while a channel has no subscriber, so a user
 * who subscribes to nothing pays nothing. Messages are published synchronously,
 * in the request's own async context (an APM's active span is the request's).
 * Channels are process-wide: every instance of the plugin in the process
 * publishes on the same ones. Messages are frozen and may be shared: do not keep
 * them past the call if you need to compare identities.
 *
 * Names and payloads are public API, changed only in a major release.
 */
export const ChannelNames = {
  /** Every authentication or permission decision: AuthDecisionMessage. */
  authDecision: 'fastify-oauth-resource-server:auth:decision',
  /** Every HTTP fetch of the discovery document or the key set: KeyFetchMessage. */
  keyFetch: 'fastify-oauth-resource-server:keys:fetch',
  /** Every refresh of the key set, good or failed: KeySetMessage. */
  keySet: 'fastify-oauth-resource-server:keys:refresh',
  /** Every lookup in the verified-token cache (none while the cache is off): TokenCacheMessage. */
  tokenCache: 'fastify-oauth-resource-server:token-cache:lookup',
  /** A DPoP proof refused as a replay; published only when DPoP is on: DpopReplayMessage. */
  dpopReplay: 'fastify-oauth-resource-server:dpop:replay',
  /** Every token introspection call; published only when introspection is on: IntrospectionMessage. */
  introspection: 'fastify-oauth-resource-server:introspection:request'
} as const

/** `accepted`: the token verified (reason `valid`). `refused`: the request is answered with an AuthError. */
export type AuthOutcome = 'accepted' | 'refused'

/**
 * Every reason a decision may carry: `valid`, each rejection of `Rejections`
 * (`expired`, `audience`…), and the `reason` of each AuthError. A fixed set, so
 * it can label metrics; a reason code added to the plugin is added here.
 */
export const AUTH_REASONS = [
  'valid',
  ...Object.keys(Rejections) as Rejection[],
  'missing_token',
  'invalid_request',
  'keys_unavailable',
  'introspection_unavailable',
  'insufficient_scope',
  'claim_check',
  'insufficient_user_authentication',
  ...Object.keys(DPOP_PROOF_REASONS) as Array<keyof typeof DPOP_PROOF_REASONS>,
  'dpop_nonce',
  'dpop_required',
  'dpop_bound',
  'not_dpop_bound',
  'dpop_replay_cache_full',
  'dpop_replay_cache_key_full',
  'dpop_replay_cache_reset',
  'dpop_replay_cache_unavailable',
  'mtls_certificate_mismatch',
  'mtls_required'
] as const

export type AuthReason = typeof AUTH_REASONS[number]

export interface AuthDecisionMessage {
  readonly outcome: AuthOutcome
  /**
   * Why. A request whose token verifies and then lacks a permission publishes
   * twice: `accepted`/`valid`, then `refused`/`insufficient_scope`.
   */
  readonly reason: AuthReason
}

export type ProviderDocument = 'discovery' | 'jwks'

/** How an HTTP fetch ended. Whether a fetched document was usable shows on the keys:refresh channel. */
export type KeyFetchResult = 'ok' | 'http_error' | 'timeout' | 'network_error' | 'too_large' | 'not_json'

export const KEY_FETCH_RESULTS: readonly KeyFetchResult[] = ['ok', 'http_error', 'timeout', 'network_error', 'too_large', 'not_json']

export interface KeyFetchMessage {
  readonly document: ProviderDocument
  readonly url: string
  readonly result: KeyFetchResult
  /** From the request's start to the parsed body or the failure, in seconds. */
  readonly durationSeconds: number
}

export interface KeySetMessage {
  /** The configured issuer whose keys these are. */
  readonly issuer: string
  /**
   * `loaded`: a good key set was fetched (changed or not). `failed`: the fetch or
   * the document failed, and the last good set, if any, is kept (or dropped once
   * older than stale-if-error: then `removed` counts it and `keys` is 0).
   */
  readonly result: 'loaded' | 'failed'
  /** Keys held after this refresh. */
  readonly keys: number
  /** Keys new in this refresh (a key whose material changed counts as removed and added). */
  readonly added: number
  readonly removed: number
  /** Why it failed, for logs (an Error from the key store; never request data). */
  readonly error?: Error
}

export interface TokenCacheMessage {
  /** `miss` includes a token found expired. */
  readonly result: 'hit' | 'miss'
}

/** Published only when DPoP is on. */
export interface DpopReplayMessage {
  readonly reason: 'replay'
}

/** Published only when token introspection is on. */
export interface IntrospectionMessage {
  readonly result: 'active' | 'inactive' | 'error'
  readonly durationSeconds: number
}

/** A channel whose messages have one type (diagnostics_channel's own Channel is untyped). */
export interface TypedChannel<Message> extends Pick<Channel, 'name' | 'hasSubscribers'> {
  publish (message: Message): void
  subscribe (onMessage: (message: Message, name: string | symbol) => void): void
  unsubscribe (onMessage: (message: Message, name: string | symbol) => void): boolean
}

const typed = <Message>(name: string) => channel(name) as unknown as TypedChannel<Message>

/** The channels, typed; the same objects `diagnostics_channel.channel(name)` returns. */
export const channels = {
  authDecision: typed<AuthDecisionMessage>(ChannelNames.authDecision),
  keyFetch: typed<KeyFetchMessage>(ChannelNames.keyFetch),
  keySet: typed<KeySetMessage>(ChannelNames.keySet),
  tokenCache: typed<TokenCacheMessage>(ChannelNames.tokenCache),
  dpopReplay: typed<DpopReplayMessage>(ChannelNames.dpopReplay),
  introspection: typed<IntrospectionMessage>(ChannelNames.introspection)
}

// Decisions and cache lookups come from fixed sets: their messages are built once,
// so publishing them allocates nothing even with subscribers.
const decisions = new Map<string, AuthDecisionMessage>(
  AUTH_REASONS.map(reason => [reason, Object.freeze({ outcome: reason === 'valid' ? 'accepted' : 'refused', reason })])
)
export const ACCEPTED = decisions.get('valid')!
export const CACHE_HIT: TokenCacheMessage = Object.freeze({ result: 'hit' })
export const CACHE_MISS: TokenCacheMessage = Object.freeze({ result: 'miss' })

/** The message for a refusal; call only when `channels.authDecision.hasSubscribers`. */
export function refusedMessage (reason: string): AuthDecisionMessage {
  return decisions.get(reason) ?? { outcome: 'refused', reason: reason as AuthReason }
}
