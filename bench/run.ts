/**
 * Load benchmark, loopback only, bounded in time and request count; the servers run
 * pinned to core 0 against the loopback issuer with real keys, autocannon on core 1.
 * Its sections (BENCH_ONLY names one; all by default):
 * - `targets`: the service, the plugin alone, fastify-auth0-verify and a bare app
 *   side by side (a table), then the default pairs, paired (compare.ts);
 * - `service`: the service's own table on its full setup (two issuers, introspection,
 *   DPoP, Redis): every workload between two runs of its no-auth public route;
 * - `metrics`: metrics on against off, paired;
 * - `opaque` (only when named): the opaque-token flood alone on that setup, peak RSS before and after.
 * BENCH_PAIR=a,b (several: `;` between pairs) runs only those pairs (see bench/README.md).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as DPoP from 'dpop'
import { createTestIssuer, startIntrospectionServer, type TestIssuer, type IntrospectionServer } from 'fastify-oauth-resource-server/testing'
import { freePort } from '../test/fixtures/net.js'
import { Permissions } from '../routes/messages.js'
import { pairLabel, parsePair, printPair, printTable as printTargetTable, runPair, runTable, WARMUP_TOKENS, type PairSide } from './compare.js'
import { CONNECTIONS, cycle, DURATION_SECONDS, forgeSignatures, machineTicks, measure, median, peakRssMb, pin, stealShare, waitUntilReady, type Sample, type Workload } from './measure.js'
import { LOG_LEVEL, parseTarget, serverPath, serviceEntry, spawnPinned, TABLE_KINDS, type TargetTokens } from './targets.js'
import { BENCH_STEP_UP } from './servers/routes.js'

const REPETITIONS = Number(process.env.BENCH_REPETITIONS ?? 3)
const NEW_TOKENS_PER_RUN = Number(process.env.BENCH_NEW_TOKENS ?? 15_000)
// DPoP requests per run: each needs its own proof, minted just before the run (a proof lives 60 s).
const DPOP_PROOFS_PER_RUN = Number(process.env.BENCH_DPOP_PROOFS ?? 4_000)
const POOL_SIZE = 10_000
const BASELINE_SECONDS = 1
const PAIRED_ROUNDS = 6
// Requests of each kind per paired round; each chunk of never-seen tokens serves one round on each server.
const PAIRED_REQUESTS = 8_000
const SECTIONS = ['targets', 'service', 'metrics', 'opaque'] as const
const ONLY = process.env.BENCH_ONLY
if (ONLY !== undefined && !(SECTIONS as readonly string[]).includes(ONLY)) throw new Error(`BENCH_ONLY is one of ${SECTIONS.join(', ')}`)
const runs = (section: typeof SECTIONS[number]) => PAIRS === undefined && (ONLY === undefined ? section !== 'opaque' : ONLY === section)
// Pairs of targets to compare, paired, instead of the sections: `plugin,auth0-verify;service,bare`.
const PAIRS = process.env.BENCH_PAIR?.split(';').map(parsePair)
// The table's targets (`service@/path/to/checkout`…): by default the four of this build. The
// default pairs then compare the table's service and plugin.
const TARGETS = (process.env.BENCH_TARGETS?.split(',') ?? TABLE_KINDS).map(parseTarget)
// Metrics on against off: fresh pairs of servers (an even count: which starts first alternates),
// recorded rounds per pair, requests of each kind per round.
const METRICS_PAIRS = Number(process.env.BENCH_METRICS_PAIRS ?? 4)
const METRICS_ROUNDS = Number(process.env.BENCH_METRICS_ROUNDS ?? 4)
const METRICS_REQUESTS = Number(process.env.BENCH_METRICS_REQUESTS ?? 8_000)
// Never-seen tokens each server of a pair verifies before its rounds, so both start from the same history.
const METRICS_WARMUP_TOKENS = Number(process.env.BENCH_METRICS_WARMUP_TOKENS ?? 5_000)
// `1`: both servers of each pair with metrics off, the method's own noise floor for the same comparison.
const METRICS_CONTROL = process.env.BENCH_METRICS_CONTROL === '1'
// Random opaque tokens sent once each, to count the introspection calls they cause.
const OPAQUE_FLOOD = Number(process.env.BENCH_OPAQUE_FLOOD ?? 3000)
// The service's introspection.maxCallsPerSecond (its default, 50, when unset): a higher one
// makes the flood one introspection call a request, which is what moves the peak memory.
const OPAQUE_MAX_CALLS_PER_SECOND = process.env.BENCH_OPAQUE_MAX_CALLS_PER_SECOND
// The `opaque` section's service: another build (a checkout, or its dist/server.js), to compare builds.
const OPAQUE_BUILD = process.env.BENCH_OPAQUE_BUILD

// The targets' default pairs: the plugin and the service against the peer, the service's
// public route against the bare floor, and its cached token against its own public route.
const DEFAULT_PAIRS = ['plugin,auth0-verify', 'service,auth0-verify', 'service:public,bare:public', 'service:cached,service:public']

/** A workload's run, and how it compares with the no-auth runs just before and after it. */
interface PairedSample extends Sample { ratio: number, authUs: number }

if (!existsSync(serverPath)) {
  console.error('No build found (dist/server.js): run `npm run bench`, which builds first.')
  process.exit(1)
}

pin(process.pid, '1')
const idp = await createTestIssuer()
try {
  if (PAIRS !== undefined) await comparePairs(idp, PAIRS)
  if (runs('targets')) await compareTargets(idp)
  if (runs('service')) await benchService(idp)
  if (runs('metrics')) await compareMetrics(idp)
  if (runs('opaque')) await benchOpaqueFlood(idp)
} finally {
  await idp.close()
}

function mintTargetTokens (idp: TestIssuer): TargetTokens {
  console.error(`minting ${WARMUP_TOKENS + 4_000 + 1_002} RS256 tokens…`)
  return {
    one: idp.sign({ sub: 'cached' }),
    warmup: Array.from({ length: WARMUP_TOKENS }, (_, i) => idp.sign({ sub: `warm-${i}` })),
    neverSeen: Array.from({ length: Number(process.env.BENCH_TARGET_REQUESTS ?? 8_000) / 2 }, (_, i) => idp.sign({ sub: `new-${i}` })),
    forged: forgeSignatures(Array.from({ length: 1_001 }, (_, i) => idp.sign({ sub: `forged-${i}` }))),
    admin: idp.sign({ sub: 'admin', permissions: [Permissions.readAdminMessages] }),
    // Signed in just now: BENCH_STEP_UP.maxAge outlasts a bench run.
    stepUp: idp.sign({ sub: 'admin', permissions: [Permissions.readAdminMessages], acr: BENCH_STEP_UP.acrValues[0], auth_time: Math.floor(Date.now() / 1000) })
  }
}

async function comparePairs (idp: TestIssuer, pairs: Array<[PairSide, PairSide]>) {
  const stealBefore = machineTicks()
  const tokens = mintTargetTokens(idp)
  const results = []
  for (const pair of pairs) results.push(await runPair(idp, tokens, pair))
  for (const result of results) printPair(result)
  printSteal(stealShare(stealBefore, machineTicks()))
}

/** The four targets side by side, then the default pairs. */
async function compareTargets (idp: TestIssuer) {
  const stealBefore = machineTicks()
  const tokens = mintTargetTokens(idp)
  const table = await runTable(idp, tokens, TARGETS)
  // Each kind named in a default pair stands for the table's target of that kind.
  const ofKind = (side: PairSide): PairSide => ({ ...side, target: TARGETS.find(each => each.kind === side.target.kind) ?? side.target })
  const pairs = []
  for (const spec of DEFAULT_PAIRS) {
    const [a, b] = parsePair(spec)
    pairs.push(await runPair(idp, tokens, [ofKind(a), ofKind(b)]))
  }
  printTargetTable(table)
  for (const pair of pairs) printPair(pair)
  printSteal(stealShare(stealBefore, machineTicks()))
  console.error(`(pairs: ${pairs.map(p => pairLabel(p.pair)).join('; ')})`)
}

function printSteal (steal: number) {
  // A virtual machine's host can take CPU away ("steal"); above a few percent, timings are not comparable.
  console.log(`CPU steal during the run: ${(steal * 100).toFixed(1)}% of the machine's time${steal > 0.03 ? ' (high: rerun for numbers worth comparing)' : ''}.`)
}

/** The service on its full setup: the table, the outage row, the opaque-token flood, forged against never-seen paired. */
async function benchService (idp: TestIssuer) {
  const stealBefore = machineTicks()
  // The server trusts two issuers and introspects opaque tokens at the first: the rows all run on that setup.
  const several = await startSecondIssuer(idp)
  const port = await freePort()
  const server = startServer(idp, port, several)
  let twin: ChildProcess | undefined
  // The same build with REDIS_URL, for the DPoP workload on the shared replay cache.
  const redis = await startRedis()
  const redisPort = await freePort()
  const redisServer = redis === undefined ? undefined : startServer(idp, redisPort, several, { REDIS_URL: redis.url })
  try {
    await waitUntilReady(port)
    if (redisServer !== undefined) await waitUntilReady(redisPort)
    const { baseline, workloads, warmups, paired } = await prepareWorkloads(idp, several, port, redisServer === undefined ? undefined : { port: redisPort, pid: redisServer.pid! })
    // Let the JIT settle before anything is recorded.
    for (const workload of [baseline, ...warmups]) await measure(workload, port, server.pid!)
    const baselineRuns: Sample[] = []
    const samples = new Map<string, PairedSample[]>(workloads.map(w => [w.name, []]))
    for (let rep = 1; rep <= REPETITIONS; rep++) {
      // The pool is cached from each token's second request.
      for (const workload of workloads) if (workload.pool !== undefined && workload.expect === 200) await recall(workload, port, server.pid!)
      let before = await measure(baseline, port, server.pid!)
      baselineRuns.push(before)
      for (const workload of workloads) {
        const sample = await measure(workload, port, server.pid!)
        const after = await measure(baseline, port, server.pid!)
        baselineRuns.push(after)
        // The host's speed drifts within seconds: compare with the no-auth runs on either side.
        const noAuthUs = (before.cpuUs + after.cpuUs) / 2
        samples.get(workload.name)!.push({ ...sample, ratio: sample.cpuUs / noAuthUs, authUs: sample.cpuUs - noAuthUs })
        before = after
      }
      console.error(`repetition ${rep}/${REPETITIONS} done`)
    }
    const outage = await measureOutage(idp, port, server.pid!)
    // The opaque flood (an introspection call a request) moves the peak the most: both are reported.
    const rssBeforeFloodMb = peakRssMb(server.pid!)
    const flood = await measureOpaqueFlood(several.introspection, port, server.pid!)
    const rssMb = peakRssMb(server.pid!)
    const twinPort = await freePort()
    twin = startServer(idp, twinPort, several)
    await waitUntilReady(twinPort)
    const servers = [{ port, pid: server.pid! }, { port: twinPort, pid: twin.pid! }]
    const forgedMinusNeverSeen = await measureForgedAgainstNeverSeen(servers, paired)
    printTable(baselineRuns, samples, outage, rssMb, rssBeforeFloodMb)
    printSteal(stealShare(stealBefore, machineTicks()))
    printOpaqueFlood(flood)
    printPaired(forgedMinusNeverSeen)
  } finally {
    for (const each of [server, twin, redisServer]) each?.kill('SIGTERM')
    redis?.child.kill('SIGKILL')
    await several.second.close()
    await several.introspection.close()
  }
}

/**
 * Metrics on against metrics off, paired like the builds: two fresh servers of this
 * build, one with METRICS_PORT set, share core 0 and take the same load at once,
 * which starts first swapped each round. Both are new and warmed alike (the same
 * never-seen tokens, then two unrecorded rounds): a server that has run for minutes
 * spends measurably less per request than a new one (its heap has settled), so
 * pairing the new metrics server with the bench's long-running one compared their
 * histories, not the metrics. Two identical servers also differ by a µs or so for
 * as long as they run, so the comparison takes several fresh pairs (which one
 * starts first alternates). Prints metrics-on minus metrics-off server CPU per
 * request, for the public route (the request histogram only), a cached token
 * (histogram, decision, cache lookup) and forged tokens (histogram, decision, cache miss).
 */
async function compareMetrics (idp: TestIssuer) {
  const several = await startSecondIssuer(idp)
  try {
    await compareMetricsOn(idp, several)
  } finally {
    await several.second.close()
    await several.introspection.close()
  }
}

async function compareMetricsOn (idp: TestIssuer, several: SeveralIssuers) {
  const token = idp.sign()
  const forged = forgeSignatures(Array.from({ length: 201 }, (_, i) => idp.sign({ sub: `metrics-${i}` })))
  // New to each server: every server has its own cache.
  const warmup = Array.from({ length: METRICS_WARMUP_TOKENS }, (_, i) => idp.sign({ sub: `metrics-warmup-${i}` }))
  const kinds: Array<[string, Workload]> = [
    ['public route', { name: 'metrics public', path: '/api/messages/public', expect: 200, amount: METRICS_REQUESTS }],
    ['one token repeated', { name: 'metrics cached', path: '/api/messages/protected', expect: 200, token, amount: METRICS_REQUESTS }],
    ['forged tokens', { name: 'metrics forged', path: '/api/messages/protected', expect: 401, pool: forged, amount: METRICS_REQUESTS }]
  ]
  const differences = new Map<string, number[][]>(kinds.map(([kind]) => [kind, []]))
  let served: string | undefined
  for (let pair = 0; pair < METRICS_PAIRS; pair++) {
    const metricsPort = await freePort()
    const withMetrics: Record<string, string> = METRICS_CONTROL ? {} : { METRICS_PORT: String(metricsPort) }
    const [onPort, offPort] = [await freePort(), await freePort()]
    const start = (port: number, env: Record<string, string>) => startServer(idp, port, several, env)
    // Which of the two starts first alternates by pair.
    let onChild: ChildProcess, offChild: ChildProcess
    if (pair % 2 === 0) {
      onChild = start(onPort, withMetrics)
      offChild = start(offPort, {})
    } else {
      offChild = start(offPort, {})
      onChild = start(onPort, withMetrics)
    }
    try {
      const on = { port: onPort, pid: onChild.pid! }
      const off = { port: offPort, pid: offChild.pid! }
      await waitUntilReady(onPort)
      await waitUntilReady(offPort)
      const fresh = { name: 'metrics warm-up', path: '/api/messages/protected', expect: 200, amount: warmup.length }
      await Promise.all((pair % 2 === 0 ? [on, off] : [off, on]).map(each => measure({ ...fresh, tokens: cycle(warmup) }, each.port, each.pid)))
      for (const [kind] of kinds) differences.get(kind)!.push([])
      for (let round = 0; round < METRICS_ROUNDS + 2; round++) {
        for (const [kind, workload] of kinds) {
          const onFirst = (round + pair) % 2 === 0
          const runs = await Promise.all((onFirst ? [on, off] : [off, on]).map(each => measure(workload, each.port, each.pid)))
          const [metricsRun, plainRun] = onFirst ? runs : [...runs].reverse()
          // Rounds 0 and 1 warm both servers up.
          if (round > 1) differences.get(kind)!.at(-1)!.push(metricsRun!.cpuUs - plainRun!.cpuUs)
        }
      }
      if (!METRICS_CONTROL) {
        const scrape = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text()
        served = /^http_request_duration_seconds_count\{route="\/api\/messages\/protected",method="GET",status_code="200"\} (\d+)$/m.exec(scrape)?.[1]
      }
    } finally {
      onChild.kill('SIGTERM')
      offChild.kill('SIGTERM')
    }
    console.error(`metrics pair ${pair + 1}/${METRICS_PAIRS} done`)
  }
  console.log(`Metrics on minus metrics off, paired${METRICS_CONTROL ? ' (CONTROL: metrics off on both servers)' : ''} ` +
    `(${METRICS_PAIRS} fresh pair${METRICS_PAIRS === 1 ? '' : 's'} of servers on core 0, each server first sent the same ${METRICS_WARMUP_TOKENS} never-seen tokens; ` +
    `in a pair both take the same load at once, order swapped each round; ${METRICS_ROUNDS} rounds × ${METRICS_REQUESTS} requests of each kind per pair):`)
  for (const [kind, pairs] of differences) {
    const values = pairs.flat()
    console.log(`  ${kind}: median ${median(values).toFixed(1)} µs of server CPU per request ` +
      `(range ${Math.min(...values).toFixed(1)} to ${Math.max(...values).toFixed(1)}; pair medians ${pairs.map(each => median(each).toFixed(1)).join(', ')}; ` +
      `rounds: ${pairs.map(each => each.map(v => v.toFixed(1)).join(', ')).join(' | ')})`)
  }
  if (!METRICS_CONTROL) console.log(`  (the last metrics-on server's scrape counted ${served ?? 'no'} requests to the protected route with status 200)`)
}

/** A second trusted issuer, and an introspection endpoint for opaque tokens of the first. */
interface SeveralIssuers { second: TestIssuer, introspection: IntrospectionServer }

async function startSecondIssuer (first: TestIssuer): Promise<SeveralIssuers> {
  const second = await createTestIssuer()
  const introspection = await startIntrospectionServer({ issuer: first.issuer, audience: first.audience })
  return { second, introspection }
}

interface OpaqueFlood { requests: number, calls: number, peakInFlight: number, sample: Sample }

/** Random opaque tokens, each sent once: every one costs an introspection call, at most `concurrency` at a time. */
async function measureOpaqueFlood (introspection: IntrospectionServer, port: number, pid: number): Promise<OpaqueFlood> {
  const before = introspection.calls
  introspection.peakInFlight = 0
  const random = () => randomBytes(24).toString('base64url')
  // 401 while introspection calls are free, 503 with Retry-After past the rate (or the queue).
  const sample = await measure({ name: 'random opaque tokens', path: '/api/messages/protected', expect: [401, 503], tokens: random, amount: OPAQUE_FLOOD }, port, pid)
  return { requests: OPAQUE_FLOOD, calls: introspection.calls - before, peakInFlight: introspection.peakInFlight, sample }
}

/** The opaque-token flood alone, on the service section's setup, after never-seen tokens and the public route: peak RSS before and after. */
async function benchOpaqueFlood (idp: TestIssuer) {
  const several = await startSecondIssuer(idp)
  const port = await freePort()
  const server = startServer(idp, port, several, {}, OPAQUE_BUILD === undefined ? serverPath : serviceEntry(OPAQUE_BUILD))
  try {
    await waitUntilReady(port)
    const warmup = Array.from({ length: WARMUP_TOKENS }, (_, i) => idp.sign({ sub: `warm-${i}` }))
    await measure({ name: 'warm-up', path: '/api/messages/protected', expect: 200, amount: warmup.length, tokens: cycle(warmup) }, port, server.pid!)
    await measure({ name: 'public', path: '/api/messages/public', expect: 200 }, port, server.pid!)
    const beforeMb = peakRssMb(server.pid!)
    const flood = await measureOpaqueFlood(several.introspection, port, server.pid!)
    console.log(`Peak server RSS: ${beforeMb.toFixed(0)} MB before the opaque flood, ${peakRssMb(server.pid!).toFixed(0)} MB after ` +
      `(LOG_LEVEL=${LOG_LEVEL}, ${OPAQUE_BUILD ?? 'this build'}).`)
    printOpaqueFlood(flood)
  } finally {
    server.kill('SIGTERM')
    await several.second.close()
    await several.introspection.close()
  }
}

function printOpaqueFlood ({ requests, calls, peakInFlight, sample }: OpaqueFlood) {
  const { 401: refused = 0, 503: busy = 0 } = sample.statuses
  console.log(`Random opaque tokens (${requests}, each new, ${CONNECTIONS} connections; introspection concurrency 8, queue 64, ${OPAQUE_MAX_CALLS_PER_SECOND ?? 50} calls a second): ` +
    `${calls} introspection calls in ${sample.seconds.toFixed(1)} s (${(calls / sample.seconds).toFixed(1)} a second), at most ${peakInFlight} at once; ` +
    `${refused} answered 401, ${busy} 503; ${sample.cpuUs.toFixed(1)} µs of server CPU per request.`)
}

interface PairedTokens { neverSeen: string[], forged: string[] }

async function prepareWorkloads (idp: TestIssuer, several: SeveralIssuers | undefined, port: number, redisServer: { port: number, pid: number } | undefined): Promise<{ baseline: Workload, workloads: Workload[], warmups: Workload[], paired: PairedTokens }> {
  // Two unrecorded warm-up rounds; each chunk serves one round on each server (their caches are their own).
  const pairedCount = (PAIRED_ROUNDS / 2 + 1) * PAIRED_REQUESTS
  console.error(`minting ${POOL_SIZE + (NEW_TOKENS_PER_RUN + 1) * REPETITIONS + pairedCount} RS256 tokens…`)
  const one = idp.sign()
  const admin = idp.sign({ permissions: ['read:admin-messages'] })
  const pool = Array.from({ length: POOL_SIZE }, (_, i) => idp.sign({ sub: `user-${i}` }))
  const fresh = Array.from({ length: NEW_TOKENS_PER_RUN * REPETITIONS }, (_, i) => idp.sign({ sub: `new-${i}` }))
  const warmupFresh = Array.from({ length: REPETITIONS * 1000 }, (_, i) => idp.sign({ sub: `warm-${i}` }))
  const forged = forgeSignatures(pool.slice(0, 1001))
  const baseline: Workload = { name: 'no auth: public route (baseline)', path: '/api/messages/public', expect: 200, duration: BASELINE_SECONDS }
  const workloads: Workload[] = [
    { name: 'protected, one token repeated', path: '/api/messages/protected', expect: 200, token: one },
    { name: 'protected, 10,000-token pool', path: '/api/messages/protected', expect: 200, pool },
    { name: 'protected, never-seen tokens', path: '/api/messages/protected', expect: 200, tokens: cycle(fresh), amount: NEW_TOKENS_PER_RUN },
    { name: 'admin, with the permission', path: '/api/messages/admin', expect: 200, token: admin },
    { name: 'forged tokens (real kid, wrong signature)', path: '/api/messages/protected', expect: 401, pool: forged },
    ...(several === undefined
      ? []
      : [
          { name: 'protected, token from the second of two issuers', path: '/api/messages/protected', expect: 200, token: several.second.sign() },
          { name: 'protected, cached opaque token (introspected once)', path: '/api/messages/protected', expect: 200, token: several.introspection.issue() }
        ]),
    { name: 'DPoP-bound token, fresh proof per request (replay cache in memory)', path: '/api/messages/protected', expect: 200, amount: DPOP_PROOFS_PER_RUN, dpop: await dpopClient(idp, port) },
    ...(redisServer === undefined
      ? []
      : [{ name: 'DPoP-bound token, fresh proof per request (replay cache on Redis)', path: '/api/messages/protected', expect: 200, amount: DPOP_PROOFS_PER_RUN, dpop: await dpopClient(idp, redisServer.port), server: redisServer }])
  ]
  const warmups = workloads.map(w => w.dpop !== undefined
    ? w
    : w.amount === undefined
      ? { ...w, duration: 1 }
      : { ...w, tokens: cycle(warmupFresh), amount: warmupFresh.length })
  const paired = { neverSeen: Array.from({ length: pairedCount }, (_, i) => idp.sign({ sub: `paired-${i}` })), forged }
  return { baseline, workloads, warmups, paired }
}

/**
 * Sends each pool token twice, unmeasured: the pool stands for active users, whose
 * tokens are cached (from their second verification on). Never-seen tokens insert
 * nothing, so after the first repetition this finds the pool still cached.
 */
async function recall ({ name, path, pool }: Workload, port: number, pid: number) {
  await measure({ name: `${name} (recall)`, path, expect: 200, tokens: cycle(pool!), amount: 2 * pool!.length }, port, pid)
}

/**
 * Forged minus never-seen tokens, paired: a second server joins the first on core 0,
 * and the two are loaded at the same time, one with each kind, swapped every round.
 * Whatever the host does then hits both alike; sequential runs seconds apart drift
 * by more than the few µs this compares. Both servers share the core, so only the
 * difference is reported, not their µs per request. The slower kind finishes last,
 * with the core to itself for a moment, which flatters it slightly.
 */
async function measureForgedAgainstNeverSeen (servers: Array<{ port: number, pid: number }>, { neverSeen, forged }: PairedTokens): Promise<number[]> {
  const path = '/api/messages/protected'
  const differences: number[] = []
  // Rounds 0 and 1 warm the second server up with each kind and are not recorded.
  for (let round = 0; round < PAIRED_ROUNDS + 2; round++) {
    const [valid, bad] = round % 2 === 0 ? servers : [...servers].reverse()
    const chunk = neverSeen.slice(Math.floor(round / 2) * PAIRED_REQUESTS, (Math.floor(round / 2) + 1) * PAIRED_REQUESTS)
    const [validRun, forgedRun] = await Promise.all([
      measure({ name: 'paired never-seen', path, expect: 200, tokens: cycle(chunk), amount: PAIRED_REQUESTS }, valid!.port, valid!.pid),
      measure({ name: 'paired forged', path, expect: 401, tokens: cycle(forged), amount: PAIRED_REQUESTS }, bad!.port, bad!.pid)
    ])
    if (round > 1) differences.push(forgedRun.cpuUs - validRun.cpuUs)
  }
  return differences
}

/** 401 latency for forged tokens while the provider hangs (slower than the fetch timeout). */
async function measureOutage (idp: TestIssuer, port: number, pid: number): Promise<Sample> {
  idp.fault = 'slow'
  const forged = forgeSignatures(Array.from({ length: 200 }, (_, i) => idp.sign({ sub: `outage-${i}` })))
  const sample = await measure({ name: 'outage', path: '/api/messages/protected', expect: 401, pool: forged }, port, pid)
  idp.fault = 'none'
  return sample
}

/**
 * A way to mint, for each run, a new client key, a token bound to it and one proof per
 * request: one key holds at most a tenth of the replay cache, and runs follow each other
 * within a proof's lifetime.
 */
async function dpopClient (idp: TestIssuer, port: number): Promise<{ mint: () => Promise<{ token: string, proofs: string[] }> }> {
  const htu = `http://127.0.0.1:${port}/api/messages/protected`
  const mint = async () => {
    const keypair = await DPoP.generateKeyPair('ES256')
    const token = idp.sign({ cnf: { jkt: await DPoP.calculateThumbprint(keypair.publicKey) } })
    const proofs = await Promise.all(Array.from({ length: DPOP_PROOFS_PER_RUN }, () => DPoP.generateProof(keypair, htu, 'GET', undefined, token)))
    return { token, proofs }
  }
  return { mint }
}

function printTable (baselineRuns: Sample[], samples: Map<string, PairedSample[]>, outage: Sample, rssMb: number, rssBeforeFloodMb: number) {
  // The outage run follows the last repetition: compare it with the no-auth run just before it.
  const lastNoAuthUs = baselineRuns.at(-1)!.cpuUs
  const cell = (values: number[], digits = 0) => values.some(Number.isNaN)
    ? '—'
    : values.length === 1
      ? values[0]!.toFixed(digits)
      : `${median(values).toFixed(digits)} (${Math.min(...values).toFixed(digits)}–${Math.max(...values).toFixed(digits)})`
  const row = (name: string, runs: Sample[], ratio: string, auth: string) => {
    const clientCpu = `${(median(runs.map(s => s.clientCpu)) * 100).toFixed(0)}%`
    return `| ${name} | ${cell(runs.map(s => s.rps))} | ${cell(runs.map(s => s.p50))} | ${cell(runs.map(s => s.p99))} | ${cell(runs.map(s => s.cpuUs), 1)} | ${ratio} | ${auth} | ${clientCpu} |`
  }
  const lines = [
    '| workload | requests/s | p50 ms | p99 ms | server CPU µs/req | × no-auth CPU | auth µs/req | load generator CPU |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    row('no auth: public route (baseline)', baselineRuns, '1.00', '—')
  ]
  for (const [name, runs] of samples) {
    lines.push(row(name, runs, cell(runs.map(s => s.ratio), 2), median(runs.map(s => s.authUs)).toFixed(1)))
  }
  lines.push(row('forged tokens while the provider hangs', [outage], (outage.cpuUs / lastNoAuthUs).toFixed(2), (outage.cpuUs - lastNoAuthUs).toFixed(1)))
  console.log(lines.join('\n'))
  console.log(`\nPeak server RSS over the whole run: ${rssMb.toFixed(0)} MB (before the opaque-token flood: ${rssBeforeFloodMb.toFixed(0)} MB; LOG_LEVEL=${LOG_LEVEL}). ${REPETITIONS} repetitions; each workload ${DURATION_SECONDS} s ` +
    `(never-seen: ${NEW_TOKENS_PER_RUN} requests) between two ${BASELINE_SECONDS} s no-auth runs; ${CONNECTIONS} connections; median (min–max).`)
}

function printPaired (forgedMinusNeverSeen: number[]) {
  const cells = forgedMinusNeverSeen.map(d => d.toFixed(1)).join(', ')
  console.log(`Forged minus never-seen tokens, paired (two servers on core 0 loaded at once, swapped each round; ${PAIRED_ROUNDS} rounds × ${PAIRED_REQUESTS} requests): ` +
    `median ${median(forgedMinusNeverSeen).toFixed(1)} µs of server CPU per request (rounds: ${cells}).`)
}

function startServer (idp: TestIssuer, port: number, several?: SeveralIssuers, extraEnv: Record<string, string> = {}, entry = serverPath): ChildProcess {
  const issuers: Record<string, string> = several === undefined
    ? { ISSUER_BASE_URL: idp.issuer, AUDIENCE: idp.audience }
    : {
        ISSUER_1_BASE_URL: idp.issuer,
        ISSUER_1_AUDIENCE: idp.audience,
        ISSUER_1_INTROSPECTION_ENDPOINT: several.introspection.endpoint,
        ISSUER_1_INTROSPECTION_CLIENT_ID: several.introspection.clientId,
        ISSUER_1_INTROSPECTION_CLIENT_SECRET: several.introspection.clientSecret,
        ...(OPAQUE_MAX_CALLS_PER_SECOND === undefined ? {} : { ISSUER_1_INTROSPECTION_MAX_CALLS_PER_SECOND: OPAQUE_MAX_CALLS_PER_SECOND }),
        ISSUER_2_BASE_URL: several.second.issuer,
        ISSUER_2_AUDIENCE: several.second.audience
      }
  return spawnPinned(entry, { ...extraEnv, ...issuers, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL }, true)
}

/** A redis-server (Debian's) on a free loopback port in a scratch folder, or undefined when it is not installed. */
async function startRedis (): Promise<{ child: ChildProcess, url: string } | undefined> {
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' })
  } catch {
    console.error('redis-server not installed: the DPoP-on-Redis row is skipped (apt-get install -y -qq redis-server)')
    return undefined
  }
  const port = await freePort()
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', mkdtempSync(join(tmpdir(), 'bench-redis-')), '--save', '', '--appendonly', 'no'], { stdio: 'ignore' })
  return { child, url: `redis://127.0.0.1:${port}` }
}
