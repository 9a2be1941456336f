/**
 * What every part of the bench measures with: one autocannon run against one
 * server, and the server's CPU time for it from the scheduler's own accounting.
 */
import { execFileSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import autocannon from 'autocannon'

export const CONNECTIONS = 10
// Seconds of a workload run that is not a fixed request count.
export const DURATION_SECONDS = Number(process.env.BENCH_DURATION ?? 3)

export interface Workload {
  name: string
  path: string
  /** The status every answer must have, or the statuses answers may have. */
  expect: number | number[]
  /** The Authorization header of every request; none for the public route. */
  token?: string
  /** Tokens that may repeat: prebuilt into requests once, and cycled by each connection. */
  pool?: string[]
  /** A new token for each request, shared by all connections (costs the load generator more). */
  tokens?: () => string
  /** A fixed request count instead of a duration (for tokens that must never repeat). */
  amount?: number
  /** Seconds, when not the default. */
  duration?: number
  /** A DPoP-bound token and a fresh proof for each request, minted just before each run (a new key each run: one key's share of the replay cache is bounded). */
  dpop?: { mint: () => Promise<{ token: string, proofs: string[] }> }
  /** Another server to load than the main one (the one whose replay cache is Redis). */
  server?: { port: number, pid: number }
}

/** rps is NaN for fixed-count runs: autocannon ends those on its next 1 s tick, so their rate is not measured. */
export interface Sample { rps: number, p50: number, p99: number, cpuUs: number, clientCpu: number, seconds: number, statuses: Record<string, number> }

export async function measure (workload: Workload, mainPort: number, mainPid: number): Promise<Sample> {
  const { token, tokens, pool, dpop } = workload
  const { port, pid } = workload.server ?? { port: mainPort, pid: mainPid }
  const minted = dpop === undefined ? undefined : await dpop.mint()
  const proofs = minted === undefined ? undefined : cycle(minted.proofs)
  const before = cpuNs(pid)
  const clientBefore = process.cpuUsage()
  const startedAt = process.hrtime.bigint()
  const result = await autocannon({
    url: `http://127.0.0.1:${port}${workload.path}`,
    connections: CONNECTIONS,
    ...(workload.amount === undefined ? { duration: workload.duration ?? DURATION_SECONDS } : { amount: workload.amount }),
    headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
    requests: pool !== undefined
      ? pool.map(each => ({ method: 'GET' as const, headers: { authorization: `Bearer ${each}` } }))
      : tokens !== undefined
        ? [{ method: 'GET', setupRequest: request => ({ ...request, headers: { authorization: `Bearer ${tokens()}` } }) }]
        : minted !== undefined
          ? [{ method: 'GET', setupRequest: request => ({ ...request, headers: { authorization: `DPoP ${minted.token}`, dpop: proofs!() } }) }]
          : [{ method: 'GET' }]
  })
  const cpuUs = (cpuNs(pid) - before) / 1000 / result.requests.total
  const elapsedUs = Number(process.hrtime.bigint() - startedAt) / 1000
  const client = process.cpuUsage(clientBefore)
  const statuses = result.statusCodeStats as unknown as Record<string, { count: number }>
  const expected = [workload.expect].flat()
  const wrong = Object.entries(statuses).filter(([status]) => !expected.includes(Number(status)))
  if (wrong.length > 0 || result.errors > 0 || result.timeouts > 0) {
    throw new Error(`${workload.name}: expected only ${expected.join(' or ')}, got ${JSON.stringify(statuses)}, ${result.errors} errors, ${result.timeouts} timeouts`)
  }
  return {
    rps: workload.amount === undefined ? result.requests.total / (elapsedUs / 1e6) : Number.NaN,
    p50: result.latency.p50,
    p99: result.latency.p99,
    cpuUs,
    clientCpu: (client.user + client.system) / elapsedUs,
    seconds: elapsedUs / 1e6,
    statuses: Object.fromEntries(Object.entries(statuses).map(([status, { count }]) => [status, count]))
  }
}

/** Each token but the last with the next one's signature: a real kid and header, a valid-looking but wrong signature. */
export function forgeSignatures (tokens: string[]): string[] {
  return tokens.slice(0, -1).map((token, i) => token.replace(/[^.]+$/, tokens[i + 1]!.split('.')[2]!))
}

export async function waitUntilReady (port: number) {
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/health/ready`)).ok) return
    } catch {}
    await new Promise(resolve => setTimeout(resolve, 100))
  }
  throw new Error('the server did not become ready within 10 s')
}

export function cycle (tokens: string[]): () => string {
  let i = 0
  return () => tokens[i++ % tokens.length]!
}

/** CPU time of all the process's threads (V8's GC helpers too), in ns, from the scheduler's own accounting. */
export function cpuNs (pid: number): number {
  let total = 0
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    try {
      total += Number(readFileSync(`/proc/${pid}/task/${task}/schedstat`, 'utf8').split(' ')[0])
    } catch {} // the thread ended between the listing and the read
  }
  return total
}

/** [steal, total] jiffies of all CPUs, from /proc/stat. */
export function machineTicks (): [number, number] {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number)
  return [fields[7] ?? 0, fields.reduce((sum, value) => sum + value, 0)]
}

export function stealShare ([stealBefore, totalBefore]: [number, number], [stealAfter, totalAfter]: [number, number]): number {
  return (stealAfter - stealBefore) / Math.max(1, totalAfter - totalBefore)
}

export function peakRssMb (pid: number): number {
  const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return Number(match?.[1] ?? 0) / 1024
}

export function median (values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

export function hasTaskset (): boolean {
  try {
    execFileSync('taskset', ['-V'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

export function pin (pid: number, cpu: string) {
  if (hasTaskset()) execFileSync('taskset', ['-p', '-c', cpu, String(pid)], { stdio: 'ignore' })
}
