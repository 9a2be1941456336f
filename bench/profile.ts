/**
 * Whose code the servers' CPU went to: reads the `.cpuprofile` files `node --cpu-prof`
 * wrote (BENCH_NODE_FLAGS="--cpu-prof --cpu-prof-dir=DIR") and attributes each sample
 * of the recorded run to the first library on its stack, from the leaf up: fast-jwt,
 * @fastify/jwt (with fastify-auth0-verify), this plugin, Fastify and its dependencies,
 * node:crypto (split by the library that called it), or Node.js alone (HTTP, sockets,
 * streams, timers: the floor every server pays). Node.js code called by a library
 * is shown apart ("node core, from …"). Usage: `node dist/bench/profile.js DIR`.
 *
 * Only the samples after the longest idle stretch count: the rest after the warm-up,
 * so the recorded runs are what is attributed, not start-up and warm-up.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

interface ProfileNode { id: number, callFrame: { functionName: string, url: string }, children?: number[] }
interface Profile { nodes: ProfileNode[], samples: number[], timeDeltas: number[] }

function libraryOf (url: string): string | undefined {
  if (url.includes('/fast-jwt/')) return 'fast-jwt'
  if (url.includes('/@fastify/jwt/') || url.includes('/fastify-auth0-verify/') || url.includes('/get-jwks/')) return '@fastify/jwt + fastify-auth0-verify'
  if (url.includes('fastify-oauth-resource-server/')) return 'this plugin'
  if (url.includes('/node_modules/')) return 'Fastify and its dependencies'
  if (url.startsWith('file:')) return 'the app'
  return undefined
}

function serverOf (profile: Profile): string {
  const urls = profile.nodes.map(node => node.callFrame.url)
  if (urls.some(url => url.includes('/fastify-auth0-verify/'))) return 'fastify-auth0-verify'
  if (urls.some(url => url.endsWith('/dist/app.js'))) return 'service'
  if (urls.some(url => url.includes('fastify-oauth-resource-server/'))) return 'plugin alone'
  return 'bare'
}

function attribute (profile: Profile): { busyMs: number, shares: Array<[string, number]> } {
  const byId = new Map(profile.nodes.map(node => [node.id, node]))
  const parent = new Map<number, number>()
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id)
  const idle = (id: number) => byId.get(id)!.callFrame.functionName === '(idle)'
  // The recorded runs: after the longest stretch of idle samples.
  let from = 0
  let longest = 0
  let idleSince: number | undefined
  let clock = 0
  profile.samples.forEach((id, i) => {
    clock += profile.timeDeltas[i] ?? 0
    if (idle(id)) idleSince ??= clock
    else if (idleSince !== undefined) {
      if (clock - idleSince > longest) [longest, from] = [clock - idleSince, i]
      idleSince = undefined
    }
  })
  const totals = new Map<string, number>()
  let busy = 0
  profile.samples.forEach((id, i) => {
    if (i < from || idle(id)) return
    const delta = profile.timeDeltas[i] ?? 0
    busy += delta
    const leaf = byId.get(id)!
    let category: string
    if (leaf.callFrame.functionName === '(garbage collector)') category = 'garbage collection'
    else if (leaf.callFrame.functionName === '(program)') category = 'V8 (program)'
    else {
      const leafLibrary = libraryOf(leaf.callFrame.url)
      let crypto = false
      let node: ProfileNode | undefined = leaf
      let library: string | undefined
      while (node !== undefined && library === undefined) {
        if (node.callFrame.url.startsWith('node:internal/crypto')) crypto = true
        library = libraryOf(node.callFrame.url)
        const up = parent.get(node.id)
        node = up === undefined ? undefined : byId.get(up)
      }
      category = library === undefined
        ? (crypto ? 'node:crypto' : 'Node.js alone (HTTP, sockets, streams, timers)')
        : crypto ? `node:crypto, from ${library}` : leafLibrary === undefined ? `node core, from ${library}` : library
    }
    totals.set(category, (totals.get(category) ?? 0) + delta)
  })
  return { busyMs: busy / 1000, shares: [...totals].map(([name, us]): [string, number] => [name, us / busy]).sort((a, b) => b[1] - a[1]) }
}

const dir = process.argv[2]
if (dir === undefined) throw new Error('usage: node dist/bench/profile.js DIR (the --cpu-prof-dir)')
for (const file of readdirSync(dir).filter(name => name.endsWith('.cpuprofile')).sort()) {
  const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as Profile
  const { busyMs, shares } = attribute(profile)
  console.log(`${serverOf(profile)} (${file}): ${busyMs.toFixed(0)} ms of samples in the recorded runs`)
  for (const [name, share] of shares) if (share >= 0.001) console.log(`  ${(share * 100).toFixed(1).padStart(5)} %  ${name}`)
}
