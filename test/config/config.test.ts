import t from 'tap'
import { loadConfig, parseTrustProxy, resolveConfig, type Env } from '../../config/index.js'
import { build } from '../helper.js'

const base: Env = { PORT: 6060, HOST: 'localhost', LOG_LEVEL: 'info', CLIENT_ORIGIN_URL: 'http://localhost:4040', LOCAL_ISSUER_DATA: '.local-issuer', DPOP: 'allowed', DPOP_NONCE: 'off' }

t.test('bad configuration stops start-up with a message naming the variable', async t => {
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ JWKS_URI: 'https://keys.example.com/' }, /^JWKS_URI needs ISSUER_BASE_URL or AUTH0_DOMAIN/],
    [{ PORT: '7000', LOCAL_ISSUER_PORT: '7000' }, /^LOCAL_ISSUER_PORT must differ from PORT/],
    [{ LOCAL_ISSUER_PORT: 'x' }, /^LOCAL_ISSUER_PORT must be integer/],
    [{ ISSUER_BASE_URL: 'https://a.example/', AUDIENCE: 'x', AUTH0_DOMAIN: 'b.auth0.com', AUTH0_AUDIENCE: 'x' }, /^Set ISSUER_BASE_URL or AUTH0_DOMAIN, not both/],
    [{ ISSUER_BASE_URL: 'idp.example.com', AUDIENCE: 'x' }, /^ISSUER_BASE_URL must be an absolute URL/],
    [{ ISSUER_BASE_URL: 'http://idp.example.com/', AUDIENCE: 'x' }, /^ISSUER_BASE_URL must use https:/],
    [{ ISSUER_BASE_URL: 'https://idp.example.com/' }, /^AUDIENCE is required with ISSUER_BASE_URL/],
    [{ ISSUER_BASE_URL: 'https://idp.example.com/', AUDIENCE: '  ' }, /^AUDIENCE is set but blank/],
    [{ ISSUER_BASE_URL: '' }, /^ISSUER_BASE_URL is set but blank/],
    [{ NODE_ENV: 'production' }, /^NODE_ENV is production but no issuer is set: configure ISSUER_BASE_URL or AUTH0_DOMAIN/],
    [{ AUTH0_DOMAIN: 'tenant.us.auth0.com' }, /^AUTH0_AUDIENCE is required with AUTH0_DOMAIN/],
    [{ AUTH0_DOMAIN: 'https://tenant.us.auth0.com/path', AUTH0_AUDIENCE: 'x' }, /^AUTH0_DOMAIN must be a host name/],
    [{ ISSUER_BASE_URL: 'https://idp.example.com/', AUDIENCE: 'x', JWKS_URI: 'http://keys.example.com/' }, /^JWKS_URI must use https:/],
    [{ ISSUER_BASE_URL: 'https://idp.example.com/', AUDIENCE: 'x', CLIENT_ORIGIN_URL: 'localhost:4040' }, /^CLIENT_ORIGIN_URL must be an origin/],
    [{ ISSUER_BASE_URL: 'https://idp.example.com/', AUDIENCE: 'x', CLIENT_ORIGIN_URL: 'http://localhost:4040/app' }, /^CLIENT_ORIGIN_URL must be an origin/],
    [{ ISSUER_BASE_URL: 'https://idp.example.com/', AUDIENCE: 'x', PORT: 'abc' }, /^PORT must be integer/],
    [{ ISSUER_BASE_URL: 'https://idp.example.com/', AUDIENCE: 'x', PORT: '70000' }, /^PORT must be <= 65535/],
    [{ ISSUER_BASE_URL: 'https://idp.example.com/', AUDIENCE: 'x', LOG_LEVEL: 'loud' }, /^LOG_LEVEL /]
  ]
  for (const [env, message] of cases) {
    await t.rejects(build(t, env), { name: 'ConfigError', message }, JSON.stringify(env))
  }
})

t.test('AUTH0_DOMAIN and AUTH0_AUDIENCE, as the Auth0 sample names them, configure the Auth0 issuer', async t => {
  const config = resolveConfig({ ...base, AUTH0_DOMAIN: 'tenant.us.auth0.com', AUTH0_AUDIENCE: 'https://hello-world.example.com' })
  t.same(config.auth, { issuer: 'https://tenant.us.auth0.com/', audience: 'https://hello-world.example.com', jwksUri: undefined })
  t.equal(resolveConfig({ ...base, AUTH0_DOMAIN: 'https://tenant.us.auth0.com/', AUTH0_AUDIENCE: 'a' }).auth?.issuer, 'https://tenant.us.auth0.com/')
})

t.test('defaults: port 6060, host localhost, CORS origin http://localhost:4040', async t => {
  const config = resolveConfig({ ...base, ISSUER_BASE_URL: 'https://idp.example.com', AUDIENCE: 'a' })
  t.equal(config.port, 6060)
  t.equal(config.host, 'localhost')
  t.equal(config.clientOrigin, 'http://localhost:4040')
})

t.test('a set but blank issuer variable stops start-up naming it, instead of turning the local issuer on', async t => {
  const names = ['ISSUER_BASE_URL', 'AUDIENCE', 'AUTH0_DOMAIN', 'AUTH0_AUDIENCE', 'JWKS_URI'] as const
  const issuers: Array<Partial<Env>> = [{}, { ISSUER_BASE_URL: 'https://idp.example.com/', AUDIENCE: 'a' }, { AUTH0_DOMAIN: 'tenant.auth0.com', AUTH0_AUDIENCE: 'a' }]
  for (const name of names) {
    for (const blank of ['', '  ', '\t']) {
      for (const issuer of issuers) {
        const env = { ...base, ...issuer, [name]: blank }
        t.throws(() => resolveConfig(env), { name: 'ConfigError', message: `${name} is set but blank: give it a value, or unset it` }, JSON.stringify(env))
      }
    }
  }
})

t.test('NODE_ENV=production with no issuer configured stops start-up rather than run the local issuer', async t => {
  for (const NODE_ENV of ['production', ' Production ']) {
    t.throws(() => resolveConfig({ ...base, NODE_ENV }), {
      name: 'ConfigError',
      message: 'NODE_ENV is production but no issuer is set: configure ISSUER_BASE_URL or AUTH0_DOMAIN (the local development issuer never runs in production)'
    }, NODE_ENV)
  }
  t.throws(() => resolveConfig({ ...base, NODE_ENV: 'production', AUDIENCE: 'a' }), { message: /^NODE_ENV is production but no issuer is set/ })
  t.equal(resolveConfig({ ...base, NODE_ENV: 'production', ISSUER_BASE_URL: 'https://idp.example.com/', AUDIENCE: 'a' }).localIssuer, undefined)
  t.equal(resolveConfig({ ...base, NODE_ENV: 'production', AUTH0_DOMAIN: 'tenant.auth0.com', AUTH0_AUDIENCE: 'a' }).auth?.issuer, 'https://tenant.auth0.com/')
  t.not(resolveConfig({ ...base, NODE_ENV: 'development' }).localIssuer, undefined, 'any other NODE_ENV keeps the local issuer')
})

t.test('mixed Auth0 and generic names stop start-up saying which name to use', async t => {
  const cases: Array<[Partial<Env>, string]> = [
    [{ AUTH0_DOMAIN: 'tenant.auth0.com', AUDIENCE: 'a' }, 'AUDIENCE goes with ISSUER_BASE_URL: with AUTH0_DOMAIN, name the API identifier AUTH0_AUDIENCE'],
    [{ AUTH0_DOMAIN: 'tenant.auth0.com', AUDIENCE: 'a', AUTH0_AUDIENCE: 'a' }, 'AUDIENCE goes with ISSUER_BASE_URL: with AUTH0_DOMAIN, name the API identifier AUTH0_AUDIENCE'],
    [{ ISSUER_BASE_URL: 'https://idp.example.com/', AUTH0_AUDIENCE: 'a' }, 'AUTH0_AUDIENCE goes with AUTH0_DOMAIN: with ISSUER_BASE_URL, name the API identifier AUDIENCE'],
    [{ ISSUER_BASE_URL: 'https://idp.example.com/', AUDIENCE: 'a', AUTH0_AUDIENCE: 'a' }, 'AUTH0_AUDIENCE goes with AUTH0_DOMAIN: with ISSUER_BASE_URL, name the API identifier AUDIENCE'],
    [{ AUTH0_AUDIENCE: 'a' }, 'AUTH0_AUDIENCE needs AUTH0_DOMAIN: without an issuer the local issuer runs, and AUDIENCE names its API identifier']
  ]
  for (const [env, message] of cases) {
    t.throws(() => resolveConfig({ ...base, ...env }), { name: 'ConfigError', message }, JSON.stringify(env))
  }
})

t.test('http: issuers are allowed on loopback only', async t => {
  for (const issuer of ['http://localhost:3000/', 'http://127.0.0.1:3000/', 'http://[::1]:3000/']) {
    t.equal(resolveConfig({ ...base, ISSUER_BASE_URL: issuer, AUDIENCE: 'a' }).auth?.issuer, issuer)
  }
})

t.test('with no issuer configured, the local issuer runs on PORT + 1 for the sample audience', async t => {
  const config = resolveConfig(base)
  t.equal(config.auth, undefined)
  t.same(config.localIssuer, { port: 6061, dataDir: '.local-issuer', audience: 'https://hello-world.example.com' })
  t.equal(resolveConfig({ ...base, AUDIENCE: 'https://api.example.com', LOCAL_ISSUER_PORT: 9000 }).localIssuer?.audience, 'https://api.example.com')
  t.equal(resolveConfig({ ...base, LOCAL_ISSUER_PORT: 9000 }).localIssuer?.port, 9000)
})

t.test('an issuer configured turns the local issuer off', async t => {
  t.equal(resolveConfig({ ...base, ISSUER_BASE_URL: 'https://idp.example.com/', AUDIENCE: 'a' }).localIssuer, undefined)
  t.equal(resolveConfig({ ...base, AUTH0_DOMAIN: 'tenant.auth0.com', AUTH0_AUDIENCE: 'a' }).localIssuer, undefined)
})

t.test('TRUST_PROXY: true or addresses/CIDRs, as Fastify 5 takes them; anything else names the variable', async t => {
  t.equal(parseTrustProxy(undefined), false)
  t.equal(parseTrustProxy(''), false)
  t.equal(parseTrustProxy('false'), false)
  t.equal(parseTrustProxy('true'), true)
  t.equal(parseTrustProxy('10.0.0.0/8, 127.0.0.1,::1'), '10.0.0.0/8,127.0.0.1,::1')
  t.equal(parseTrustProxy('loopback, 10.0.0.0/8'), 'loopback,10.0.0.0/8')
  for (const bad of ['yes', '10.0.0.0/33', '10.0.0.1/8/1', 'proxy.example.com', '::1/129', '10.0.0.1,']) {
    t.throws(() => parseTrustProxy(bad), { name: 'ConfigError', message: /^TRUST_PROXY must be true, or proxy addresses\/CIDRs/ }, bad)
  }
})

t.test('TRUST_PROXY as a hop count is refused, saying what to use instead', async t => {
  for (const hops of ['1', '2', ' 2 ', '0']) {
    t.throws(() => parseTrustProxy(hops), { name: 'ConfigError', message: /^TRUST_PROXY must not be a hop count .*List the proxies' addresses or CIDRs .*or use true/ }, hops)
  }
  t.throws(() => loadConfig({ TRUST_PROXY: '2' }), { name: 'ConfigError', message: /^TRUST_PROXY must not be a hop count/ })
})

t.test('numbered ISSUER_<n>_* variables configure several issuers, each with its own audience and introspection', async t => {
  const raw = {
    ISSUER_1_BASE_URL: 'https://tenant.us.auth0.com/',
    ISSUER_1_AUDIENCE: 'https://hello-world.example.com',
    ISSUER_2_BASE_URL: 'https://keycloak.example.com/realms/staff',
    ISSUER_2_AUDIENCE: 'hello-world-api',
    ISSUER_2_INTROSPECTION_CLIENT_ID: 'hello-world-api',
    ISSUER_2_INTROSPECTION_CLIENT_SECRET: 's3cret'
  }
  const config = resolveConfig({ ...base, NODE_ENV: 'production' }, raw)
  t.same(config.auth, {
    issuers: [
      { issuer: 'https://tenant.us.auth0.com/', audience: 'https://hello-world.example.com', jwksUri: undefined },
      {
        issuer: 'https://keycloak.example.com/realms/staff',
        audience: 'hello-world-api',
        jwksUri: undefined,
        introspection: { clientId: 'hello-world-api', clientSecret: 's3cret' }
      }
    ]
  })
  t.equal(config.localIssuer, undefined)
})

t.test('bad numbered issuer variables stop start-up naming the variable', async t => {
  const one = { ISSUER_1_BASE_URL: 'https://a.example.com/', ISSUER_1_AUDIENCE: 'a' }
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ ...one, ISSUER_1_AUDIANCE: 'a' }, /^ISSUER_1_AUDIANCE is not a setting: ISSUER_<n>_ takes BASE_URL, AUDIENCE/],
    [{ ...one, ISSUER_3_BASE_URL: 'https://c.example.com/', ISSUER_3_AUDIENCE: 'c' }, /^ISSUER_2_BASE_URL is missing: number issuers from 1 without gaps/],
    [{ ISSUER_0_BASE_URL: 'https://a.example.com/', ISSUER_0_AUDIENCE: 'a' }, /^ISSUER_0_BASE_URL: issuers are numbered 1 to 20/],
    [{ ISSUER_01_BASE_URL: 'https://a.example.com/' }, /^ISSUER_01_BASE_URL: issuers are numbered 1 to 20, without leading zeros/],
    [{ ISSUER_1_BASE_URL: 'https://a.example.com/' }, /^ISSUER_1_AUDIENCE is required with ISSUER_1_BASE_URL/],
    [{ ISSUER_1_AUDIENCE: 'a' }, /^ISSUER_1_BASE_URL is required/],
    [{ ...one, ISSUER_1_BASE_URL: 'http://a.example.com/' }, /^ISSUER_1_BASE_URL must use https:/],
    [{ ...one, ISSUER_1_JWKS_URI: 'keys' }, /^ISSUER_1_JWKS_URI must be an absolute URL/],
    [{ ...one, ISSUER_1_AUDIENCE: ' ' }, /^ISSUER_1_AUDIENCE is set but blank/],
    [{ ...one, ISSUER_1_INTROSPECTION_CLIENT_ID: 'rs' }, /^ISSUER_1_INTROSPECTION_CLIENT_SECRET is required with ISSUER_1_INTROSPECTION_CLIENT_ID/],
    [{ ...one, ISSUER_1_INTROSPECTION_ENDPOINT: 'https://a.example.com/introspect' }, /^ISSUER_1_INTROSPECTION_ENDPOINT needs ISSUER_1_INTROSPECTION_CLIENT_ID/],
    [{ ...one, ISSUER_BASE_URL: 'https://b.example.com/' }, /^ISSUER_BASE_URL does not go with the numbered ISSUER_<n>_\* variables/],
    [{ ...one, AUDIENCE: 'b' }, /^AUDIENCE does not go with the numbered/],
    [{ INTROSPECTION_CLIENT_ID: 'rs', INTROSPECTION_CLIENT_SECRET: 's' }, /^INTROSPECTION_CLIENT_ID needs ISSUER_BASE_URL or AUTH0_DOMAIN/],
    [{ ISSUER_BASE_URL: 'https://a.example.com/', AUDIENCE: 'a', INTROSPECTION_CLIENT_SECRET: 's' }, /^INTROSPECTION_CLIENT_ID is required with INTROSPECTION_CLIENT_SECRET/],
    [{ ...one, ISSUER_1_INTROSPECTION_MAX_CALLS_PER_SECOND: '10' }, /^ISSUER_1_INTROSPECTION_MAX_CALLS_PER_SECOND needs ISSUER_1_INTROSPECTION_CLIENT_ID/],
    [{ INTROSPECTION_MAX_CALLS_PER_SECOND: '10' }, /^INTROSPECTION_MAX_CALLS_PER_SECOND needs ISSUER_BASE_URL or AUTH0_DOMAIN/],
    [{
      ...one,
      ISSUER_2_BASE_URL: 'https://a.example.com',
      ISSUER_2_AUDIENCE: 'b'
    }, /^ISSUER_2_BASE_URL is ISSUER_1_BASE_URL again/]
  ]
  for (const [env, message] of cases) {
    await t.rejects(build(t, env), { name: 'ConfigError', message }, JSON.stringify(env))
  }
})

t.test('the one-issuer form takes introspection credentials too', async t => {
  const config = resolveConfig({
    ...base,
    ISSUER_BASE_URL: 'https://keycloak.example.com/realms/api',
    AUDIENCE: 'api',
    INTROSPECTION_CLIENT_ID: 'api',
    INTROSPECTION_CLIENT_SECRET: 's',
    INTROSPECTION_ENDPOINT: 'https://keycloak.example.com/realms/api/protocol/openid-connect/token/introspect'
  })
  t.same(config.auth?.introspection, { clientId: 'api', clientSecret: 's', endpoint: 'https://keycloak.example.com/realms/api/protocol/openid-connect/token/introspect' })
})

t.test('INTROSPECTION_MAX_CALLS_PER_SECOND sets the rate of introspection calls; a bad one stops start-up naming it', async t => {
  const one = { ...base, ISSUER_BASE_URL: 'https://a.example.com/', AUDIENCE: 'a', INTROSPECTION_CLIENT_ID: 'api', INTROSPECTION_CLIENT_SECRET: 's' }
  t.equal(resolveConfig(one).auth?.introspection?.maxCallsPerSecond, undefined, 'unset: the plugin\'s default')
  t.equal(resolveConfig({ ...one, INTROSPECTION_MAX_CALLS_PER_SECOND: '200' }).auth?.introspection?.maxCallsPerSecond, 200)
  t.equal(resolveConfig({ ...one, INTROSPECTION_MAX_CALLS_PER_SECOND: '0.5' }).auth?.introspection?.maxCallsPerSecond, 0.5)
  const numbered = { ISSUER_1_BASE_URL: 'https://a.example.com/', ISSUER_1_AUDIENCE: 'a', ISSUER_1_INTROSPECTION_CLIENT_ID: 'api', ISSUER_1_INTROSPECTION_CLIENT_SECRET: 's' }
  const several = resolveConfig(base, { ...numbered, ISSUER_1_INTROSPECTION_MAX_CALLS_PER_SECOND: '20' }).auth?.issuers
  t.equal(several?.[0]?.introspection?.maxCallsPerSecond, 20)
  for (const bad of ['0', '-5', 'ten', '1e3', '0.001', ' ']) {
    t.throws(() => resolveConfig({ ...one, INTROSPECTION_MAX_CALLS_PER_SECOND: bad }), {
      name: 'ConfigError',
      message: bad.trim() === '' ? /^INTROSPECTION_MAX_CALLS_PER_SECOND is set but blank/ : /^INTROSPECTION_MAX_CALLS_PER_SECOND must be a number of introspection calls a second, at least 0\.01/
    }, bad)
    t.throws(() => resolveConfig(base, { ...numbered, ISSUER_1_INTROSPECTION_MAX_CALLS_PER_SECOND: bad }), {
      name: 'ConfigError',
      message: bad.trim() === '' ? /^ISSUER_1_INTROSPECTION_MAX_CALLS_PER_SECOND is set but blank/ : /^ISSUER_1_INTROSPECTION_MAX_CALLS_PER_SECOND must be a number/
    }, `ISSUER_1_ ${bad}`)
  }
})

t.test('PERMISSIONS_CLAIM takes claim paths, comma-separated; a bad one stops start-up naming it', async t => {
  const config = (value: string) => resolveConfig({ ...base, ISSUER_BASE_URL: 'https://idp.example.com/', AUDIENCE: 'a', PERMISSIONS_CLAIM: value }).permissionsClaim
  t.equal(resolveConfig({ ...base, ISSUER_BASE_URL: 'https://idp.example.com/', AUDIENCE: 'a' }).permissionsClaim, undefined, 'unset: the plugin\'s default')
  t.same(config('realm_access.roles'), [['realm_access', 'roles']])
  t.same(config('roles, scp'), [['roles'], ['scp']])
  t.same(config('cognito:groups,scope'), [['cognito:groups'], ['scope']])
  t.same(config('resource_access["api.example.com"].roles,["https://example.com/roles"]'), [['resource_access', 'api.example.com', 'roles'], ['https://example.com/roles']])
  for (const bad of ['', 'realm_access..roles', 'roles,', 'a b', '__proto__.roles', '["unterminated']) {
    t.throws(() => config(bad), { name: 'ConfigError', message: /^PERMISSIONS_CLAIM / }, JSON.stringify(bad))
  }
})

t.test('ISSUER_<n>_PERMISSIONS_CLAIM gives one issuer its own claim paths; a bad one names the variable', async t => {
  const env = {
    ...base,
    ISSUER_1_BASE_URL: 'https://tenant.us.auth0.com/',
    ISSUER_1_AUDIENCE: 'https://hello-world.example.com',
    ISSUER_2_BASE_URL: 'https://keycloak.example.com/realms/staff',
    ISSUER_2_AUDIENCE: 'hello-world-api',
    ISSUER_2_PERMISSIONS_CLAIM: 'realm_access.roles, resource_access["api.example.com"].roles'
  }
  const issuers = resolveConfig(env).auth?.issuers
  t.equal(issuers?.[0]?.permissionsClaim, undefined, 'the first issuer keeps PERMISSIONS_CLAIM or the default')
  t.same(issuers?.[1]?.permissionsClaim, [['realm_access', 'roles'], ['resource_access', 'api.example.com', 'roles']])
  t.throws(() => resolveConfig({ ...env, ISSUER_2_PERMISSIONS_CLAIM: 'realm_access..roles' }), { name: 'ConfigError', message: /^ISSUER_2_PERMISSIONS_CLAIM has no claim name/ })
})
