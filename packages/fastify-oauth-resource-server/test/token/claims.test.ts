import t, { type Test } from 'tap'
import { Rejections } from '../../src/claims/rejections.js'
import { signRaw, type Claims, type TestIssuer } from '../../src/testing/index.js'
import { bearer, buildBare, idpFor, testKeyPair } from '../helper.js'
import Fastify from 'fastify'
import auth, { channels, type AuthDecisionMessage, type AuthOptions } from '../../src/index.js'

const now = () => Math.floor(Date.now() / 1000)

async function setup (t: Test, options: Partial<AuthOptions> = {}) {
  const idp = await idpFor(t)
  const app = await buildBare(t, idp, options)
  const call = (token: string) => app.inject({ url: '/me', headers: bearer(token) })
  const accepts = async (token: string, what: string) => {
    const res = await call(token)
    t.equal(res.statusCode, 200, `${what} is accepted`)
  }
  const rejects = async (token: string, what: string, description: string) => {
    const res = await call(token)
    t.equal(res.statusCode, 401, `${what} is rejected`)
    t.match(res.headers['www-authenticate'], `error_description="${description}"`, what)
  }
  return { idp, accepts, rejects }
}

const raw = (idp: TestIssuer, payload: unknown, header: Record<string, unknown> = {}) => signRaw(header, payload, idp.signingKey)
const full = (idp: TestIssuer, claims: Claims) => ({ iss: idp.issuer, aud: idp.audience, iat: now(), exp: now() + 600, ...claims })

t.test('exp: expired tokens are rejected, within the clock tolerance accepted', async t => {
  const { idp, accepts, rejects } = await setup(t)
  await rejects(idp.sign({ exp: now() - 60 }), 'expired a minute ago', Rejections.expired)
  await accepts(idp.sign({ exp: now() - 2 }), 'expired 2 s ago (tolerance 5 s)')
})

t.test('exp is required', async t => {
  const { idp, rejects } = await setup(t)
  await rejects(idp.sign({ exp: undefined }), 'no exp', Rejections.noExpiry)
})

t.test('nbf: tokens not yet valid are rejected, within the clock tolerance accepted', async t => {
  const { idp, accepts, rejects } = await setup(t)
  await rejects(idp.sign({ nbf: now() + 60 }), 'nbf in a minute', Rejections.notYetValid)
  await accepts(idp.sign({ nbf: now() + 2 }), 'nbf in 2 s')
})

t.test('iat: tokens issued in the future are rejected, within the clock tolerance accepted', async t => {
  const { idp, accepts, rejects } = await setup(t)
  await rejects(raw(idp, full(idp, { iat: now() + 60 })), 'iat in a minute', Rejections.issuedInFuture)
  await accepts(raw(idp, full(idp, { iat: now() + 2 })), 'iat in 2 s')
})

t.test('clockTolerance is configurable', async t => {
  const { idp, rejects, accepts } = await setup(t, { clockTolerance: 0 })
  await rejects(idp.sign({ exp: now() - 2 }), 'expired 2 s ago with no tolerance', Rejections.expired)
  await accepts(idp.sign({ exp: now() + 60 }), 'valid for a minute')
})

t.test('iss must equal the discovered issuer exactly', async t => {
  const { idp, rejects } = await setup(t)
  await rejects(idp.sign({ iss: 'https://evil.example/' }), 'another issuer', Rejections.issuer)
  await rejects(idp.sign({ iss: idp.issuer.slice(0, -1) }), 'the issuer without its trailing slash', Rejections.issuer)
  await rejects(idp.sign({ iss: idp.issuer.toUpperCase() }), 'the issuer in upper case', Rejections.issuer)
  await rejects(idp.sign({ iss: undefined }), 'no iss', Rejections.issuer)
  await rejects(raw(idp, full(idp, { iss: [idp.issuer] })), 'iss as an array', Rejections.issuer)
})

t.test('aud must be, or contain, the API audience', async t => {
  const { idp, accepts, rejects } = await setup(t)
  await accepts(idp.sign({ aud: [idp.audience, 'https://other.example'] }), 'aud array containing ours')
  await rejects(idp.sign({ aud: 'https://other.example' }), 'another audience', Rejections.audience)
  await rejects(idp.sign({ aud: ['https://other.example'] }), 'an array without ours', Rejections.audience)
  await rejects(idp.sign({ aud: `${idp.audience}/` }), 'a look-alike audience', Rejections.audience)
  await rejects(idp.sign({ aud: undefined }), 'no aud', Rejections.audience)
  await rejects(raw(idp, full(idp, { aud: 42 })), 'aud as a number', Rejections.audience)
  await rejects(raw(idp, full(idp, { aud: [idp.audience, 42] })), 'aud array with a number', Rejections.claimType)
})

t.test('date claims of the wrong type are rejected', async t => {
  const { idp, rejects } = await setup(t)
  await rejects(raw(idp, full(idp, { exp: String(now() + 600) })), 'exp as a string', Rejections.claimType)
  await rejects(raw(idp, full(idp, { exp: null })), 'exp null', Rejections.claimType)
  await rejects(raw(idp, full(idp, { nbf: '0' })), 'nbf as a string', Rejections.claimType)
  await rejects(raw(idp, full(idp, { iat: '0' })), 'iat as a string', Rejections.claimType)
})

t.test('payloads that are not JSON objects are rejected', async t => {
  const { idp, rejects } = await setup(t)
  await rejects(raw(idp, [full(idp, {})]), 'a JSON array payload', Rejections.malformed)
  await rejects(raw(idp, 'a string'), 'a JSON string payload', Rejections.malformed)
  await rejects(raw(idp, '123'), 'a JSON number payload', Rejections.malformed)
  await rejects(raw(idp, 'null'), 'a JSON null payload', Rejections.malformed)
})

t.test('typ, if present, is JWT or at+jwt', async t => {
  const { idp, accepts, rejects } = await setup(t)
  await accepts(idp.sign({}, { header: { typ: 'JWT' } }), 'typ JWT')
  await accepts(idp.sign({}, { header: { typ: 'at+jwt' } }), 'typ at+jwt')
  await accepts(idp.sign({}, { header: { typ: 'application/at+jwt' } }), 'typ application/at+jwt')
  await accepts(raw(idp, full(idp, {})), 'no typ')
  await rejects(idp.sign({}, { header: { typ: 'JOSE' } }), 'typ JOSE', Rejections.type)
  await rejects(idp.sign({}, { header: { typ: 'dpop+jwt' } }), 'typ dpop+jwt', Rejections.type)
  await rejects(raw(idp, full(idp, {}), { typ: 1 }), 'typ as a number', Rejections.type)
})

t.test('requireAccessTokenType demands typ at+jwt (RFC 9068)', async t => {
  const { idp, accepts, rejects } = await setup(t, { requireAccessTokenType: true })
  await accepts(idp.sign({}, { header: { typ: 'at+jwt' } }), 'typ at+jwt')
  await rejects(idp.sign({}, { header: { typ: 'JWT' } }), 'typ JWT', Rejections.type)
  await rejects(raw(idp, full(idp, {})), 'no typ', Rejections.type)
})

t.test('unknown crit headers are rejected', async t => {
  const { idp, rejects } = await setup(t)
  await rejects(idp.sign({}, { header: { crit: ['urn:example:bound'], 'urn:example:bound': true } }), 'an unknown extension', Rejections.crit)
  await rejects(idp.sign({}, { header: { crit: ['b64'], b64: false } }), 'b64', Rejections.crit)
  await rejects(idp.sign({}, { header: { crit: [] } }), 'an empty crit', Rejections.crit)
})

t.test('request.claims holds the verified claims, frozen', async t => {
  const idp = await idpFor(t)
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(auth, { issuer: idp.issuer, audience: idp.audience })
  app.get('/claims', { onRequest: app.authenticate }, async request => {
    const claims = request.claims!
    return { sub: claims.sub, frozen: Object.isFrozen(claims) && Object.isFrozen(claims.permissions) }
  })
  const res = await app.inject({ url: '/claims', headers: bearer(idp.sign({ sub: 'alice', permissions: ['a'] })) })
  t.same(res.json(), { sub: 'alice', frozen: true })
})

/** Valid claims with a `deep` claim nested `depth` levels, as JSON text: {"n":{"n":…{}}}. */
const nestedPayload = (idp: TestIssuer, depth: number) =>
  JSON.stringify(full(idp, {})).slice(0, -1) + ',"deep":' + '{"n":'.repeat(depth) + '{}' + '}'.repeat(depth) + '}'

t.test('deeply nested claims: 12,000 levels get a 401, not a stack overflow and a 500', async t => {
  const { idp, rejects } = await setup(t)
  await rejects(raw(idp, nestedPayload(idp, 12_000)), '12,000 levels', Rejections.nested)
  await rejects(raw(idp, nestedPayload(idp, 40)), '40 levels', Rejections.nested)
})

t.test('claims nested a few levels are accepted and frozen all the way down', async t => {
  const idp = await idpFor(t)
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(auth, { issuer: idp.issuer, audience: idp.audience })
  app.get('/frozen', { onRequest: app.authenticate }, async request => {
    const deep = (request.claims as { org?: { team?: { roles?: string[] } } }).org?.team?.roles
    return { frozen: Object.isFrozen(deep), roles: deep }
  })
  const res = await app.inject({ url: '/frozen', headers: bearer(idp.sign({ org: { team: { roles: ['a'] } } })) })
  t.same(res.json(), { frozen: true, roles: ['a'] })
})

t.test('a token whose signature does not verify is refused as a signature fault, whatever claims it forged', async t => {
  const { idp, rejects } = await setup(t)
  const decisions: AuthDecisionMessage[] = []
  const onDecision = (message: AuthDecisionMessage) => { decisions.push(message) }
  channels.authDecision.subscribe(onDecision)
  t.teardown(() => { channels.authDecision.unsubscribe(onDecision) })
  // Each signed for real under the issuer's own kid, by a key that is not the one it names.
  const impostor = testKeyPair(idp.signingKey.kid)
  const forge = (claims: Claims) => signRaw({}, full(idp, claims), impostor)
  const forged: Array<[Claims, string]> = [
    [{ aud: undefined }, 'no aud'],
    [{ aud: 'https://other.example' }, 'another aud'],
    [{ iss: idp.issuer.slice(0, -1) }, 'iss spelled without its trailing slash'],
    [{ exp: undefined }, 'no exp'],
    [{ exp: now() - 3600 }, 'expired'],
    [{ exp: String(now() + 600) }, 'exp as a string'],
    [{ nbf: now() + 3600 }, 'not valid yet'],
    [{ iat: now() + 3600 }, 'issued in the future'],
    [{ sub: { a: '<b>' } }, 'sub as an object'],
    [{ permissions: 'read:admin-messages' }, 'permissions as a string']
  ]
  for (const [claims, what] of forged) {
    await rejects(forge(claims), `forged, ${what}`, Rejections.signature)
  }
  t.same(decisions.map(each => each.reason), forged.map(() => 'signature'), 'counted as signature faults')
})

t.test('claims the code reads must be of their type: sub a string, not an object, number, null, boolean or array', async t => {
  const { idp, accepts, rejects } = await setup(t)
  const wrong: Array<[string, unknown]> = [
    ['sub', { a: '<b>' }], ['sub', 42], ['sub', null], ['sub', true], ['sub', ['alice']],
    ['client_id', 7], ['client_id', { id: 'x' }], ['azp', ['app']], ['jti', 1], ['acr', 2],
    ['auth_time', '1700000000'], ['auth_time', null]
  ]
  // A JWT's scope or permissions of another type grant nothing: 403, as test/scopes.test.ts holds.
  for (const [claim, value] of wrong) {
    await rejects(raw(idp, full(idp, { [claim]: value })), `${claim}: ${JSON.stringify(value)}`, Rejections.claimType)
  }
  await accepts(raw(idp, full(idp, { sub: 'alice', client_id: 'app', azp: 'app', jti: 'j-1', acr: '1', auth_time: now(), scope: 'a b', permissions: ['a'] })), 'every claim of its type')
})
