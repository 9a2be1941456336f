import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { RegistrationPolicy } from '../../local-issuer/registration.js'
import { tokenRequest } from '../fixtures/local-login.js'
import { buildLocal, register } from './build-local.js'

const ADMIN = 'read:admin-messages'

t.test('a registered client_credentials client gets 400 and no admin token, public or with its own secret', async t => {
  const { local, machine, call } = await buildLocal(t)
  const variants = [
    { token_endpoint_auth_method: 'none' },
    { token_endpoint_auth_method: 'client_secret_post' },
    {}
  ]
  for (const variant of variants) {
    const registered = await register(local.issuer, { grant_types: ['client_credentials'], response_types: [], redirect_uris: [], ...variant })
    t.equal(registered.status, 400, `registration refused: ${JSON.stringify(variant)}`)
    t.equal(registered.body.error, 'invalid_client_metadata')
    t.equal(registered.body.client_id, undefined)

    // Whatever the registration said, the second request of the escalation gets no token.
    const form: Record<string, string> = { grant_type: 'client_credentials', client_id: String(registered.body.client_id ?? 'unregistered'), scope: ADMIN, audience: local.audience }
    if (typeof registered.body.client_secret === 'string') form.client_secret = registered.body.client_secret
    const token = await tokenRequest(local.issuer, form)
    t.not(token.status, 200)
    t.equal(token.body.access_token, undefined)
  }

  const mixed = await register(local.issuer, { grant_types: ['authorization_code', 'client_credentials'], token_endpoint_auth_method: 'none', redirect_uris: ['http://127.0.0.1:5000/cb'] })
  t.equal(mixed.status, 400, 'client_credentials beside the code flow is refused too')
  const confidential = await register(local.issuer, { grant_types: ['authorization_code'], redirect_uris: ['http://127.0.0.1:5000/cb'] })
  t.equal(confidential.status, 400, 'a confidential code-flow client is refused')

  // local-machine itself still gets the admin permission.
  const own = await machine({ scope: ADMIN })
  t.equal((await call('/api/messages/admin', own.body.access_token as string)).statusCode, 200)
})

t.test('a client_credentials client stored before the policy existed gets no token', async t => {
  const dataDir = mkdtempSync(join(tmpdir(), 'local-issuer-'))
  const escalated = {
    client_id: 'escalated',
    client_secret: 'a-secret-the-attacker-chose-long-enough',
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    token_endpoint_auth_method: 'client_secret_post'
  }
  writeFileSync(join(dataDir, 'registered-clients.json'), JSON.stringify({ escalated: { payload: escalated } }))
  const { local } = await buildLocal(t, { LOCAL_ISSUER_DATA: dataDir })
  const token = await tokenRequest(local.issuer, { grant_type: 'client_credentials', client_id: 'escalated', client_secret: escalated.client_secret, scope: ADMIN, audience: local.audience })
  t.ok(token.status >= 400 && token.status < 500, `refused with ${token.status}`)
  t.equal(token.body.access_token, undefined)
})

t.test('a public code-flow client still registers', async t => {
  const { local } = await buildLocal(t)
  const registered = await register(local.issuer, { redirect_uris: ['http://127.0.0.1:5000/cb'], token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], client_name: 'SPA sample' })
  t.equal(registered.status, 201)
  t.equal(registered.body.client_secret, undefined)
})

t.test('registration is bounded in count and bytes, the file stays whole, and the API keeps answering', async t => {
  const { app, local, dataDir } = await buildLocal(t)
  const sample = (name: string) => ({ redirect_uris: ['http://127.0.0.1:5000/cb'], token_endpoint_auth_method: 'none', grant_types: ['authorization_code'], response_types: ['code'], client_name: name })

  const big = await register(local.issuer, sample('x'.repeat(50 * 1024)))
  t.equal(big.status, 400, 'a 50 KiB client_name is refused')
  t.equal(big.body.error, 'invalid_client_metadata')

  const statuses = new Map<number, number>()
  let apiAnswers = 0
  for (let batch = 0; batch < 15; batch++) {
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => register(local.issuer, sample(`sample ${batch * 10 + i}`))))
    for (const { status } of results) statuses.set(status, (statuses.get(status) ?? 0) + 1)
    if ((await app.inject('/api/messages/public')).statusCode === 200) apiAnswers++
  }
  t.equal(statuses.get(201), RegistrationPolicy.maxClients, `${RegistrationPolicy.maxClients} registered`)
  t.equal(statuses.get(403), 150 - RegistrationPolicy.maxClients, 'the rest refused')
  t.equal(apiAnswers, 15, 'the API answered 200 between every batch')
  const refused = await register(local.issuer, sample('one more'))
  t.equal(refused.status, 403)
  t.match(String(refused.body.error_description), /registered clients, its limit/)

  await app.close()
  const file = join(dataDir, 'registered-clients.json')
  const saved = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>
  t.equal(Object.keys(saved).length, RegistrationPolicy.maxClients, 'the file is valid JSON and holds every registered client')
  t.ok(statSync(file).size <= RegistrationPolicy.maxClients * RegistrationPolicy.maxBytes, `file size bounded (${statSync(file).size} bytes)`)
  t.equal(statSync(file).mode & 0o777, 0o600)
})
