import Fastify from 'fastify'
import t, { type Test } from 'tap'
import auth, { IssuerMismatchError, Rejections, UnusableIssuerError, type AuthOptions } from '../../src/index.js'
import type { TestIssuer } from '../../src/testing/index.js'
import { bearer, idpFor } from '../helper.js'
import { buildFor, challenge, startFails } from './provider-app.js'

// Microsoft Entra ID. The test issuer stands for https://login.microsoftonline.com: a tenant's
// v2.0 issuer is <origin>/<tenant>/v2.0 (keys at <origin>/<tenant>/discovery/v2.0/keys); the
// multi-tenant `organizations` discovery names the issuer template <origin>/{tenantid}/v2.0
// (keys at <origin>/organizations/discovery/v2.0/keys). v1.0 tokens carry
// https://sts.windows.net/<tenant>/ and are signed by the same keys. One key set signs every
// tenant's tokens, as Entra's does: only iss and tid tell tenants apart.
// Claims as the documented examples, https://learn.microsoft.com/en-us/entra/identity-platform/access-token-claims-reference
// (v1.0 and v2.0 samples); validation as https://learn.microsoft.com/en-us/entra/identity-platform/access-tokens#validate-the-issuer

const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47'
const PARTNER = '8eaef023-2b34-4da1-9baa-8bc8c9d6a490'
const STRANGER = '82229342-1101-4ab6-817b-70c0747630f3'
// The API's app registration: v2.0 tokens name its client id in aud, v1.0 tokens its App ID URI.
const CLIENT_ID = '6e74172b-be56-4843-9ff4-e66a39bb12e3'
const APP_ID_URI = `api://${CLIENT_ID}`
const v1Issuer = (tenant: string) => `https://sts.windows.net/${tenant}/`

const now = () => Math.floor(Date.now() / 1000)

/** One tenant's v2.0 issuer. */
async function tenantIssuer (t: Test): Promise<TestIssuer> {
  return idpFor(t, { path: `/${TENANT}/v2.0`, jwksPath: `/${TENANT}/discovery/v2.0/keys` })
}

/** The `organizations` endpoint: its discovery names the issuer as a template. */
async function organizations (t: Test): Promise<TestIssuer> {
  const idp = await idpFor(t, { path: '/organizations/v2.0', jwksPath: '/organizations/discovery/v2.0/keys' })
  idp.discoveryIssuer = `${new URL(idp.issuer).origin}/{tenantid}/v2.0`
  return idp
}

const v2Of = (idp: TestIssuer, tenant: string) => `${new URL(idp.issuer).origin}/${tenant}/v2.0`

/** A v2.0 access token of this tenant, claim for claim as Microsoft's sample. */
const v2Claims = (iss: string, tenant: string) => ({
  aud: CLIENT_ID,
  iss,
  iat: now(),
  nbf: now(),
  exp: now() + 3600,
  aio: 'AXQAi/8IAAAAtAaZLo3ChMif6KOnttRB7eBq4/DccQzjcJGxPYy/C3jDaNGxXd6wNIIVGRghNRnwJ1lOcAnNZcjvkoyrFxCttv33140RioOFJ4bCCGVuoCag1uOTT22222gHwLPYQ/uf79QX+0KIijdrmp69RctzmQ==',
  azp: '6e74172b-be56-4843-9ff4-e66a39bb12e3',
  azpacr: '0',
  name: 'Abe Lincoln',
  oid: '690222be-ff1a-4d56-abd1-7e4f7d38e474',
  preferred_username: 'abeli@microsoft.com',
  rh: 'I',
  scp: 'access_as_user',
  sub: 'HKZpfaHyWadeOouYlitjrI-KffTm222X5rrV3xDqfKQ',
  tid: tenant,
  uti: 'fqiBqXLPj0eQa82S-IYFAA',
  ver: '2.0'
})

/** A v1.0 access token of this tenant, as Microsoft's sample: issued by sts.windows.net. */
const v1Claims = (tenant: string) => ({
  aud: APP_ID_URI,
  iss: v1Issuer(tenant),
  iat: now(),
  nbf: now(),
  exp: now() + 3600,
  acr: '1',
  aio: 'AVQAq/8RAAAA',
  amr: ['pwd'],
  appid: '6e74172b-be56-4843-9ff4-e66a39bb12e3',
  appidacr: '0',
  family_name: 'Lincoln',
  given_name: 'Abe',
  ipaddr: '203.0.113.7',
  name: 'Abe Lincoln',
  oid: '690222be-ff1a-4d56-abd1-7e4f7d38e474',
  rh: 'I',
  scp: 'access_as_user',
  sub: 'HKZpfaHyWadeOouYlitjrI-KffTm222X5rrV3xDqfKQ',
  tid: tenant,
  unique_name: 'abeli@microsoft.com',
  upn: 'abeli@microsoft.com',
  uti: 'fqiBqXLPj0eQa82S-IYFAA',
  ver: '1.0'
})

/** Registers the plugin and starts: what start-up throws. */
async function readyWith (t: Test, options: AuthOptions): Promise<void> {
  const app = Fastify({ pluginTimeout: 0 })
  t.teardown(() => app.close())
  await app.register(auth, { ...options, keys: { fetchTimeout: 60 } })
  await app.ready()
}

// Entra's JOSE header: typ JWT, and an x5t beside the kid.
const header = { typ: 'JWT', x5t: 'nOo3ZDrODXEK1jKWhXslHR_KXEg' }

t.test('Entra ID, one tenant: a v2.0 access token is accepted; a v1.0 token is refused until its issuer is an alias', async t => {
  const idp = await tenantIssuer(t)
  const plain = await buildFor(t, { issuer: idp.issuer, audience: [CLIENT_ID, APP_ID_URI] })
  const v2 = await plain.inject({ url: '/me', headers: bearer(idp.sign(v2Claims(idp.issuer, TENANT), { header })) })
  t.equal(v2.statusCode, 200, v2.body)
  t.match(v2.json(), { iss: idp.issuer, tid: TENANT, ver: '2.0', scp: 'access_as_user' })
  const v1 = await plain.inject({ url: '/me', headers: bearer(idp.sign(v1Claims(TENANT), { header })) })
  t.equal(v1.statusCode, 401)
  t.match(challenge(v1), Rejections.issuer)

  const aliased = await buildFor(t, { issuer: idp.issuer, audience: [CLIENT_ID, APP_ID_URI], issuerAliases: [v1Issuer(TENANT)] })
  const accepted = await aliased.inject({ url: '/me', headers: bearer(idp.sign(v1Claims(TENANT), { header })) })
  t.equal(accepted.statusCode, 200, accepted.body)
  t.match(accepted.json(), { iss: v1Issuer(TENANT), ver: '1.0' })
  t.equal((await aliased.inject({ url: '/me', headers: bearer(idp.sign(v2Claims(idp.issuer, TENANT), { header })) })).statusCode, 200, 'v2.0 still')
})

t.test('Entra ID, one tenant: a v1.0 or v2.0 token of another tenant, signed by the same keys, is refused', async t => {
  const idp = await tenantIssuer(t)
  const app = await buildFor(t, { issuer: idp.issuer, audience: [CLIENT_ID, APP_ID_URI], issuerAliases: [v1Issuer(TENANT)] })
  for (const claims of [v1Claims(STRANGER), v2Claims(v2Of(idp, STRANGER), STRANGER), { ...v1Claims(TENANT), iss: v1Issuer(STRANGER) }]) {
    const res = await app.inject({ url: '/me', headers: bearer(idp.sign(claims, { header })) })
    t.equal(res.statusCode, 401, claims.iss)
    t.match(challenge(res), Rejections.issuer, claims.iss)
  }
})

t.test('Entra ID, multi-tenant: tokens of the allowlisted tenants are accepted, any other tenant\'s refused', async t => {
  const idp = await organizations(t)
  const app = await buildFor(t, { issuer: idp.issuer, audience: CLIENT_ID, tenants: [TENANT, PARTNER] })
  for (const tenant of [TENANT, PARTNER]) {
    const res = await app.inject({ url: '/me', headers: bearer(idp.sign(v2Claims(v2Of(idp, tenant), tenant), { header })) })
    t.equal(res.statusCode, 200, res.body)
    t.match(res.json(), { iss: v2Of(idp, tenant), tid: tenant })
  }
  // Any tenant can consent to a multi-tenant app and get a token for it: same keys, our aud.
  const stranger = await app.inject({ url: '/me', headers: bearer(idp.sign(v2Claims(v2Of(idp, STRANGER), STRANGER), { header })) })
  t.equal(stranger.statusCode, 401)
  t.match(challenge(stranger), Rejections.issuer)
})

t.test('Entra ID, multi-tenant: the tid must be the tenant the iss names', async t => {
  const idp = await organizations(t)
  const app = await buildFor(t, { issuer: idp.issuer, audience: CLIENT_ID, tenants: [TENANT, PARTNER] })
  for (const tid of [STRANGER, PARTNER, undefined, [TENANT]]) {
    const res = await app.inject({ url: '/me', headers: bearer(idp.sign({ ...v2Claims(v2Of(idp, TENANT), TENANT), tid }, { header })) })
    t.equal(res.statusCode, 401, JSON.stringify(tid))
    t.match(challenge(res), Rejections.tenant, JSON.stringify(tid))
  }
})

t.test('Entra ID, multi-tenant: no iss or tid steers the key lookup away from the configured provider', async t => {
  const idp = await organizations(t)
  // The attacker's own issuer, keys and all, on the same machine.
  const evil = await idpFor(t, { path: `/${TENANT}/v2.0` })
  const app = await buildFor(t, { issuer: idp.issuer, audience: CLIENT_ID, tenants: [TENANT], keys: { cooldown: 0 } })
  const fetchesBefore = idp.totalRequests()
  const forged: Array<[string, string, string]> = [
    // The attacker's issuer, with an allowlisted tenant in tid (and in its path).
    ['the attacker\'s issuer', evil.sign(v2Claims(evil.issuer, TENANT), { header }), Rejections.issuer],
    // An allowlisted tenant's iss on another origin.
    ['another origin', evil.sign(v2Claims(`https://login.microsoftonline.com/${TENANT}/v2.0`, TENANT), { header }), Rejections.issuer],
    // Signed by the provider itself: the template and the multi-tenant endpoint are no tenant's iss.
    ['the template', idp.sign(v2Claims(`${new URL(idp.issuer).origin}/{tenantid}/v2.0`, TENANT), { header }), Rejections.issuer],
    ['the endpoint', idp.sign(v2Claims(idp.issuer, TENANT), { header }), Rejections.issuer]
  ]
  for (const [name, token, reason] of forged) {
    const res = await app.inject({ url: '/me', headers: bearer(token) })
    t.equal(res.statusCode, 401, name)
    t.match(challenge(res), reason, name)
  }
  // An allowlisted tenant's iss signed by the attacker's key: looked up at the configured provider only.
  const res = await app.inject({ url: '/me', headers: bearer(evil.sign(v2Claims(v2Of(idp, TENANT), TENANT), { header: { ...header, kid: 'attacker-kid' } })) })
  t.equal(res.statusCode, 401)
  t.match(challenge(res), Rejections.unknownKey)
  t.equal(evil.totalRequests(), 0, 'nothing is ever fetched from the attacker')
  t.ok(idp.totalRequests() >= fetchesBefore, 'the unknown kid is looked for at the configured provider')
  // The same kid as the provider's key, signed by the attacker: a bad signature.
  const crossed = await app.inject({ url: '/me', headers: bearer(evil.sign(v2Claims(v2Of(idp, TENANT), TENANT), { header: { ...header, kid: idp.signingKey.kid } })) })
  t.equal(crossed.statusCode, 401)
  t.match(challenge(crossed), Rejections.signature)
})

t.test('Entra ID, multi-tenant: v1.0 tokens of allowlisted tenants through a templated alias, no other tenant\'s', async t => {
  const idp = await organizations(t)
  const app = await buildFor(t, { issuer: idp.issuer, audience: [CLIENT_ID, APP_ID_URI], tenants: [TENANT], issuerAliases: ['https://sts.windows.net/{tenantid}/'] })
  t.equal((await app.inject({ url: '/me', headers: bearer(idp.sign(v1Claims(TENANT), { header })) })).statusCode, 200)
  const other = await app.inject({ url: '/me', headers: bearer(idp.sign(v1Claims(STRANGER), { header })) })
  t.equal(other.statusCode, 401)
  t.match(challenge(other), Rejections.issuer)
})

t.test('Entra ID, multi-tenant: a token sent before discovery was read waits for it, then is judged', async t => {
  const idp = await organizations(t)
  idp.outage('error')
  const app = await buildFor(t, { issuer: idp.issuer, audience: CLIENT_ID, tenants: [TENANT], keys: { cooldown: 0 } })
  const early = await app.inject({ url: '/me', headers: bearer(idp.sign(v2Claims(v2Of(idp, TENANT), TENANT), { header })) })
  t.equal(early.statusCode, 503, 'the provider is down: retry, not a refusal')
  idp.restore()
  const later = await app.inject({ url: '/me', headers: bearer(idp.sign(v2Claims(v2Of(idp, TENANT), TENANT), { header })) })
  t.equal(later.statusCode, 200, later.body)
  const stranger = await app.inject({ url: '/me', headers: bearer(idp.sign(v2Claims(v2Of(idp, STRANGER), STRANGER), { header })) })
  t.equal(stranger.statusCode, 401)
  t.match(challenge(stranger), Rejections.issuer)
})

t.test('a templated discovery issuer without tenants stops start-up naming tenants', async t => {
  const idp = await organizations(t)
  await startFails(t, { issuer: idp.issuer, audience: CLIENT_ID }, /names the issuer template .*\{tenantid\}.*: set tenants/)
  await t.rejects(readyWith(t, { issuer: idp.issuer, audience: CLIENT_ID }), UnusableIssuerError)
})

t.test('tenants with a discovery document naming one issuer stops start-up', async t => {
  const idp = await tenantIssuer(t)
  await startFails(t, { issuer: idp.issuer, audience: CLIENT_ID, tenants: [TENANT] }, /tenants is set, but the discovery document .* names one issuer/)
})

t.test('a template that does not fit the configured issuer is an issuer mismatch', async t => {
  const idp = await organizations(t)
  idp.discoveryIssuer = `${new URL(idp.issuer).origin}/{tenantid}/v3.0`
  await t.rejects(readyWith(t, { issuer: idp.issuer, audience: CLIENT_ID, tenants: [TENANT] }), IssuerMismatchError)
})

t.test('tenants and issuerAliases are checked at registration, naming the option', async t => {
  const issuer = 'https://login.microsoftonline.com/organizations/v2.0'
  await startFails(t, { issuer, audience: CLIENT_ID, tenants: [] }, /option tenants must be a non-empty array/)
  await startFails(t, { issuer, audience: CLIENT_ID, tenants: [`${TENANT}/v2.0`] }, /option tenants has ".*": a tenant id is/)
  await startFails(t, { issuer, audience: CLIENT_ID, issuerAliases: ['https://sts.windows.net/{tenantid}/'] }, /option issuerAliases has the template .*: give tenants/)
  await startFails(t, { issuer, audience: CLIENT_ID, issuerAliases: ['sts.windows.net'] }, /option issuerAliases has "sts.windows.net", which must be an absolute URL/)
  await startFails(t, { issuer: 'https://login.microsoftonline.com/{tenantid}/v2.0', audience: CLIENT_ID }, /option tenants is required with a templated issuer/)
  await startFails(t, { issuer: 'https://login.microsoftonline.com/{tenantid}/v2.0', audience: CLIENT_ID, tenants: [TENANT] }, /option issuer is a template, which has no discovery document/)
  await startFails(t, { issuer, audience: CLIENT_ID, tenants: [TENANT], jwksUri: 'https://login.microsoftonline.com/organizations/discovery/v2.0/keys' }, /option tenants with jwksUri needs the issuer to be the template itself/)
  await startFails(t, {
    issuers: [
      { issuer: 'https://a.example.com/', audience: 'x', issuerAliases: ['https://b.example.com/'] },
      { issuer: 'https://b.example.com', audience: 'y' }
    ]
  }, /option issuers\[0\]\.issuerAliases has issuers\[1\]\.issuer/)
})

t.test('Entra ID, multi-tenant without discovery: the issuer template and jwksUri, filled by tenants', async t => {
  const idp = await organizations(t)
  const template = `${new URL(idp.issuer).origin}/{tenantid}/v2.0`
  const app = await buildFor(t, { issuer: template, jwksUri: idp.jwksUri, audience: CLIENT_ID, tenants: [TENANT] })
  t.equal((await app.inject({ url: '/me', headers: bearer(idp.sign(v2Claims(v2Of(idp, TENANT), TENANT), { header })) })).statusCode, 200)
  const stranger = await app.inject({ url: '/me', headers: bearer(idp.sign(v2Claims(v2Of(idp, STRANGER), STRANGER), { header })) })
  t.equal(stranger.statusCode, 401)
  t.match(challenge(stranger), Rejections.issuer)
  t.equal(idp.requests.discovery, 0, 'no discovery read')
})
