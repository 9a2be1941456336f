import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Test } from 'tap'
import type { FirstStartSecrets } from '../../local-issuer/state.js'
import { tokenRequest } from '../fixtures/local-login.js'
import { bearer, build, type Env } from '../helper.js'

export const CLIENT_ORIGIN = 'http://127.0.0.1:4040'
export const REDIRECT_URI = `${CLIENT_ORIGIN}/callback`

// A first start costs about 0.2 s of CPU (an RSA key, two scrypt hashes). The first
// buildLocal() of a test process without a folder of its own starts for real; the later
// ones start from a copy of the state that start made (same keys and users, each in a
// fresh folder) and get the secrets it printed as `created`. A test about the first
// start itself passes its own LOCAL_ISSUER_DATA.
let firstStart: { state: string, created: FirstStartSecrets } | undefined

/**
 * The app with no issuer configured: the local issuer on a free port, state in a fresh
 * folder; `created` holds the first start's secrets (passwords of admin and user).
 */
export async function buildLocal (t: Test, env: Env = {}) {
  const own = env.LOCAL_ISSUER_DATA !== undefined
  const dataDir = env.LOCAL_ISSUER_DATA ?? mkdtempSync(join(tmpdir(), 'local-issuer-'))
  if (!own && firstStart !== undefined) writeFileSync(join(dataDir, 'state.json'), firstStart.state, { mode: 0o600 })
  const app = await build(t, { LOCAL_ISSUER_PORT: '0', LOCAL_ISSUER_DATA: dataDir, CLIENT_ORIGIN_URL: CLIENT_ORIGIN, ...env })
  const local = app.localIssuer!
  const text = readFileSync(join(dataDir, 'state.json'), 'utf8')
  if (!own && firstStart === undefined && local.created !== undefined) firstStart = { state: text, created: local.created }
  const created = local.created ?? (own ? undefined : firstStart?.created)
  const state = JSON.parse(text)
  const machine = (extra: Record<string, string> = {}) => tokenRequest(local.issuer, {
    grant_type: 'client_credentials',
    client_id: 'local-machine',
    client_secret: state.machineClientSecret,
    audience: local.audience,
    ...extra
  })
  const call = (url: string, token: string) => app.inject({ url, headers: bearer(token) })
  return { app, local, dataDir, state, created, machine, call }
}

/** POST /oidc/register with a JSON body, as anyone on the machine can. */
export async function register (issuer: string, metadata: unknown): Promise<{ status: number, body: Record<string, unknown> }> {
  const response = await fetch(new URL('oidc/register', issuer), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(metadata)
  })
  return { status: response.status, body: await response.json() as Record<string, unknown> }
}
