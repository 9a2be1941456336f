import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import { compiled, plainNode } from './helper.js'

const SCRIPT = compiled('scripts/issuer')

/** The compiled script in a child process, in an empty folder (no .env). */
async function run (file: string, args: string[], env: Record<string, string>) {
  try {
    const { stdout, stderr } = await promisify(execFile)(...plainNode([file, ...args]), {
      cwd: mkdtempSync(join(tmpdir(), 'issuer-cwd-')),
      env: { PATH: process.env.PATH ?? '', ...env },
      timeout: 300_000
    })
    return { code: 0, stdout, stderr }
  } catch (error) {
    const { code, stdout, stderr } = error as { code: number, stdout: string, stderr: string }
    return { code, stdout, stderr }
  }
}

const users = (dataDir: string) =>
  (JSON.parse(readFileSync(join(dataDir, 'state.json'), 'utf8')) as { users: Array<{ username: string }> }).users.map(user => user.username)

t.test('npm run issuer: four commands run at once as processes lose no update, and none loads oidc-provider', async t => {
  const dataDir = mkdtempSync(join(tmpdir(), 'local-issuer-'))
  const results = await Promise.all(['ann', 'ben', 'cat', 'dan'].map(name =>
    run(SCRIPT, ['user', 'add', name, '--permission', 'read:admin-messages'], { LOCAL_ISSUER_DATA: dataDir })))
  for (const result of results) {
    t.equal(result.code, 0, result.stderr)
    t.equal(result.stderr, '', 'nothing on stderr: no oidc-provider warning')
  }
  t.same(users(dataDir).sort(), ['admin', 'ann', 'ben', 'cat', 'dan', 'user'])
  t.equal(results.filter(result => result.stdout.includes('First use')).length, 1, 'the state was made once, its secrets printed once')
})

t.test('npm run issuer -- --help prints its usage and exits 0, as `help` does', async t => {
  for (const args of [['--help'], ['-h'], ['help']]) {
    const result = await run(SCRIPT, args, {})
    t.equal(result.code, 0, args.join(' '))
    t.match(result.stdout, /^Usage: npm run issuer -- <command>\n\n {2}user add <username>/, args.join(' '))
    t.equal(result.stderr, '')
  }
})

t.test('a corrupt state file: npm run issuer exits 1 with one line naming the file and the problem, and leaves the file', async t => {
  const dataDir = mkdtempSync(join(tmpdir(), 'local-issuer-'))
  const file = join(dataDir, 'state.json')
  writeFileSync(file, '{"signingKey": {}, ')
  const command = await run(SCRIPT, ['user', 'add', 'ann'], { LOCAL_ISSUER_DATA: dataDir })
  t.equal(command.code, 1)
  t.equal(command.stdout, '')
  t.match(command.stderr, /^The local issuer's state file .*state\.json is not valid JSON \(.*\)\. Fix it \(or restore it\), or delete it to start afresh/)
  t.equal(command.stderr.trim().split('\n').length, 1, 'one line')
  t.equal(readFileSync(file, 'utf8'), '{"signingKey": {}, ', 'never reset')
})
