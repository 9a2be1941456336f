/**
 * HTTPS and certificate-bound tokens (RFC 8705): the plugin alone on a bare Fastify HTTPS
 * app, pinned to core 0, loaded from this process on core 1 by Node's https client, with
 * certificates made by openssl for the run. Rows, each with a new TLS connection per request
 * and on kept-alive connections: Bearer on HTTPS (no client certificates asked), Bearer on a
 * server that asks for client certificates (the client sends none), and a bound token over
 * mTLS. Then the binding check itself, paired: two mTLS servers loaded at once by the same
 * client certificate, one with a bound token, one with an unbound token.
 * `npm run bench:tls`; BENCH_TLS_REQUESTS (4,000 kept-alive, a quarter with new connections), BENCH_PAIR_ROUNDS (6).
 */
import type { ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { Agent, request } from 'node:https'
import { createTestIssuer, type TestIssuer } from 'fastify-oauth-resource-server/testing'
import { createCertificateAuthority, type Issued } from '../test/fixtures/certificates.js'
import { freePort } from '../test/fixtures/net.js'
import { CONNECTIONS, cpuNs, median, pin } from './measure.js'
import { spawnPinned } from './targets.js'

const REQUESTS = Number(process.env.BENCH_TLS_REQUESTS ?? 4000)
const ROUNDS = Number(process.env.BENCH_PAIR_ROUNDS ?? 6)
const here = (file: string) => new URL(file, import.meta.url).pathname

interface Server { port: number, pid: number, child: ChildProcess }
interface Load { ca: string, client?: Issued, token: string, keepAlive: boolean, count: number }

const cleanups: Array<() => void> = []
pin(process.pid, '1')

async function start (idp: TestIssuer, server: Issued, clientCa?: string): Promise<Server> {
  const port = await freePort()
  const child = spawnPinned(here('./servers/plugin-tls.js'), {
    PORT: String(port),
    BENCH_ISSUER: idp.issuer,
    BENCH_AUDIENCE: idp.audience,
    BENCH_TLS_CERT: server.certFile,
    BENCH_TLS_KEY: server.keyFile,
    ...(clientCa !== undefined && { BENCH_TLS_CLIENT_CA: clientCa })
  }, false)
  cleanups.push(() => child.kill('SIGKILL'))
  const ready = { port, pid: child.pid!, child }
  for (let i = 0; i < 200; i++) {
    const status = await get(ready, '/health/ready', { ca: caPem, token: '', keepAlive: false, count: 1 }).catch(() => 0)
    if (status === 200) return ready
    await new Promise(resolve => setTimeout(resolve, 100))
  }
  throw new Error('a bench server did not become ready within 20 s')
}

let caPem = ''

/** One GET; resolves with its status. */
function get (server: Server, path: string, load: Load, agent?: Agent): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({
      host: '127.0.0.1',
      port: server.port,
      path,
      servername: 'localhost',
      ca: load.ca,
      cert: load.client?.cert,
      key: load.client?.key,
      agent: agent ?? false,
      headers: load.token === '' ? {} : { authorization: `Bearer ${load.token}` }
    }, res => {
      res.resume()
      res.on('end', () => resolve(res.statusCode ?? 0))
    })
    req.on('error', reject)
    req.end()
  })
}

/** Kept-alive connections with the load's certificate: warm them up before measuring, so handshakes stay out of the figures. */
const agentFor = (load: Omit<Load, 'keepAlive' | 'count'>) => new Agent({ keepAlive: true, maxSockets: CONNECTIONS, ca: load.ca, cert: load.client?.cert, key: load.client?.key })

/** `count` requests over CONNECTIONS concurrent loops (kept alive on `agent` if given); server CPU µs per request. Every answer must be 200. */
async function run (server: Server, load: Load, agent?: Agent): Promise<number> {
  let left = load.count
  const before = cpuNs(server.pid)
  await Promise.all(Array.from({ length: CONNECTIONS }, async () => {
    while (left-- > 0) {
      const status = await get(server, '/api/messages/protected', load, agent)
      if (status !== 200) throw new Error(`expected 200, got ${status}`)
    }
  }))
  return (cpuNs(server.pid) - before) / 1000 / load.count
}

async function main () {
  const idp = await createTestIssuer()
  cleanups.push(() => { idp.close().catch(() => {}) })
  const ca = createCertificateAuthority({ teardown: fn => { cleanups.push(() => { fn() }) } }, 'Bench CA')
  caPem = ca.cert
  const serverCert = ca.issue('localhost', { server: true })
  const client = ca.issue('bench-client')
  const bearerToken = idp.sign({ sub: 'bench' })
  const boundToken = idp.sign({ sub: 'bench', cnf: { 'x5t#S256': client.thumbprint } })

  const plain = await start(idp, serverCert)
  const asking = await start(idp, serverCert, ca.certFile)
  const rows: Array<[string, Server, Omit<Load, 'keepAlive' | 'count'>]> = [
    ['HTTPS, Bearer (no client certificates asked)', plain, { ca: ca.cert, token: bearerToken }],
    ['HTTPS asking for client certificates, Bearer without one', asking, { ca: ca.cert, token: bearerToken }],
    ['mTLS, certificate-bound token with its certificate', asking, { ca: ca.cert, token: boundToken, client }]
  ]
  console.log(`Server CPU µs per request, median of 3 runs (range); ${CONNECTIONS} connections; the machine is shared, absolute figures drift`)
  console.log('| workload | new TLS connection per request | kept-alive |\n| --- | --- | --- |')
  for (const [name, server, load] of rows) {
    const cells: string[] = []
    for (const keepAlive of [false, true]) {
      const count = keepAlive ? REQUESTS : Math.ceil(REQUESTS / 4)
      const agent = keepAlive ? agentFor(load) : undefined
      await run(server, { ...load, keepAlive, count: Math.ceil(count / 4) }, agent) // warm-up
      const samples = []
      for (let i = 0; i < 3; i++) samples.push(await run(server, { ...load, keepAlive, count }, agent))
      agent?.destroy()
      cells.push(`${median(samples).toFixed(1)} (${Math.min(...samples).toFixed(1)}–${Math.max(...samples).toFixed(1)})`)
    }
    console.log(`| ${name} | ${cells.join(' | ')} |`)
  }

  // The binding check, paired: two fresh mTLS servers, the same client certificate, kept alive;
  // one checks a bound token, the other an unbound one; loaded at once, which starts first swapped.
  const differences: number[] = []
  for (let round = 0; round < ROUNDS; round++) {
    const a = await start(idp, serverCert, ca.certFile)
    const b = await start(idp, serverCert, ca.certFile)
    const [checked, unchecked] = round % 2 === 0 ? [a, b] : [b, a]
    const bound = { ca: ca.cert, client, token: boundToken, keepAlive: true }
    const unbound = { ...bound, token: bearerToken }
    const [checkedAgent, uncheckedAgent] = [agentFor(bound), agentFor(unbound)]
    await Promise.all([run(checked, { ...bound, count: REQUESTS / 4 }, checkedAgent), run(unchecked, { ...unbound, count: REQUESTS / 4 }, uncheckedAgent)])
    const [withCheck, without] = await Promise.all([run(checked, { ...bound, count: REQUESTS }, checkedAgent), run(unchecked, { ...unbound, count: REQUESTS }, uncheckedAgent)])
    differences.push(withCheck - without)
    checkedAgent.destroy()
    uncheckedAgent.destroy()
    for (const server of [a, b]) {
      server.child.kill('SIGTERM')
      await once(server.child, 'exit')
    }
  }
  console.log(`\nBinding check, paired (${ROUNDS} rounds, kept-alive): bound token − unbound token, both with the client certificate: ` +
    `median ${median(differences).toFixed(2)} µs per request (range ${Math.min(...differences).toFixed(2)} to ${Math.max(...differences).toFixed(2)})`)
}

try {
  await main()
} finally {
  for (const cleanup of cleanups.reverse()) cleanup()
}
