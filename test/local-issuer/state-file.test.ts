import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, statSync, utimesSync, writeFileSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import Fastify from 'fastify'
import t from 'tap'
import app from '../../app.js'
import { loadConfig } from '../../config/index.js'
import { LOCK_FILE } from '../../local-issuer/state-lock.js'
import { tokenRequest } from '../fixtures/local-login.js'
import { build, TEST_SERVER } from '../helper.js'
import { issuer, printedSecret } from './issuer-command.js'

const freshDir = () => mkdtempSync(join(tmpdir(), 'local-issuer-'))
const stateOf = (dataDir: string) => JSON.parse(readFileSync(join(dataDir, 'state.json'), 'utf8')) as { users: Array<{ username: string, permissions: unknown }> }

t.test('the first command makes the state (mode 0600, folder 0700), prints the built-in users\' passwords once, and the server then uses it', async t => {
  const dataDir = join(freshDir(), 'data')
  const first = await issuer(dataDir, ['user', 'add', 'alice'])
  t.match(first, /First use: made .*state\.json; these secrets are printed once/)
  t.match(first, /admin user +admin +password \S+/)
  t.match(first, 'No server is running on this data folder now; the next npm start uses it.')
  t.equal(statSync(join(dataDir, 'state.json')).mode & 0o777, 0o600)
  t.equal(statSync(dataDir).mode & 0o777, 0o700)
  t.same(stateOf(dataDir).users.map(user => user.username), ['admin', 'user', 'alice'])
  t.notMatch(await issuer(dataDir, ['user', 'add', 'bob']), 'First use', 'printed once')

  const server = await build(t, { LOCAL_ISSUER_PORT: '0', LOCAL_ISSUER_DATA: dataDir })
  t.equal(server.localIssuer!.created, undefined, 'the server made nothing new')
  t.equal(statSync(join(dataDir, 'state.json')).mode & 0o777, 0o600, 'still 0600 after changes')
})

t.test('commands at once lose no update: each is a read-modify-write under the lock', async t => {
  const dataDir = freshDir()
  await issuer(dataDir, ['user', 'add', 'first'])
  const names = Array.from({ length: 12 }, (_, i) => `u${i}`)
  await Promise.all([
    ...names.map(name => issuer(dataDir, ['user', 'add', name, '--permission', 'read:x'])),
    issuer(dataDir, ['permission', 'grant', 'first', 'write:y']),
    issuer(dataDir, ['client', 'add', 'job', '--machine', '--permission', 'read:x'])
  ])
  const state = JSON.parse(readFileSync(join(dataDir, 'state.json'), 'utf8'))
  t.same(state.users.map((user: { username: string }) => user.username).sort(), ['admin', 'first', 'user', ...names].sort(), 'every user added')
  t.same(state.users.find((user: { username: string }) => user.username === 'first').permissions, ['write:y'], 'the grant kept')
  t.equal(state.clients.length, 1, 'the client kept')
  t.notOk(existsSync(join(dataDir, LOCK_FILE)), 'the lock is released')
})

t.test('a lock left by a process that is gone is broken; one held by a running process is waited for', async t => {
  const dataDir = freshDir()
  await issuer(dataDir, ['user', 'add', 'first'])
  const lock = join(dataDir, LOCK_FILE)
  const gone = await new Promise<number>(resolve => {
    const child = spawn(process.execPath, ['-e', ''])
    child.on('exit', () => resolve(child.pid!))
  })
  writeFileSync(lock, `${gone} 0000`)
  const old = new Date(Date.now() - 60_000)
  utimesSync(lock, old, old)
  await issuer(dataDir, ['user', 'add', 'second'])
  t.ok(stateOf(dataDir).users.some(user => user.username === 'second'), 'the dead process\'s lock did not stop the command')

  writeFileSync(lock, `${process.pid} 1111`)
  utimesSync(lock, old, old)
  let done = false
  const waiting = issuer(dataDir, ['user', 'add', 'third']).then(() => { done = true })
  await sleep(200)
  t.equal(done, false, 'a live holder is waited for, however old its lock')
  t.notOk(stateOf(dataDir).users.some(user => user.username === 'third'))
  writeFileSync(lock, '')
  const { rmSync } = await import('node:fs')
  rmSync(lock)
  await waiting
  t.ok(stateOf(dataDir).users.some(user => user.username === 'third'), 'then it goes on')
})

t.test('a corrupt or hand-edited state file stops a command with one message naming the file and the problem, and is left as it is', async t => {
  const dataDir = freshDir()
  await issuer(dataDir, ['user', 'add', 'first'])
  const file = join(dataDir, 'state.json')
  const good = readFileSync(file, 'utf8')
  const cases: Array<[string, string, RegExp]> = [
    ['truncated', good.slice(0, 100), /state file .*state\.json is not valid JSON \(/],
    ['permissions not a list', good.replace(/"permissions": \[\s*"read:admin-messages"\s*\]/, '"permissions": "read:admin-messages"'), /state\.json is not valid: \/users\/0\/permissions must be array/],
    ['a username with a space', good.replace('"username": "first"', '"username": "fir st"'), /state\.json is not valid: \/users\/2\/username must match pattern/],
    ['two users of one name', good.replace('"username": "first"', '"username": "admin"'), /state\.json is not valid: "admin" names two users/],
    ['an array', '[]', /state\.json is not valid: the whole file must be object/]
  ]
  for (const [name, text, message] of cases) {
    writeFileSync(file, text)
    await t.rejects(issuer(dataDir, ['user', 'add', 'second']), { name: 'StateFileError', message }, name)
    await t.rejects(issuer(dataDir, ['user', 'list']), message, `${name}: list too`)
    t.equal(readFileSync(file, 'utf8'), text, `${name}: the file is left as it was, never reset`)
  }
})

t.test('a corrupt state file stops the server\'s start with that message', async t => {
  const dataDir = freshDir()
  await issuer(dataDir, ['user', 'add', 'first'])
  writeFileSync(join(dataDir, 'state.json'), '{"users": ')
  const server = Fastify(TEST_SERVER)
  t.teardown(() => server.close())
  await t.rejects(async () => {
    await server.register(app, { config: loadConfig({ LOCAL_ISSUER_PORT: '0', LOCAL_ISSUER_DATA: dataDir }) })
    await server.ready()
  }, {
    code: 'LOCAL_ISSUER_STATE_INVALID',
    message: /^The local issuer's state file .*state\.json is not valid JSON/
  })
})

t.test('a state file broken while the server runs: sign-ins and added clients fail closed, it is logged once, the API runs on, and fixing the file heals it', async t => {
  const dataDir = freshDir()
  const secret = printedSecret(await issuer(dataDir, ['client', 'add', 'job', '--machine', '--permission', 'read:admin-messages']))
  const logs: string[] = []
  const server = Fastify({ ...TEST_SERVER, logger: { level: 'error', stream: { write: (line: string) => { logs.push(line) } } } })
  t.teardown(() => server.close())
  await server.register(app, { config: loadConfig({ LOCAL_ISSUER_PORT: '0', LOCAL_ISSUER_DATA: dataDir }) })
  await server.ready()
  const local = server.localIssuer!
  const token = () => tokenRequest(local.issuer, { grant_type: 'client_credentials', client_id: 'job', client_secret: secret, audience: local.audience, scope: 'read:admin-messages' })
  t.equal((await token()).status, 200)
  const authorize = (verifier: string) => fetch(new URL(`authorize?${new URLSearchParams({ client_id: 'local-spa', response_type: 'code', redirect_uri: 'http://localhost:4040/callback', scope: 'openid', code_challenge: verifier.repeat(43), code_challenge_method: 'S256' })}`, local.issuer), { redirect: 'manual' })
  const started = await authorize('x')
  const interaction = new URL(started.headers.get('location')!, local.issuer)
  t.match(interaction.pathname, /^\/interaction\//, 'a sign-in started before the file broke')

  const file = join(dataDir, 'state.json')
  const good = readFileSync(file, 'utf8')
  writeFileSync(file, good.replace('"kind": "machine"', '"kind": "robot"'))
  const broken = await token()
  t.equal(broken.status, 500, 'the added client is not served from a file that says something else')
  t.equal(broken.body.access_token, undefined)
  t.equal((await token()).status, 500)
  const errors = logs.filter(line => line.includes('state.json'))
  t.equal(errors.length, 1, 'logged once, not on every request')
  t.match(JSON.parse(errors[0]!).msg, /^local issuer: The local issuer's state file .*state\.json is not valid: \/clients\/0/)

  const form = await fetch(new URL(`${interaction.pathname}/login`, local.issuer), {
    method: 'POST',
    headers: { cookie: started.headers.getSetCookie().map(c => c.split(';')[0]).join('; '), 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ username: 'admin', password: 'whatever-it-is' })
  })
  t.equal(form.status, 500, 'a sign-in fails closed')
  t.match(await form.text(), 'state.json is not valid', 'and the page says why')
  // Refused with an error page, or sent back to the app with error=server_error: never to a login page.
  const refused = await authorize('y')
  await refused.arrayBuffer()
  const location = refused.headers.get('location')
  t.ok(location === null ? refused.status === 500 : new URL(location, local.issuer).searchParams.get('error') === 'server_error',
    `a new sign-in is refused: ${refused.status} ${location}`)
  t.equal((await server.inject('/api/messages/public')).statusCode, 200, 'the API runs on')

  writeFileSync(file, good)
  t.equal((await token()).status, 200, 'fixed, it works again without a restart')
})
