import t from 'tap'
import { resolveConfig, type Env } from '../../config/index.js'
import { build } from '../helper.js'

const base: Env = { PORT: 6060, HOST: 'localhost', LOG_LEVEL: 'info', CLIENT_ORIGIN_URL: 'http://localhost:4040', LOCAL_ISSUER_DATA: '.local-issuer', DPOP: 'allowed', DPOP_NONCE: 'off', ISSUER_BASE_URL: 'https://idp.example.com/', AUDIENCE: 'a' }
const issuer = { ISSUER_BASE_URL: 'https://idp.example.com/', AUDIENCE: 'a' }

t.test('a bad metrics setting stops start-up with a message naming the variable', async t => {
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ PORT: '7000', METRICS_PORT: '7000' }, /^METRICS_PORT must differ from PORT \(7000\)/],
    [{ METRICS_PORT: 'x' }, /^METRICS_PORT must be integer/],
    [{ METRICS_PORT: '70000' }, /^METRICS_PORT must be <= 65535/],
    [{ METRICS_HOST: '0.0.0.0' }, /^METRICS_HOST is set but METRICS_PORT is not/],
    [{ METRICS_PORT: '9464', METRICS_HOST: ' ' }, /^METRICS_HOST is set but blank/]
  ]
  for (const [env, message] of cases) {
    await t.rejects(build(t, { ...issuer, ...env }), { name: 'ConfigError', message }, JSON.stringify(env))
  }
  t.throws(() => resolveConfig({ ...base, METRICS_PORT: 6061, LOCAL_ISSUER_PORT: 6061 }), { message: /^METRICS_PORT must differ from LOCAL_ISSUER_PORT/ })
})

t.test('metrics are off unless METRICS_PORT is set, and listen on loopback by default', async t => {
  t.equal(resolveConfig(base).metrics, undefined)
  t.same(resolveConfig({ ...base, METRICS_PORT: 9464 }).metrics, { port: 9464, host: '127.0.0.1' })
  t.same(resolveConfig({ ...base, METRICS_PORT: 9464, METRICS_HOST: '0.0.0.0' }).metrics, { port: 9464, host: '0.0.0.0' })
})
