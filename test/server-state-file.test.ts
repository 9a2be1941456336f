import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import { compiled, plainNode } from './helper.js'

const SERVER = compiled('server')

t.test('npm start with a corrupt local issuer state file exits 1 with one line naming the file and the problem, and leaves the file', async t => {
  const dataDir = mkdtempSync(join(tmpdir(), 'local-issuer-'))
  const file = join(dataDir, 'state.json')
  writeFileSync(file, '{"signingKey": {}, ')
  const env = { PATH: process.env.PATH ?? '', PORT: '0', HOST: '127.0.0.1', LOCAL_ISSUER_PORT: '0', LOCAL_ISSUER_DATA: dataDir, LOG_LEVEL: 'warn' }
  const result = await promisify(execFile)(...plainNode([SERVER]), { cwd: mkdtempSync(join(tmpdir(), 'server-cwd-')), env, timeout: 300_000 })
    .then(() => ({ code: 0, stderr: '' }), (error: { code: number, stderr: string }) => error)
  t.equal(result.code, 1)
  // oidc-provider's own Node.js version warning may precede it on Node.js 20.
  const lines = result.stderr.split('\n').filter(line => line !== '' && !line.startsWith('oidc-provider WARNING'))
  t.equal(lines.length, 1, `one line: ${result.stderr}`)
  t.match(lines[0], /^Configuration error: The local issuer's state file .*state\.json is not valid JSON/)
  t.equal(readFileSync(file, 'utf8'), '{"signingKey": {}, ', 'never reset')
})
