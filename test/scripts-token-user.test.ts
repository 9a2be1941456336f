import { execFile, spawn } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import type { FastifyInstance } from 'fastify'
import t, { type Test } from 'tap'
import { LocalAcr } from '../local-issuer/issuer-info.js'
import { totpCode } from '../local-issuer/totp.js'
import { Messages } from '../routes/messages.js'
import { freePort } from './fixtures/net.js'
import { bearer, build, compiled, plainNode, type Env } from './helper.js'
import { issuer, printedSecret } from './local-issuer/issuer-command.js'

const SCRIPT = compiled('scripts/token')

// Each test has a data folder of its own, and mostly waits on child processes: side by side.
t.jobs = 4

interface Run { code: number, stdout: string, stderr: string }

/** The compiled script in a child process, on this data folder; `stdin` is piped in (no terminal). */
function token (dataDir: string, args: string[], stdin = ''): Promise<Run> {
  const [command, argv] = plainNode([SCRIPT, ...args])
  const child = spawn(command, argv, { cwd: mkdtempSync(join(tmpdir(), 'token-cwd-')), env: { PATH: process.env.PATH ?? '', LOCAL_ISSUER_DATA: dataDir }, timeout: 30_000 })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', chunk => { stdout += chunk })
  child.stderr.on('data', chunk => { stderr += chunk })
  child.stdin.end(stdin)
  return new Promise(resolve => child.on('close', code => resolve({ code: code ?? 1, stdout: stdout.trim(), stderr })))
}

/** The app with its local issuer on a fresh data folder, listening as npm start does; the admin's password. */
async function started (t: Test, env: Env = {}): Promise<{ app: FastifyInstance, dataDir: string, password: string, port: number }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'local-issuer-'))
  const port = await freePort()
  const app = await build(t, { PORT: String(port), LOCAL_ISSUER_PORT: '0', LOCAL_ISSUER_DATA: dataDir, ...env })
  await app.listen({ port, host: '127.0.0.1' })
  // A password of our own: the first start printed the generated one to no one here.
  const password = 'admin-password-for-tests'
  await issuer(dataDir, ['user', 'password', 'admin', '--password', password])
  return { app, dataDir, password, port }
}

const claimsOf = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>
const admin = (app: FastifyInstance, jwt: string) => app.inject({ url: '/api/messages/admin', headers: bearer(jwt) })

t.test('npm run token -- --user signs the user in through the login form (code + PKCE): their token, password given or read from stdin', async t => {
  const { app, dataDir, password } = await started(t)
  const given = await token(dataDir, ['--user', 'admin', '--password', password])
  t.equal(given.code, 0, given.stderr)
  t.match(claimsOf(given.stdout), { sub: 'local|admin', client_id: 'local-spa', acr: LocalAcr.password, permissions: ['read:admin-messages'] })
  t.same((await admin(app, given.stdout)).json(), { message: Messages.admin })

  const prompted = await token(dataDir, ['--user', 'admin'], `${password}\n`)
  t.equal(prompted.code, 0, prompted.stderr)
  t.equal(claimsOf(prompted.stdout).sub, 'local|admin')

  const wrong = await token(dataDir, ['--user', 'admin', '--password', 'not-the-password'])
  t.equal(wrong.code, 1)
  t.equal(wrong.stdout, '')
  t.match(wrong.stderr, 'The local issuer refused the sign-in: Wrong username or password.')
})

t.test('npm run token -- --user --totp --acr-values --max-age gets the token a step-up route asks for', async t => {
  const { app, dataDir, password } = await started(t, { ADMIN_ACR_VALUES: LocalAcr.totp, ADMIN_MAX_AGE: '300' })
  const secret = /secret ([A-Z2-7]{32})$/m.exec(await issuer(dataDir, ['user', 'totp', 'admin']))![1]!
  const plain = await token(dataDir, ['--user', 'admin', '--password', password])
  const refused = await admin(app, plain.stdout)
  t.equal(refused.statusCode, 401)
  t.match(refused.headers['www-authenticate'], `acr_values="${LocalAcr.totp}", max_age="300"`)

  const noCode = await token(dataDir, ['--user', 'admin', '--password', password, '--acr-values', LocalAcr.totp])
  t.equal(noCode.code, 1)
  t.match(noCode.stderr, 'asks for a second factor')

  const stepped = await token(dataDir, ['--user', 'admin', '--password', password, '--totp', totpCode(secret), '--acr-values', LocalAcr.totp, '--max-age', '300'])
  t.equal(stepped.code, 0, stepped.stderr)
  t.equal(claimsOf(stepped.stdout).acr, LocalAcr.totp)
  t.same((await admin(app, stepped.stdout)).json(), { message: Messages.admin })
})

t.test('npm run token -- --client takes a browser client (with --user) or a machine client (with its secret) added with npm run issuer', async t => {
  const { app, dataDir, password } = await started(t)
  await issuer(dataDir, ['client', 'add', 'my-spa', '--browser', '--redirect-uri', 'http://127.0.0.1:3000/callback'])
  const spa = await token(dataDir, ['--user', 'admin', '--password', password, '--client', 'my-spa'])
  t.equal(spa.code, 0, spa.stderr)
  t.equal(claimsOf(spa.stdout).client_id, 'my-spa')

  const secret = printedSecret(await issuer(dataDir, ['client', 'add', 'my-backend', '--machine', '--permission', 'read:admin-messages']))
  const backend = await token(dataDir, ['--client', 'my-backend', '--client-secret', secret, '--scope', 'read:admin-messages'])
  t.equal(backend.code, 0, backend.stderr)
  t.same((await admin(app, backend.stdout)).json(), { message: Messages.admin })

  const mixed = await token(dataDir, ['--client', 'my-spa'])
  t.match(mixed.stderr, 'my-spa is a browser client: it signs a user in (add --user <name>)')
  t.match((await token(dataDir, ['--client', 'nobody', '--user', 'admin', '--password', password])).stderr, 'No client nobody was added')
  t.match((await token(dataDir, ['--client', 'my-backend'])).stderr, '--client my-backend needs --client-secret')
})

t.test('npm run token -- --user --dpop METHOD URL prints the headers of that one call, bound to a new key', async t => {
  const { dataDir, password, port } = await started(t)
  const url = `http://localhost:${port}/api/messages/admin`
  const run = await token(dataDir, ['--user', 'admin', '--password', password, '--dpop', 'GET', url])
  t.equal(run.code, 0, run.stderr)
  const [authorization, proof] = run.stdout.split('\n')
  t.match(run.stderr, `Send both headers with GET ${url} within 60 s`)
  const headers = { authorization: authorization!.slice('Authorization: '.length), dpop: proof!.slice('DPoP: '.length) }
  const first = await fetch(url, { headers })
  t.equal(first.status, 200)
  t.same(await first.json(), { message: Messages.admin })
  t.match(claimsOf(headers.authorization.slice('DPoP '.length)), { sub: 'local|admin', cnf: { jkt: /^[\w-]{43}$/ } })
})

t.test('npm run token refuses options it cannot use, naming them', async t => {
  const dataDir = mkdtempSync(join(tmpdir(), 'local-issuer-'))
  const cases: Array<[string[], string]> = [
    [['--totp', '123456'], '--totp goes with --user <name>'],
    [['--acr-values', 'x'], '--acr-values goes with --user <name>'],
    [['--user', 'a', '--max-age', 'soon'], '--max-age takes whole seconds'],
    [['--user', 'a', '--acr-values', ' '], '--acr-values needs the acr values'],
    [['--dpop', 'GET'], '--dpop takes the method and URL of the call'],
    [['--dpop', 'get', 'http://localhost/'], '--dpop takes the method and URL of the call'],
    [['GET', 'http://localhost/'], 'a method and URL go after --dpop']
  ]
  for (const [args, message] of cases) {
    const run = await token(dataDir, args)
    t.equal(run.code, 1, args.join(' '))
    t.match(run.stderr, message, args.join(' '))
  }
  const { stdout } = await promisify(execFile)(...plainNode([SCRIPT, '--help']), { env: { PATH: process.env.PATH ?? '' } })
  for (const option of ['--user <name>', '--password <pw>', '--totp <code>', '--client <id>', '--acr-values', '--max-age <seconds>', '--dpop [METHOD URL]']) t.match(stdout, option)
})
