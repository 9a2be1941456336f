/**
 * The targets side by side. The table: each target alone on core 0, a new server
 * for each round, the same workloads. The paired rows: two new servers on core 0
 * in each round, warmed alike, then loaded at the same time with the same number
 * of requests, which one starts first swapped each round; the difference of their
 * server CPU per request (and the ratio) is what the host's drift cannot move.
 */
import { once } from 'node:events'
import type { ChildProcess } from 'node:child_process'
import type { TestIssuer } from 'fastify-oauth-resource-server/testing'
import { freePort } from '../test/fixtures/net.js'
import { cycle, measure, median, peakRssMb, waitUntilReady, type Sample } from './measure.js'
import { label, parseTarget, startTarget, workloadFor, workloadLabel, workloadsOf, WORKLOAD_KINDS, type Target, type TargetTokens, type WorkloadKind } from './targets.js'

// Requests per measured run: never-seen and forged tokens cost several times more, so half as many.
const REQUESTS = Number(process.env.BENCH_TARGET_REQUESTS ?? 8_000)
const amountOf = (kind: WorkloadKind) => kind === 'never-seen' || kind === 'forged' ? REQUESTS / 2 : REQUESTS
export const TABLE_ROUNDS = Number(process.env.BENCH_TABLE_ROUNDS ?? 3)
export const PAIR_ROUNDS = Number(process.env.BENCH_PAIR_ROUNDS ?? 6)
// Never-seen tokens every new server verifies before anything is recorded: JIT and heap settle.
export const WARMUP_TOKENS = Number(process.env.BENCH_WARMUP_TOKENS ?? 3_000)
// Seconds to wait after the warm-up. A server's own fetches (the plugin's discovery and JWKS
// at start, fastify-auth0-verify's JWKS at its first token) leave an idle keep-alive
// connection that fetch closes a few seconds later; while it is open, that server's requests
// measured dearer (by up to about 10 µs, cause not found). Recording after it closes
// compares the servers as they run, not their first seconds.
const SETTLE_SECONDS = Number(process.env.BENCH_SETTLE_SECONDS ?? 5)

/** A target, and the one workload it runs when a pair compares two workloads. */
export interface PairSide { target: Target, workload?: WorkloadKind }

/** `a,b`, each `target[@build][:workload]`: `plugin,auth0-verify`, `service:cached,service:public`. */
export function parsePair (spec: string): [PairSide, PairSide] {
  const sides = spec.split(',').map(side => {
    const match = /^(.+?)(?::(public|cached|never-seen|forged|admin|step-up))?$/.exec(side.trim())
    if (match === null) throw new Error(`bad pair side "${side}"`)
    if ((match[2] === 'admin' || match[2] === 'step-up') && !match[1]!.startsWith('plugin')) throw new Error(`"${side}": the ${match[2]} workload runs on the plugin target only`)
    return { target: parseTarget(match[1]!), ...(match[2] === undefined ? {} : { workload: match[2] as WorkloadKind }) }
  })
  if (sides.length !== 2) throw new Error(`BENCH_PAIR names two targets, e.g. plugin,auth0-verify (got "${spec}")`)
  if ((sides[0]!.workload === undefined) !== (sides[1]!.workload === undefined)) throw new Error(`"${spec}": name a workload on both sides or on neither`)
  return sides as [PairSide, PairSide]
}

export const pairLabel = ([a, b]: [PairSide, PairSide]) => `${sideLabel(a)} − ${sideLabel(b)}`
const sideLabel = ({ target, workload }: PairSide) => workload === undefined ? label(target) : `${label(target)}, ${workloadLabel(workload)}`

interface Running { target: Target, child: ChildProcess, port: number, pid: number }

async function start (idp: TestIssuer, targets: Target[]): Promise<Running[]> {
  const running: Running[] = []
  for (const target of targets) {
    const port = await freePort()
    const child = await startTarget(target, idp, port)
    running.push({ target, child, port, pid: child.pid! })
  }
  for (const each of running) await waitUntilReady(each.port)
  return running
}

async function stop (running: Running[]) {
  await Promise.all(running.map(async ({ child }) => {
    if (child.exitCode !== null || child.signalCode !== null) return
    const exited = once(child, 'exit')
    child.kill('SIGTERM')
    await exited
  }))
}

/** Unrecorded, on all the servers at once: never-seen tokens, then a shorter run of each workload. */
async function warmUp (running: Running[], tokens: TargetTokens, kinds: Array<readonly WorkloadKind[]>) {
  const fresh = { name: 'warm-up', path: '/api/messages/protected', expect: 200, amount: tokens.warmup.length }
  await Promise.all(running.map(each => each.target.kind === 'bare' ? undefined : measure({ ...fresh, tokens: cycle(tokens.warmup) }, each.port, each.pid)))
  for (let i = 0; i < Math.max(...kinds.map(k => k.length)); i++) {
    await Promise.all(running.map((each, j) => {
      const kind = kinds[j]![i]
      // Never-seen tokens are for the recorded runs only: the warm-up tokens above stand for them.
      return kind === undefined || kind === 'never-seen' ? undefined : measure(workloadFor(kind, tokens, amountOf(kind) / 4), each.port, each.pid)
    }))
  }
  await new Promise(resolve => setTimeout(resolve, SETTLE_SECONDS * 1000))
}

export interface TargetTable { targets: Target[], cpuUs: Map<string, Map<WorkloadKind, number[]>>, rssMb: Map<string, number> }

/** Each target alone on core 0, a new server each round, the order of the targets rotated each round. */
export async function runTable (idp: TestIssuer, tokens: TargetTokens, targets: Target[]): Promise<TargetTable> {
  const cpuUs = new Map(targets.map(t => [label(t), new Map<WorkloadKind, number[]>(workloadsOf(t).map(k => [k, []]))]))
  const rssMb = new Map<string, number>()
  for (let round = 0; round < TABLE_ROUNDS; round++) {
    for (let i = 0; i < targets.length; i++) {
      const target = targets[(i + round) % targets.length]!
      const running = await start(idp, [target])
      try {
        const [server] = running
        await warmUp(running, tokens, [workloadsOf(target)])
        for (const kind of workloadsOf(target)) {
          const sample = await measure(workloadFor(kind, tokens, amountOf(kind)), server!.port, server!.pid)
          cpuUs.get(label(target))!.get(kind)!.push(sample.cpuUs)
        }
        rssMb.set(label(target), Math.max(rssMb.get(label(target)) ?? 0, peakRssMb(server!.pid)))
      } finally {
        await stop(running)
      }
    }
    console.error(`target table: round ${round + 1}/${TABLE_ROUNDS} done`)
  }
  return { targets, cpuUs, rssMb }
}

export function printTable ({ targets, cpuUs, rssMb }: TargetTable) {
  const cell = (values: number[] | undefined) => values === undefined || values.length === 0
    ? '—'
    : `${median(values).toFixed(1)} (${Math.min(...values).toFixed(1)}–${Math.max(...values).toFixed(1)})`
  const lines = [
    `| server CPU µs per request | ${targets.map(label).join(' | ')} |`,
    `| --- |${' --- |'.repeat(targets.length)}`,
    ...WORKLOAD_KINDS.map(kind => `| ${workloadLabel(kind)} | ${targets.map(t => cell(cpuUs.get(label(t))!.get(kind))).join(' | ')} |`),
    `| peak RSS, MB | ${targets.map(t => (rssMb.get(label(t)) ?? 0).toFixed(0)).join(' | ')} |`
  ]
  console.log(lines.join('\n'))
  console.log(`${TABLE_ROUNDS} rounds; in each, every target a new server alone on core 0 (the order rotated), first ${WARMUP_TOKENS} never-seen tokens ` +
    `and a shorter run of each workload unrecorded, ${SETTLE_SECONDS} s of rest, then ${REQUESTS} requests of the public route and the cached token, ${REQUESTS / 2} never-seen or forged; median (min–max).`)
}

/** Per row, each round's difference and ratio of server CPU per request, and each side's p99 latency (ms). */
export interface PairResult { pair: [PairSide, PairSide], rows: Array<{ kind: WorkloadKind | undefined, differences: number[], ratios: number[], p99s: Array<[number, number]> }> }

/** Two new servers per round, warmed alike, loaded at once; which starts (and is loaded) first alternates. */
export async function runPair (idp: TestIssuer, tokens: TargetTokens, pair: [PairSide, PairSide]): Promise<PairResult> {
  const [a, b] = pair
  const kinds: Array<[WorkloadKind, WorkloadKind]> = a.workload !== undefined
    ? [[a.workload, b.workload!]]
    : workloadsOf(a.target).filter(kind => workloadsOf(b.target).includes(kind)).map(kind => [kind, kind])
  const results = kinds.map(() => ({ differences: [] as number[], ratios: [] as number[], p99s: [] as Array<[number, number]> }))
  for (let round = 0; round < PAIR_ROUNDS; round++) {
    const aFirst = round % 2 === 0
    const running = await start(idp, aFirst ? [a.target, b.target] : [b.target, a.target])
    try {
      const [first, second] = running
      const [onA, onB] = aFirst ? [first!, second!] : [second!, first!]
      await warmUp([onA, onB], tokens, [kinds.map(([k]) => k), kinds.map(([, k]) => k)])
      for (let i = 0; i < kinds.length; i++) {
        const [kindA, kindB] = kinds[i]!
        const runA = () => measure(workloadFor(kindA, tokens, amountOf(kindA)), onA.port, onA.pid)
        const runB = () => measure(workloadFor(kindB, tokens, amountOf(kindB)), onB.port, onB.pid)
        const [sampleA, sampleB] = aFirst
          ? await Promise.all([runA(), runB()])
          : await Promise.all([runB(), runA()]).then(([sb, sa]) => [sa, sb] as [Sample, Sample])
        results[i]!.differences.push(sampleA.cpuUs - sampleB.cpuUs)
        results[i]!.ratios.push(sampleA.cpuUs / sampleB.cpuUs)
        results[i]!.p99s.push([sampleA.p99, sampleB.p99])
      }
    } finally {
      await stop(running)
    }
    console.error(`pair ${pairLabel(pair)}: round ${round + 1}/${PAIR_ROUNDS} done`)
  }
  return { pair, rows: kinds.map(([kind], i) => ({ kind: a.workload === undefined ? kind : undefined, ...results[i]! })) }
}

export function printPair ({ pair, rows }: PairResult) {
  console.log(`${pairLabel(pair)}, paired (${PAIR_ROUNDS} rounds; each two new servers on core 0, warmed alike, loaded at once, ` +
    'which starts first swapped each round): server CPU per request, median difference (range), median ratio (range), rounds')
  const signed = (v: number) => `${v >= 0 ? '+' : '−'}${Math.abs(v).toFixed(1)}`
  for (const { kind, differences, ratios, p99s } of rows) {
    console.log(`  ${kind === undefined ? 'difference' : workloadLabel(kind)}: ${signed(median(differences))} µs (${signed(Math.min(...differences))} to ${signed(Math.max(...differences))}), ` +
      `${median(ratios).toFixed(2)}× (${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}); rounds ${differences.map(signed).join(', ')}; ` +
      `p99 latency, median of rounds: ${median(p99s.map(([a]) => a))} ms against ${median(p99s.map(([, b]) => b))} ms`)
  }
}
