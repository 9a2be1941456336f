import { execFile, spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import type { FastifyInstance } from 'fastify'
import t, { type Test } from 'tap'
import type { IssuerInstance } from '../local-issuer/instances.js'
import { Messages } from '../routes/messages.js'
import { freePort } from './fixtures/net.js'
import { bearer, build, compiled, plainNode } from './helper.js'

const SCRIPT = compiled('scripts/token')
const SERVER = compiled('server')

// Each test has a data folder of its own, and mostly waits on child processes: side by side.
t.jobs = 5

/** The compiled script in a child process, in an empty folder (no .env) unless `cwd` is given; LOCAL_ISSUER_DATA unset when dataDir is undefined. */
async function token (dataDir: string | undefined, args: string[] = [], cwd = mkdtempSync(join(tmpdir(), 'token-cwd-'))) {
  try {
    const { stdout, stderr } = await promisify(execFile)(...plainNode([SCRIPT, ...args]), {
      cwd,
      env: { PATH: process.env.PATH ?? '', ...(dataDir === undefined ? {} : { LOCAL_ISSUER_DATA: dataDir }) },
      timeout: 300_000
    })
    return { code: 0, stdout: stdout.trim(), stderr }
  } catch (error) {
    const { code, stdout, stderr } = error as { code: number, stdout: string, stderr: string }
    return { code, stdout: stdout.trim(), stderr }
  }
}

/** The app with its local issuer, listening on 127.0.0.1 as `npm start` would, so it records its API. */
async function listening (t: Test, dataDir: string): Promise<{ app: FastifyInstance, port: number }> {
  const app = await build(t, { LOCAL_ISSUER_PORT: '0', LOCAL_ISSUER_DATA: dataDir })
  await app.listen({ port: 0, host: '127.0.0.1' })
  return { app, port: (app.addresses()[0] as { port: number }).port }
}

const recorded = (dataDir: string) =>
  (JSON.parse(readFileSync(join(dataDir, 'issuer.json'), 'utf8')) as { instances: IssuerInstance[] }).instances

const protectedStatus = async (app: FastifyInstance, jwt: string) =>
  (await app.inject({ url: '/api/messages/protected', headers: bearer(jwt) })).statusCode

t.test('npm run token prints a token from the running local issuer; --scope gets the admin permission, --opaque an opaque token', async t => {
  const dataDir = mkdtempSync(join(tmpdir(), 'local-issuer-'))
  const app = await build(t, { LOCAL_ISSUER_PORT: '0', LOCAL_ISSUER_DATA: dataDir })

  const plain = await token(dataDir)
  t.equal(plain.code, 0)
  t.equal(plain.stderr, '', 'nothing on stderr')
  t.equal((await app.inject({ url: '/api/messages/protected', headers: bearer(plain.stdout) })).statusCode, 200)
  t.equal((await app.inject({ url: '/api/messages/admin', headers: bearer(plain.stdout) })).statusCode, 403)

  const admin = await token(dataDir, ['--scope', 'read:admin-messages'])
  t.same((await app.inject({ url: '/api/messages/admin', headers: bearer(admin.stdout) })).json(), { message: Messages.admin })

  // An opaque token, which the API checks by introspection at the local issuer.
  const opaque = await token(dataDir, ['--opaque', '--scope', 'read:admin-messages'])
  t.notMatch(opaque.stdout, /\./, 'not a JWT')
  t.same((await app.inject({ url: '/api/messages/admin', headers: bearer(opaque.stdout) })).json(), { message: Messages.admin })

  // RFC 6749 §3.3: the issuer may ignore a scope it does not know; it must not grant it.
  const unknown = await token(dataDir, ['--scope', 'delete:everything'])
  const claims = JSON.parse(Buffer.from(unknown.stdout.split('.')[1]!, 'base64url').toString())
  t.notMatch(String(claims.scope), /delete:everything/)
  t.same(claims.permissions, [])
})

t.test('npm run token says what to do when no local issuer has run', async t => {
  const result = await token(mkdtempSync(join(tmpdir(), 'empty-')))
  t.equal(result.code, 1)
  t.equal(result.stdout, '')
  t.match(result.stderr, /No local issuer found in .*: start the server with npm start/)
})

t.test('npm run token reads LOCAL_ISSUER_DATA from .env, as npm start does; the environment wins over .env', async t => {
  const dataDir = mkdtempSync(join(tmpdir(), 'local-issuer-'))
  const app = await build(t, { LOCAL_ISSUER_PORT: '0', LOCAL_ISSUER_DATA: dataDir })
  const project = mkdtempSync(join(tmpdir(), 'project-'))
  writeFileSync(join(project, '.env'), `LOCAL_ISSUER_DATA=${dataDir}\n`)
  const fromDotenv = await token(undefined, [], project)
  t.equal(fromDotenv.code, 0, fromDotenv.stderr)
  t.equal(await protectedStatus(app, fromDotenv.stdout), 200, 'a token from the issuer .env names')

  const empty = mkdtempSync(join(tmpdir(), 'empty-'))
  const overridden = await token(empty, [], project)
  t.equal(overridden.code, 1)
  t.match(overridden.stderr, /No local issuer found in .*empty-/, 'LOCAL_ISSUER_DATA in the environment wins')
})

t.test('npm run token -- --help prints its usage and exits 0; a bad setting is one line naming the variable', async t => {
  const help = await token(undefined, ['--help'])
  t.equal(help.code, 0)
  t.match(help.stdout, /^Prints an access token .*\n\nUsage: npm run -s token -- \[options\]/s)
  for (const option of ['--scope', '--opaque', '--dpop', '--api', '--port', '--help']) t.match(help.stdout, option)

  const project = mkdtempSync(join(tmpdir(), 'project-'))
  writeFileSync(join(project, '.env'), 'LOCAL_ISSUER_PORT=x\n')
  const bad = await token(undefined, [], project)
  t.equal(bad.code, 1)
  t.equal(bad.stderr, 'Configuration error: LOCAL_ISSUER_PORT must be integer\n')
})

t.test('two servers on one data folder: --port and --api pick one, none picks the last and says so, a closed one is forgotten', async t => {
  const dataDir = mkdtempSync(join(tmpdir(), 'local-issuer-'))
  const first = await listening(t, dataDir)
  const second = await listening(t, dataDir)
  t.same(recorded(dataDir).map(instance => instance.api), [`http://localhost:${first.port}`, `http://localhost:${second.port}`])

  // Each API trusts its own issuer only, so where a token works says which issuer made it.
  const byPort = await token(dataDir, ['--port', String(first.port)])
  t.equal(byPort.stderr, '', 'nothing on stderr when the server is named')
  t.equal(await protectedStatus(first.app, byPort.stdout), 200)
  t.equal(await protectedStatus(second.app, byPort.stdout), 401)

  const byApi = await token(dataDir, ['--api', `http://localhost:${second.port}`])
  t.equal(await protectedStatus(second.app, byApi.stdout), 200)
  t.equal(await protectedStatus(first.app, byApi.stdout), 401)

  const unnamed = await token(dataDir)
  t.equal(unnamed.code, 0)
  t.equal(await protectedStatus(second.app, unnamed.stdout), 200, 'the server started last')
  t.match(unnamed.stderr, `Several servers run a local issuer; using http://localhost:${second.port} (started last)`)
  t.match(unnamed.stderr, `add --api <its URL>: http://localhost:${first.port}`)
  t.equal(unnamed.stderr.trim().split('\n').length, 1, 'one line')

  const nowhere = await token(dataDir, ['--port', String(await freePort())])
  t.equal(nowhere.code, 1)
  t.match(nowhere.stderr, /No server with a local issuer serves an API on port \d+; running: http:\/\/localhost:\d+, http:\/\/localhost:\d+\./)
  t.equal((await token(dataDir, ['--api', 'localhost'])).code, 1)

  await second.app.close()
  t.same(recorded(dataDir).map(instance => instance.api), [`http://localhost:${first.port}`], 'the closed server\'s entry is gone')
  const remaining = await token(dataDir)
  t.equal(remaining.stderr, '')
  t.equal(await protectedStatus(first.app, remaining.stdout), 200)
})

t.test('npm run token ignores entries of a process that is gone, and says in one line when the issuer does not answer', async t => {
  const dataDir = mkdtempSync(join(tmpdir(), 'local-issuer-'))
  const gone = await new Promise<number>(resolve => {
    const child = spawn(process.execPath, ['-e', ''])
    child.on('exit', () => resolve(child.pid!))
  })
  const entry = (pid: number, issuer: string): IssuerInstance =>
    ({ issuer, audience: 'https://hello-world.example.com', machineClientId: 'local-machine', pid, api: 'http://localhost:6060', startedAt: Date.now() })
  writeFileSync(join(dataDir, 'state.json'), JSON.stringify({ machineClientSecret: 'not-used' }))

  writeFileSync(join(dataDir, 'issuer.json'), JSON.stringify({ instances: [entry(gone, 'http://127.0.0.1:1/')] }))
  const stale = await token(dataDir)
  t.equal(stale.code, 1)
  t.match(stale.stderr, /^No local issuer found in /)

  // A running process (this one) whose issuer port nothing listens on.
  const silent = `http://127.0.0.1:${await freePort()}/`
  writeFileSync(join(dataDir, 'issuer.json'), JSON.stringify({ instances: [entry(process.pid, silent)] }))
  const quiet = await token(dataDir)
  t.equal(quiet.code, 1)
  t.equal(quiet.stdout, '')
  t.equal(quiet.stderr, `The local issuer of http://localhost:6060 (${silent}) does not answer: is that npm start still running?\n`)
})

t.test('npm start a second time reminds where the first start\'s secrets are, and names itself in the token commands', async t => {
  const dataDir = mkdtempSync(join(tmpdir(), 'local-issuer-'))
  const first = await startServer(t, dataDir)
  t.match(first, 'First start: these secrets are printed once')
  t.match(first, 'Get a token:  npm run -s token ')
  const second = await startServer(t, dataDir)
  t.notMatch(second, 'First start')
  t.match(second, `Secrets from the first start are in ${join(dataDir, 'state.json')} (passwords only as hashes; delete the folder to start afresh)`)
  t.match(second, /\$\(npm run -s token -- --port \d+\)/, 'the printed commands reach this server, not the other')
})

/** The compiled server.ts in a child process; resolves with its guide once printed. */
async function startServer (t: Test, dataDir: string): Promise<string> {
  const child = spawn(...plainNode([SERVER]), {
    cwd: mkdtempSync(join(tmpdir(), 'server-test-')),
    env: { PATH: process.env.PATH ?? '', PORT: '0', HOST: '127.0.0.1', LOCAL_ISSUER_DATA: dataDir, LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  t.teardown(() => { child.kill('SIGKILL') })
  let stdout = ''
  let stderr = ''
  child.stderr.on('data', chunk => { stderr += chunk })
  return new Promise((resolve, reject) => {
    child.stdout.on('data', chunk => {
      stdout += chunk
      if (/Try it:[^]*\/api\/messages\/admin\n/.test(stdout)) resolve(stdout)
    })
    child.on('exit', code => reject(new Error(`exited ${code}: ${stderr}`)))
  })
}
