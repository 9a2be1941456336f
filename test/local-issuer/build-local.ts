import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Test } from 'tap'
import { tokenRequest } from '../fixtures/local-login.js'
import { bearer, build, type Env } from '../helper.js'

export const CLIENT_ORIGIN = 'http://127.0.0.1:4040'
export const REDIRECT_URI = `${CLIENT_ORIGIN}/callback`

/** The app with no issuer configured: the local issuer on a free port, state in a fresh folder. */
export async function buildLocal (t: Test, env: Env = {}) {
  const dataDir = env.LOCAL_ISSUER_DATA ?? mkdtempSync(join(tmpdir(), 'local-issuer-'))
  const app = await build(t, { LOCAL_ISSUER_PORT: '0', LOCAL_ISSUER_DATA: dataDir, CLIENT_ORIGIN_URL: CLIENT_ORIGIN, ...env })
  const local = app.localIssuer!
  const state = JSON.parse(readFileSync(join(dataDir, 'state.json'), 'utf8'))
  const machine = (extra: Record<string, string> = {}) => tokenRequest(local.issuer, {
    grant_type: 'client_credentials',
    client_id: 'local-machine',
    client_secret: state.machineClientSecret,
    audience: local.audience,
    ...extra
  })
  const call = (url: string, token: string) => app.inject({ url, headers: bearer(token) })
  return { app, local, dataDir, state, machine, call }
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
