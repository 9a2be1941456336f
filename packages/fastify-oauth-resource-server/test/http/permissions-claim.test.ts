import Fastify from 'fastify'
import t from 'tap'
import auth from '../../src/index.js'
import { startIntrospectionServer } from '../../src/testing/index.js'
import { bearer, buildBare, idpFor } from '../helper.js'

// Where permissions are found: the `permissionsClaim` option, with token shapes as each
// provider documents them (cited per test). `iss` and `aud` are the test issuer's.
// The route /admin needs `read:admin-messages`.

const ADMIN = '/admin'
const now = Math.floor(Date.now() / 1000)

t.test('Keycloak realm roles: realm_access.roles grants; a role in a client\'s roles or in scope does not', async t => {
  // https://www.keycloak.org/docs-api/latest/javadocs/org/keycloak/representations/AccessToken.html
  // (realm_access and resource_access.<client>, each { roles: [...] }), as a Keycloak 26 token
  // shows them in https://phasetwo.io/tutorials/getting-started/your-first-token/
  const keycloak = (realmRoles: string[], clientRoles: string[], scope = 'openid email profile') => ({
    exp: now + 300,
    iat: now,
    jti: 'onrtac:5b7c4f5e-2b0b-4e8f-8f1e-1c2d3e4f5a6b',
    sub: '36fa0f91-f94d-4a0c-afed-6b7d952e47da',
    typ: 'Bearer',
    azp: 'hello-world-spa',
    sid: '2a88c258-f73a-4103-b862-e1fbd8f4e04e',
    acr: '1',
    'allowed-origins': ['http://localhost:4040'],
    realm_access: { roles: ['offline_access', 'uma_authorization', 'default-roles-demo', ...realmRoles] },
    resource_access: { account: { roles: ['manage-account', 'view-profile'] }, 'api.example.com': { roles: clientRoles } },
    scope,
    email_verified: true,
    preferred_username: 'alice'
  })
  const idp = await idpFor(t)
  const app = await buildBare(t, idp, { permissionsClaim: 'realm_access.roles' })
  const status = async (claims: Record<string, unknown>) => (await app.inject({ url: ADMIN, headers: bearer(idp.sign(claims)) })).statusCode
  t.equal(await status(keycloak(['read:admin-messages'], [])), 200)
  t.equal(await status(keycloak([], ['read:admin-messages'])), 403, 'a client role is not a realm role')
  t.equal(await status(keycloak([], [], 'openid read:admin-messages')), 403, 'scope is not read once permissionsClaim is set')
  t.equal(await status({ permissions: ['read:admin-messages'] }), 403, 'nor is the Auth0 default')
})

t.test('Keycloak client roles: resource_access["<client>"].roles names one client, with a dot in its id', async t => {
  // Same documented shape as above: resource_access maps a client id to { roles }.
  const idp = await idpFor(t)
  const app = await buildBare(t, idp, { permissionsClaim: 'resource_access["api.example.com"].roles' })
  const status = async (resourceAccess: unknown) =>
    (await app.inject({ url: ADMIN, headers: bearer(idp.sign({ realm_access: { roles: ['read:admin-messages'] }, resource_access: resourceAccess })) })).statusCode
  t.equal(await status({ 'api.example.com': { roles: ['read:admin-messages'] } }), 200)
  t.equal(await status({ account: { roles: ['read:admin-messages'] } }), 403, 'another client\'s role')
  t.equal(await status({ api: { example: { com: { roles: ['read:admin-messages'] } } } }), 403, 'the dotted id is one key, not three')
  t.equal(await status({ 'api.example.com': ['read:admin-messages'] }), 403, 'an array where the client object should be')
})

t.test('Entra ID: roles (app permissions) and scp (delegated, space-separated) both grant', async t => {
  // https://learn.microsoft.com/en-us/entra/identity-platform/access-token-claims-reference
  // (v2.0: `scp` a space-separated string, `roles` an array of strings; tid, oid, azp, ver).
  const entra = (extra: Record<string, unknown>) => ({
    iat: now,
    nbf: now,
    exp: now + 3600,
    aio: 'AXQAi/8IAAAAtAaZLo3ChMif6KOnttRB7eBq4/DccQzjcJGxPYy/C3jDaNGxXd6wNIIVGRghNRnwJ1lOcAnNZcjvkoyrFxCttv33140RioOFJ4bCCGVuoCag1uOTT22222gHwLPYQ/uf79QX+0KIijdrmp69RctzmQ==',
    azp: '6e74172b-be56-4843-9ff4-e66a39bb12e3',
    azpacr: '0',
    oid: '690222be-ff1a-4d56-abd1-7e4f7d38e474',
    rh: 'I',
    sub: 'HKZpfaHyWadeOouYlitjrI-KffTm222X5rrV3xDqfKQ',
    tid: '72f988bf-86f1-41af-91ab-2d7cd011db47',
    uti: 'fqiBqXLPj0eQa82S-IYFAA',
    ver: '2.0',
    ...extra
  })
  const idp = await idpFor(t)
  const app = await buildBare(t, idp, { permissionsClaim: ['roles', 'scp'] })
  const status = async (claims: Record<string, unknown>) => (await app.inject({ url: ADMIN, headers: bearer(idp.sign(claims)) })).statusCode
  t.equal(await status(entra({ roles: ['read:admin-messages'] })), 200, 'an application permission')
  t.equal(await status(entra({ scp: 'User.Read read:admin-messages' })), 200, 'a delegated permission')
  t.equal(await status(entra({ scp: 'User.Read', roles: ['Messages.Read'] })), 403)
  t.equal(await status(entra({ wids: ['read:admin-messages'] })), 403, 'a directory role template id is not read')
})

t.test('Okta: scp as an array grants', async t => {
  // https://developer.okta.com/docs/api/resources/oidc.html ("Access token" payload: ver, jti,
  // cid, uid, scp an array of scope names).
  const idp = await idpFor(t)
  const app = await buildBare(t, idp, { permissionsClaim: 'scp' })
  const okta = (scp: unknown) => ({ ver: 1, jti: 'AT.0mP4JKAZX1iACIT4vbEDF7LpvDVjxypPMf0D7uX39RE', sub: '00ujmkLgOPFSSAJIHQDP', iat: now, exp: now + 3600, cid: 'nmdP1fcyvdVO11AL7ECm', uid: '00ujmkLgOPFSSAJIHQDP', scp })
  const status = async (scp: unknown) => (await app.inject({ url: ADMIN, headers: bearer(idp.sign(okta(scp))) })).statusCode
  t.equal(await status(['openid', 'email', 'read:admin-messages']), 200)
  t.equal(await status(['openid', 'email']), 403)
  t.equal(await status(['openid read:admin-messages']), 403, 'one array entry holding two names is not split')
})

t.test('Cognito: cognito:groups and scope both grant', async t => {
  // https://docs.aws.amazon.com/cognito/latest/developerguide/amazon-cognito-user-pools-using-the-access-token.html
  // (access token payload: cognito:groups an array, scope a space-separated string, token_use
  // "access", client_id; Cognito sends no aud in access tokens: the test issuer adds one).
  const idp = await idpFor(t)
  const app = await buildBare(t, idp, { permissionsClaim: 'cognito:groups,scope'.split(',') })
  const cognito = (groups: unknown, scope: string) => ({
    sub: 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee',
    device_key: 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee',
    'cognito:groups': groups,
    token_use: 'access',
    scope,
    auth_time: now,
    exp: now + 3600,
    iat: now,
    jti: 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee',
    client_id: '57cbishk4j24pabc1234567890',
    username: 'janedoe@example.com'
  })
  const status = async (groups: unknown, scope: string) => (await app.inject({ url: ADMIN, headers: bearer(idp.sign(cognito(groups, scope))) })).statusCode
  t.equal(await status(['read:admin-messages'], 'aws.cognito.signin.user.admin'), 200, 'a group')
  t.equal(await status(['admin'], 'aws.cognito.signin.user.admin read:admin-messages'), 200, 'a custom scope')
  t.equal(await status(['admin'], 'aws.cognito.signin.user.admin'), 403)
  t.equal(await status('read:admin-messages', 'openid'), 200, 'a group list given as a string is read space-separated')
})

t.test('Auth0 namespaced claims: a key with ":" and "/" in brackets', async t => {
  // https://auth0.com/docs/secure/tokens/json-web-tokens/create-custom-claims (public,
  // namespaced claims such as https://myDomain.com/myClaim, set by an Action).
  const idp = await idpFor(t)
  const app = await buildBare(t, idp, { permissionsClaim: ['["https://hello-world.example.com/roles"]', 'permissions'] })
  const status = async (claims: Record<string, unknown>) => (await app.inject({ url: ADMIN, headers: bearer(idp.sign(claims)) })).statusCode
  t.equal(await status({ 'https://hello-world.example.com/roles': ['read:admin-messages'] }), 200)
  t.equal(await status({ permissions: ['read:admin-messages'] }), 200)
  t.equal(await status({ 'https://hello-world.example.com': { roles: ['read:admin-messages'] } }), 403, 'the key is one segment')
  t.equal(await status({ 'https://evil.example.com/roles': ['read:admin-messages'] }), 403, 'another namespace')
})

t.test('a path given as an array of keys reads the same claim', async t => {
  const idp = await idpFor(t)
  const app = await buildBare(t, idp, { permissionsClaim: [['resource_access', 'api.example.com', 'roles']] })
  const token = idp.sign({ resource_access: { 'api.example.com': { roles: ['read:admin-messages'] } } })
  t.equal((await app.inject({ url: ADMIN, headers: bearer(token) })).statusCode, 200)
})

t.test('a non-string role, a path through a non-object or an array, grants nothing: 403, never 500', async t => {
  const idp = await idpFor(t)
  const app = await buildBare(t, idp, { permissionsClaim: ['realm_access.roles', 'roles'] })
  for (const claims of [
    { realm_access: { roles: [{ name: 'read:admin-messages' }] } },
    { realm_access: { roles: [['read:admin-messages']] } },
    { realm_access: { roles: { 'read:admin-messages': true } } },
    { realm_access: { roles: 42 } },
    { realm_access: { roles: null } },
    { realm_access: { roles: true } },
    { realm_access: { roles: ['read:admin-messages '] } },
    { realm_access: { roles: 'read:admin-messagesx' } },
    { realm_access: 'read:admin-messages' },
    { realm_access: ['read:admin-messages'] },
    { realm_access: [{ roles: ['read:admin-messages'] }] },
    { realm_access: null },
    { 'realm_access.roles': ['read:admin-messages'] },
    { roles: [{ toString: 'read:admin-messages' }] },
    { roles: { length: 1, 0: 'read:admin-messages' } },
    { permissions: ['read:admin-messages'] },
    { scope: 'read:admin-messages' }
  ]) {
    const res = await app.inject({ url: ADMIN, headers: bearer(idp.sign(claims)) })
    t.equal(res.statusCode, 403, JSON.stringify(claims))
  }
})

t.test('a __proto__ key in a token is a claim like any other, never a prototype', async t => {
  const idp = await idpFor(t)
  const app = await buildBare(t, idp, { permissionsClaim: 'realm_access.roles' })
  // Own keys named __proto__, as JSON.parse makes them.
  const claims = JSON.parse('{"__proto__":{"realm_access":{"roles":["read:admin-messages"]}},"realm_access":{"__proto__":{"roles":["read:admin-messages"]}}}')
  const res = await app.inject({ url: ADMIN, headers: bearer(idp.sign(claims)) })
  t.not(res.statusCode, 200)
  t.ok(res.statusCode === 401 || res.statusCode === 403, `refused (${res.statusCode}), not a 500`)
})

t.test('a polluted Object.prototype grants nothing: only the token\'s own claims are read', async t => {
  const idp = await idpFor(t)
  const app = await buildBare(t, idp)
  const proto = Object.prototype as Record<string, unknown>
  for (const name of ['permissions', 'scope']) {
    Object.defineProperty(proto, name, { value: name === 'scope' ? 'read:admin-messages' : ['read:admin-messages'], configurable: true, writable: true })
    t.teardown(() => { delete proto[name] })
  }
  const res = await app.inject({ url: ADMIN, headers: bearer(idp.sign({ sub: 'alice' })) })
  t.equal(res.statusCode, 403)
})

t.test('introspected tokens are read at the same paths', async t => {
  const idp = await idpFor(t)
  const as = await startIntrospectionServer({ issuer: idp.issuer, audience: idp.audience })
  t.teardown(() => as.close())
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(auth, {
    issuer: idp.issuer,
    audience: idp.audience,
    introspection: { endpoint: as.endpoint, clientId: as.clientId, clientSecret: as.clientSecret },
    permissionsClaim: 'realm_access.roles'
  })
  app.get(ADMIN, { onRequest: app.authenticate, preHandler: app.requireScopes('read:admin-messages') }, async () => ({ ok: true }))
  const status = async (claims: Record<string, unknown>) => (await app.inject({ url: ADMIN, headers: bearer(as.issue(claims)) })).statusCode
  t.equal(await status({ realm_access: { roles: ['read:admin-messages'] } }), 200)
  t.equal(await status({ scope: 'read:admin-messages' }), 403)
  t.equal(await status({ realm_access: { roles: [7] } }), 403)
})

t.test('each issuer may read its own claims; a token is read as its issuer says', async t => {
  const staff = await idpFor(t)
  const customers = await idpFor(t)
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(auth, {
    permissionsClaim: 'permissions',
    issuers: [
      { issuer: staff.issuer, audience: staff.audience, permissionsClaim: 'realm_access.roles' },
      { issuer: customers.issuer, audience: customers.audience }
    ]
  })
  app.get(ADMIN, { onRequest: app.authenticate, preHandler: app.requireScopes('read:admin-messages') }, async () => ({ ok: true }))
  const status = async (token: string) => (await app.inject({ url: ADMIN, headers: bearer(token) })).statusCode
  const realmRole = { realm_access: { roles: ['read:admin-messages'] } }
  const permission = { permissions: ['read:admin-messages'] }
  t.equal(await status(staff.sign(realmRole)), 200)
  t.equal(await status(staff.sign(permission)), 403, 'the staff issuer grants by realm role only')
  t.equal(await status(customers.sign(permission)), 200, 'the top-level permissionsClaim is the others\' default')
  t.equal(await status(customers.sign(realmRole)), 403, 'a realm role from another issuer grants nothing')
  t.equal(await status(customers.sign({ scope: 'read:admin-messages' })), 403)
})

t.test('a bad permissionsClaim stops registration with a message naming the option', async t => {
  const idp = await idpFor(t)
  for (const [options, message] of [
    [{ permissionsClaim: 'a..b' }, /option permissionsClaim has no claim name/],
    [{ permissionsClaim: [] }, /option permissionsClaim must name at least one claim path/],
    [{ permissionsClaim: ['roles', '__proto__.x'] }, /option permissionsClaim \[1\] names "__proto__", a prototype key/],
    [{ permissionsClaim: 42 }, /option permissionsClaim must be a claim path/],
    [{ permissionsClaim: 'roles,scp' }, /option permissionsClaim names 2 paths in one string/],
    [{ issuer: undefined, audience: undefined, issuers: [{ issuer: idp.issuer, audience: idp.audience, permissionsClaim: 'a.' }] }, /option issuers\[0\]\.permissionsClaim has no claim name/]
  ] as const) {
    const app = Fastify()
    t.teardown(() => app.close())
    await t.rejects(async () => { await app.register(auth, { issuer: idp.issuer, audience: idp.audience, ...options } as never).ready() }, message, JSON.stringify(options))
  }
})
