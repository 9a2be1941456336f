import t from 'tap'
import { ConfigError, loadConfig } from '../../config/index.js'

const issuer = { ISSUER_BASE_URL: 'https://idp.example.com/', AUDIENCE: 'https://api.example.com' }

t.test('ADMIN_ACR_VALUES and ADMIN_MAX_AGE are off by default', async t => {
  t.equal(loadConfig(issuer).adminAuthContext, undefined)
})

t.test('ADMIN_ACR_VALUES is a space-separated list; ADMIN_MAX_AGE seconds; each alone or both', async t => {
  t.same(loadConfig({ ...issuer, ADMIN_ACR_VALUES: ' urn:a  urn:b ' }).adminAuthContext, { acrValues: ['urn:a', 'urn:b'] })
  t.same(loadConfig({ ...issuer, ADMIN_MAX_AGE: '300' }).adminAuthContext, { maxAge: 300 })
  t.same(loadConfig({ ...issuer, ADMIN_ACR_VALUES: 'urn:a', ADMIN_MAX_AGE: '0' }).adminAuthContext, { acrValues: ['urn:a'], maxAge: 0 })
})

t.test('a bad ADMIN_ACR_VALUES or ADMIN_MAX_AGE stops start-up naming the variable', async t => {
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ ADMIN_ACR_VALUES: '' }, /^ADMIN_ACR_VALUES is set but blank/],
    [{ ADMIN_ACR_VALUES: '  ' }, /^ADMIN_ACR_VALUES is set but blank/],
    [{ ADMIN_ACR_VALUES: 'urn:"a"' }, /^ADMIN_ACR_VALUES has "urn:\\"a\\"": acr values are separated by spaces/],
    [{ ADMIN_MAX_AGE: 'five minutes' }, /^ADMIN_MAX_AGE must be integer/],
    [{ ADMIN_MAX_AGE: '1.5' }, /^ADMIN_MAX_AGE must be integer/],
    [{ ADMIN_MAX_AGE: '-1' }, /^ADMIN_MAX_AGE must be >= 0/],
    [{ ADMIN_MAX_AGE: '300000000' }, /^ADMIN_MAX_AGE must be <= 31622400/]
  ]
  for (const [env, message] of cases) {
    t.throws(() => loadConfig({ ...issuer, ...env }), { name: 'ConfigError', message }, JSON.stringify(env))
  }
  t.ok(new ConfigError('x') instanceof Error)
})
