import { execFile } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import t from 'tap'
import { Messages } from '../routes/messages.js'
import { bearer, build, TS_LOADER_ENV } from './helper.js'

const SCRIPT = fileURLToPath(new URL('../scripts/token.ts', import.meta.url))

async function token (dataDir: string, args: string[] = []) {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [...process.execArgv, SCRIPT, ...args], {
      env: { PATH: process.env.PATH ?? '', ...TS_LOADER_ENV, LOCAL_ISSUER_DATA: dataDir },
      timeout: 30_000
    })
    return { code: 0, stdout: stdout.trim(), stderr }
  } catch (error) {
    const { code, stdout, stderr } = error as { code: number, stdout: string, stderr: string }
    return { code, stdout: stdout.trim(), stderr }
  }
}

t.test('npm run token prints a token from the running local issuer; --scope gets the admin permission', async t => {
  const dataDir = mkdtempSync(join(tmpdir(), 'local-issuer-'))
  const app = await build(t, { LOCAL_ISSUER_PORT: '0', LOCAL_ISSUER_DATA: dataDir })

  const plain = await token(dataDir)
  t.equal(plain.code, 0)
  t.equal(plain.stderr, '', 'nothing on stderr')
  t.equal((await app.inject({ url: '/api/messages/protected', headers: bearer(plain.stdout) })).statusCode, 200)
  t.equal((await app.inject({ url: '/api/messages/admin', headers: bearer(plain.stdout) })).statusCode, 403)

  const admin = await token(dataDir, ['--scope', 'read:admin-messages'])
  t.same((await app.inject({ url: '/api/messages/admin', headers: bearer(admin.stdout) })).json(), { message: Messages.admin })

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
