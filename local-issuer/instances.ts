import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { writeFileAtomicallySync } from './atomic-file.js'

/**
 * The running servers that use one data folder, so that `npm run token` reaches
 * the issuer of the server the user means. Each server adds its entry when its
 * issuer starts, names its API once it listens, and removes the entry on close;
 * an entry whose process is gone (a crash, a kill) is ignored and dropped on the
 * next write. No secrets: those stay in state.json.
 */
export interface IssuerInstance {
  issuer: string
  audience: string
  machineClientId: string
  pid: number
  /** The API this issuer serves, e.g. http://localhost:6060; absent until the API listens. */
  api?: string
  /** When the issuer started, in ms since the epoch. */
  startedAt: number
}

export const INSTANCES_FILE = 'issuer.json'

/** The entries whose process is still running, oldest first. */
export function liveInstances (dataDir: string): IssuerInstance[] {
  return readInstances(dataDir).filter(instance => isRunning(instance.pid)).sort((a, b) => a.startedAt - b.startedAt)
}

export function recordInstance (dataDir: string, instance: IssuerInstance): void {
  writeInstances(dataDir, [...liveInstances(dataDir).filter(other => other.issuer !== instance.issuer), instance])
}

export function updateInstance (dataDir: string, issuer: string, change: Pick<IssuerInstance, 'api'>): void {
  writeInstances(dataDir, liveInstances(dataDir).map(instance => instance.issuer === issuer ? { ...instance, ...change } : instance))
}

export function removeInstance (dataDir: string, issuer: string): void {
  writeInstances(dataDir, liveInstances(dataDir).filter(instance => instance.issuer !== issuer))
}

/** The port a URL names, its scheme's default when it names none. */
export function portOf (url: URL): number {
  return url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port)
}

/** Whether a process with this pid runs (as any user). */
export function isRunning (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    // EPERM: running, as another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

function readInstances (dataDir: string): IssuerInstance[] {
  let parsed: unknown
  try {
    parsed = JSON.parse(readFileSync(join(dataDir, INSTANCES_FILE), 'utf8'))
  } catch {
    return []
  }
  // Anything else (a file from an older version, a hand edit) names no running instance.
  const instances = (parsed as { instances?: unknown } | null)?.instances
  return Array.isArray(instances) ? instances.filter(isInstance) : []
}

function isInstance (value: unknown): value is IssuerInstance {
  const entry = value as Partial<IssuerInstance> | null
  return typeof entry === 'object' && entry !== null &&
    typeof entry.issuer === 'string' && URL.canParse(entry.issuer) &&
    typeof entry.audience === 'string' && typeof entry.machineClientId === 'string' &&
    Number.isSafeInteger(entry.pid) && (entry.pid as number) > 0 &&
    typeof entry.startedAt === 'number' &&
    (entry.api === undefined || (typeof entry.api === 'string' && URL.canParse(entry.api)))
}

/** Start and close only, so synchronous: two servers in one process never interleave their updates. */
function writeInstances (dataDir: string, instances: IssuerInstance[]): void {
  writeFileAtomicallySync(join(dataDir, INSTANCES_FILE), JSON.stringify({ instances }, null, 2))
}
