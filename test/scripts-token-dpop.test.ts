import { execFile } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import { Messages } from '../routes/messages.js'
import { freePort } from './fixtures/net.js'
import { build, compiled, plainNode } from './helper.js'

const SCRIPT = compiled('scripts/token')

t.test('npm run token -- --dpop prints the headers of one DPoP call: accepted once, and the token is useless as Bearer', async t => {
  const dataDir = mkdtempSync(join(tmpdir(), 'local-issuer-'))
  const port = await freePort()
  // Listening as npm start does, so the local issuer records the API's address.
  const app = await build(t, { PORT: String(port), LOCAL_ISSUER_PORT: '0', LOCAL_ISSUER_DATA: dataDir })
  await app.listen({ port, host: '127.0.0.1' })

  const { stdout, stderr } = await promisify(execFile)(...plainNode([SCRIPT, '--dpop']), {
    env: { PATH: process.env.PATH ?? '', LOCAL_ISSUER_DATA: dataDir },
    timeout: 300_000
  })
  const [authorization, proof] = stdout.trim().split('\n')
  t.match(authorization, /^Authorization: DPoP [\w-]+\.[\w-]+\.[\w-]+$/)
  t.match(proof, /^DPoP: [\w-]+\.[\w-]+\.[\w-]+$/)
  const url = /^Send both headers with GET (\S+) within 60 s/.exec(stderr)?.[1] ?? ''
  t.equal(url, `http://localhost:${port}/api/messages/protected`, 'the call the proof is made for, on stderr')

  const headers = { authorization: authorization!.slice('Authorization: '.length), dpop: proof!.slice('DPoP: '.length) }
  const first = await fetch(url, { headers })
  t.equal(first.status, 200)
  t.same(await first.json(), { message: Messages.protected })
  t.equal((await fetch(url, { headers })).status, 401, 'the proof is single-use')
  const token = headers.authorization.slice('DPoP '.length)
  const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString())
  t.match(claims.cnf, { jkt: /^[\w-]{43}$/ }, 'the local issuer bound the token to the key')
  t.equal((await fetch(url, { headers: { authorization: `Bearer ${token}` } })).status, 401, 'a bound token is no bearer token')
})
