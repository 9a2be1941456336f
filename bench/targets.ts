/**
 * What the bench compares: the service, this repository's plugin alone on a bare
 * Fastify app, fastify-auth0-verify on a bare Fastify app, and a bare Fastify app
 * with no auth at all; each started as its own process pinned to core 0, against
 * the bench's loopback issuer. A target may name another build (`service@/path`).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { TestIssuer } from 'fastify-oauth-resource-server/testing'
import { freePort } from '../test/fixtures/net.js'
import { cycle, hasTaskset, type Workload } from './measure.js'

export const TARGET_KINDS = ['service', 'plugin', 'auth0-verify', 'bare', 'service-limit', 'service-limit-redis'] as const
export type TargetKind = typeof TARGET_KINDS[number]
/** The table's targets unless BENCH_TARGETS names others; the rate-limited services are for pairs (`BENCH_PAIR=service-limit-redis,service`). */
export const TABLE_KINDS: readonly TargetKind[] = ['service', 'plugin', 'auth0-verify', 'bare']
/** The rate-limited services' budget: high enough that no bench run spends it, so every request is counted and none refused. */
const BENCH_RATE_LIMIT = '1000000'

export const WORKLOAD_KINDS = ['public', 'cached', 'never-seen', 'forged'] as const
/** Workloads for pairs only, on the plugin target: its admin route, plain and with step-up (RFC 9470). */
export const PAIR_WORKLOADS = ['admin', 'step-up'] as const
export type WorkloadKind = typeof WORKLOAD_KINDS[number] | typeof PAIR_WORKLOADS[number]

export interface Target {
  kind: TargetKind
  /** Another build: a checkout's root, or the file to run (service) or load (plugin). */
  build?: string
}

const LABELS: Record<TargetKind, string> = {
  service: 'service',
  plugin: 'plugin alone',
  'auth0-verify': 'fastify-auth0-verify',
  bare: 'bare no-auth',
  'service-limit': 'service, rate limit in memory',
  'service-limit-redis': 'service, rate limit on Redis'
}

const WORKLOAD_LABELS: Record<WorkloadKind, string> = {
  public: 'public route',
  cached: 'cached token (one, repeated)',
  'never-seen': 'never-seen tokens',
  forged: 'forged tokens (real kid, wrong signature)',
  admin: 'admin route (requireScopes), cached token',
  'step-up': 'step-up route (requireScopes + requireAuthContext), cached token'
}

export const label = (target: Target) => target.build === undefined ? LABELS[target.kind] : `${LABELS[target.kind]}@${target.build}`
export const workloadLabel = (kind: WorkloadKind) => WORKLOAD_LABELS[kind]

/** The workloads a target serves: the bare app has the public route only. */
export const workloadsOf = (target: Target): readonly WorkloadKind[] => target.kind === 'bare' ? ['public'] : WORKLOAD_KINDS

/** `kind` or `kind@build`, e.g. `plugin`, `service@/tmp/base`. */
export function parseTarget (spec: string): Target {
  const at = spec.indexOf('@')
  const kind = (at === -1 ? spec : spec.slice(0, at)) as TargetKind
  if (!TARGET_KINDS.includes(kind)) throw new Error(`unknown bench target "${spec}": one of ${TARGET_KINDS.join(', ')}, optionally @<build>`)
  if (at === -1) return { kind }
  if (kind !== 'service' && kind !== 'plugin') throw new Error(`"${spec}": only service and plugin come in other builds`)
  return { kind, build: spec.slice(at + 1) }
}

const here = (file: string) => fileURLToPath(new URL(file, import.meta.url))
export const serverPath = here('../server.js')

/** The file a target runs, and the plugin build it loads (plugin targets of another build). */
function entryOf ({ kind, build }: Target): { entry: string, pluginModule?: string } {
  if (kind === 'service-limit' || kind === 'service-limit-redis') return { entry: serverPath }
  if (kind !== 'service' && kind !== 'plugin') return { entry: here(`./servers/${kind}.js`) }
  if (kind === 'service') return { entry: build === undefined ? serverPath : resolveBuild(build, 'dist/server.js') }
  return { entry: here('./servers/plugin.js'), ...(build === undefined ? {} : { pluginModule: resolveBuild(build, 'packages/fastify-oauth-resource-server/dist/index.js') }) }
}

/** The service's entry in another build: a checkout's root or the file itself. */
export const serviceEntry = (build: string) => resolveBuild(build, 'dist/server.js')

function resolveBuild (build: string, inCheckout: string): string {
  const path = existsSync(build) && statSync(build).isDirectory() ? join(build, inCheckout) : build
  if (!existsSync(path)) throw new Error(`no build at ${path} (build that checkout first)`)
  return path
}

/**
 * Node.js flags for every server the bench starts (`BENCH_NODE_FLAGS`), none by default.
 * `--min-semi-space-size=16 --max-semi-space-size=16` gives each the same young generation
 * from the start: V8 otherwise grows it with how much survives its scavenges, so a new
 * server's history (not its per-request work) decides how often it collects garbage.
 */
const NODE_FLAGS = process.env.BENCH_NODE_FLAGS?.split(' ').filter(Boolean) ?? []

/** The service's log level in the bench: `BENCH_LOG_LEVEL`, default warn. */
export const LOG_LEVEL = process.env.BENCH_LOG_LEVEL ?? 'warn'

/** Starts a target on 127.0.0.1:port, trusting one issuer. */
export async function startTarget (target: Target, idp: TestIssuer, port: number): Promise<ChildProcess> {
  const { entry, pluginModule } = entryOf(target)
  const service = target.kind === 'service' || target.kind === 'service-limit' || target.kind === 'service-limit-redis'
  const env: Record<string, string> = service
    ? { ISSUER_BASE_URL: idp.issuer, AUDIENCE: idp.audience, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL }
    : { BENCH_ISSUER: idp.issuer, BENCH_AUDIENCE: idp.audience, PORT: String(port), ...(pluginModule === undefined ? {} : { BENCH_PLUGIN_MODULE: pluginModule }) }
  if (target.kind === 'service-limit') env.RATE_LIMIT_PER_MINUTE = BENCH_RATE_LIMIT
  if (target.kind === 'service-limit-redis') Object.assign(env, { RATE_LIMIT_PER_MINUTE: BENCH_RATE_LIMIT, REDIS_URL: await benchRedis() })
  return spawnPinned(entry, env, service)
}

let redisUrl: Promise<string> | undefined

/**
 * The redis-server (Debian's) every `service-limit-redis` server of the run shares, on a
 * free loopback port, started at the first and killed by PID when the bench exits. On
 * core 1 with the load: the servers' CPU on core 0 is theirs alone; Redis's own is not counted.
 */
function benchRedis (): Promise<string> {
  redisUrl ??= (async () => {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' })
    const port = await freePort()
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', mkdtempSync(join(tmpdir(), 'bench-redis-')), '--save', '', '--appendonly', 'no']
    const command = hasTaskset() ? ['taskset', '-c', '1', 'redis-server', ...args] : ['redis-server', ...args]
    const child = spawn(command[0]!, command.slice(1), { stdio: 'ignore' })
    process.on('exit', () => child.kill('SIGKILL'))
    // The service waits for Redis to accept its connection (connectRedis): no wait here.
    return `redis://127.0.0.1:${port}`
  })()
  return redisUrl
}

/**
 * `node entry` on core 0, in a scratch cwd so a developer's .env cannot change what is
 * measured. A service logging below warn writes a line or two per request: its stdout
 * goes nowhere then, so the terminal does not pace it.
 */
export function spawnPinned (entry: string, env: Record<string, string>, service: boolean): ChildProcess {
  const node = [process.execPath, ...NODE_FLAGS, entry]
  const command = hasTaskset() ? ['taskset', '-c', '0', ...node] : node
  const quiet = service && !['warn', 'error', 'fatal', 'silent'].includes(env.LOG_LEVEL ?? '')
  return spawn(command[0]!, command.slice(1), {
    env: { PATH: process.env.PATH ?? '', ...env },
    cwd: mkdtempSync(join(tmpdir(), 'bench-')),
    stdio: ['ignore', quiet ? 'ignore' : 'inherit', 'inherit']
  })
}

/** Tokens for the target workloads, minted once: every server of every round is new, so none of them has seen any. */
export interface TargetTokens {
  one: string
  warmup: string[]
  neverSeen: string[]
  forged: string[]
  /** A token granting read:admin-messages; the step-up one also has the acr and a fresh auth_time. */
  admin: string
  stepUp: string
}

export function workloadFor (kind: WorkloadKind, tokens: TargetTokens, amount: number): Workload {
  const protectedRoute = '/api/messages/protected'
  switch (kind) {
    case 'public': return { name: kind, path: '/api/messages/public', expect: 200, amount }
    case 'cached': return { name: kind, path: protectedRoute, expect: 200, token: tokens.one, amount }
    case 'never-seen': return { name: kind, path: protectedRoute, expect: 200, tokens: cycle(tokens.neverSeen), amount: Math.min(amount, tokens.neverSeen.length) }
    case 'forged': return { name: kind, path: protectedRoute, expect: 401, pool: tokens.forged, amount }
    case 'admin': return { name: kind, path: '/api/messages/admin', expect: 200, token: tokens.admin, amount }
    case 'step-up': return { name: kind, path: '/api/messages/step-up', expect: 200, token: tokens.stepUp, amount }
  }
}
