import t from 'tap'
import { resolveConfig, type Env } from '../../config/index.js'
import { build } from '../helper.js'

const base: Env = { PORT: 6060, HOST: 'localhost', LOG_LEVEL: 'info', CLIENT_ORIGIN_URL: 'http://localhost:4040', LOCAL_ISSUER_DATA: '.local-issuer', DPOP: 'allowed', DPOP_NONCE: 'off', ISSUER_BASE_URL: 'https://idp.example.com/', AUDIENCE: 'a' }
const issuer = { ISSUER_BASE_URL: 'https://idp.example.com/', AUDIENCE: 'a' }

t.test('the rate limit is off unless RATE_LIMIT_PER_MINUTE is set', async t => {
  t.equal(resolveConfig(base).rateLimit, undefined)
  t.same(resolveConfig({ ...base, RATE_LIMIT_PER_MINUTE: '600' }).rateLimit, { perMinute: 600 })
  t.same(resolveConfig({ ...base, RATE_LIMIT_PER_MINUTE: ' 1 ' }).rateLimit, { perMinute: 1 })
  t.same(resolveConfig({ ...base, RATE_LIMIT_PER_MINUTE: '1000000' }).rateLimit, { perMinute: 1_000_000 })
})

t.test('a bad RATE_LIMIT_PER_MINUTE stops start-up with a message naming it', async t => {
  for (const bad of ['0', '-5', '1.5', '10/m', 'off', '1e3', '1000001', '99999999999999999999']) {
    await t.rejects(build(t, { ...issuer, RATE_LIMIT_PER_MINUTE: bad }), {
      name: 'ConfigError',
      message: `RATE_LIMIT_PER_MINUTE must be a whole number of requests a minute from 1 to 1000000, or unset for no limit (got ${JSON.stringify(bad)})`
    }, bad)
  }
  await t.rejects(build(t, { ...issuer, RATE_LIMIT_PER_MINUTE: ' ' }), { name: 'ConfigError', message: /^RATE_LIMIT_PER_MINUTE is set but blank/ })
})

t.test('REDIS_URL is the connection every replica shares, the rate limit\'s too', async t => {
  t.equal(resolveConfig(base).redisUrl, undefined)
  t.equal(resolveConfig({ ...base, REDIS_URL: 'redis://127.0.0.1:6379', RATE_LIMIT_PER_MINUTE: '60' }).redisUrl, 'redis://127.0.0.1:6379')
})
