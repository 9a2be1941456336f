import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { compiled, idpFor, plainNode } from './helper.js'

// Each test starts its own child process on port 0: they run side by side.
t.jobs = 4

// The compiled server.ts in a child process, as `npm start` runs it.
const SERVER = compiled('server')

function startServer (env: Record<string, string>) {
  const child = spawn(...plainNode([SERVER]), {
    cwd: mkdtempSync(join(tmpdir(), 'server-test-')),
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', chunk => { stdout += chunk })
  child.stderr.on('data', chunk => { stderr += chunk })
  // 'close', not 'exit': it comes after the child's output has been read to the end.
  const exited = new Promise<number | null>(resolve => child.on('close', code => resolve(code)))
  /** The first match of the pattern in the server's output, as soon as it prints it (no deadline: tap's timeout is the bound). */
  const printed = (pattern: RegExp) => new Promise<string>((resolve, reject) => {
    const check = () => {
      const match = pattern.exec(stdout)
      if (match) resolve(match[1] as string)
    }
    check()
    child.stdout.on('data', check)
    exited.then(code => reject(new Error(`exited ${code} before printing ${pattern}: ${stderr}${stdout.slice(-2000)}`)))
  })
  const listening = printed(/Server listening at (http:\/\/127\.0\.0\.1:\d+)/)
  listening.catch(() => {}) // awaited only by the tests that expect a start
  return { child, exited, listening, printed, output: () => ({ stdout, stderr }) }
}

t.test('a configuration error stops start-up with one line naming the variable, exit code 1', async t => {
  const server = startServer({ ISSUER_BASE_URL: 'https://idp.example.com/' })
  t.equal(await server.exited, 1)
  const { stderr } = server.output()
  t.equal(stderr.trim(), 'Configuration error: AUDIENCE is required with ISSUER_BASE_URL: the API identifier tokens are issued for')
  t.notMatch(stderr, /\n\s+at /, 'no stack trace')
})

t.test('NODE_ENV=production with no issuer configured stops start-up instead of running the local issuer', async t => {
  const server = startServer({ NODE_ENV: 'production', PORT: '0', HOST: '127.0.0.1' })
  t.equal(await server.exited, 1)
  const { stdout, stderr } = server.output()
  t.equal(stderr, 'Configuration error: NODE_ENV is production but no issuer is set: configure ISSUER_BASE_URL or AUTH0_DOMAIN (the local development issuer never runs in production)\n')
  t.notMatch(stdout, /Local development issuer/)
})

t.test('a blank ISSUER_BASE_URL stops start-up naming it, even outside production', async t => {
  const server = startServer({ ISSUER_BASE_URL: '  ', PORT: '0', HOST: '127.0.0.1' })
  t.equal(await server.exited, 1)
  t.equal(server.output().stderr, 'Configuration error: ISSUER_BASE_URL is set but blank: give it a value, or unset it\n')
})

t.test('with nothing set and no NODE_ENV, the local development issuer still runs', async t => {
  const server = startServer({ PORT: '0', HOST: '127.0.0.1' })
  t.teardown(() => { server.child.kill('SIGKILL') })
  await server.listening
  server.child.kill('SIGTERM')
  t.equal(await server.exited, 0)
  t.match(server.output().stdout, /Local development issuer \(NOT for production\): http:\/\/127\.0\.0\.1:\d+\//)
})

t.test('an unknown LOG_LEVEL stops start-up naming LOG_LEVEL', async t => {
  const server = startServer({ LOG_LEVEL: 'loud' })
  t.equal(await server.exited, 1)
  t.match(server.output().stderr, /^Configuration error: LOG_LEVEL must be one of/)
})

t.test('a bad TRUST_PROXY stops start-up naming TRUST_PROXY', async t => {
  const server = startServer({ TRUST_PROXY: 'yes' })
  t.equal(await server.exited, 1)
  t.match(server.output().stderr, /^Configuration error: TRUST_PROXY must be true, or proxy addresses\/CIDRs/)
})

t.test('TRUST_PROXY as a hop count stops start-up naming TRUST_PROXY and what to use instead', async t => {
  const server = startServer({ TRUST_PROXY: '2', ISSUER_BASE_URL: 'https://idp.example.com/', AUDIENCE: 'a' })
  t.equal(await server.exited, 1)
  t.match(server.output().stderr, /^Configuration error: TRUST_PROXY must not be a hop count \(got "2"\).*addresses or CIDRs.*\n$/)
  t.equal(server.output().stderr.split('\n').length, 2, 'one line')
})

t.test('an Okta org authorization server stops start-up with one line saying what to use instead', async t => {
  const org = await idpFor(t, { path: '', jwksPath: '/oauth2/v1/keys' })
  const server = startServer({ ISSUER_BASE_URL: org.issuer, AUDIENCE: 'api://default', PORT: '0', HOST: '127.0.0.1' })
  t.equal(await server.exited, 1)
  t.match(server.output().stderr, /^Configuration error: http:\/\/127\.0\.0\.1:\d+ is an Okta org authorization server, .*: use a custom authorization server \(http:\/\/127\.0\.0\.1:\d+\/oauth2\/default or …\/oauth2\/<id>\)\n$/)
})

t.test('over real HTTP: serves the API, never logs the token, closes on SIGTERM', async t => {
  const idp = await idpFor(t)
  const server = startServer({ ISSUER_BASE_URL: idp.issuer, AUDIENCE: idp.audience, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'trace' })
  t.teardown(() => { server.child.kill('SIGKILL') })
  const address = await server.listening
  const token = idp.sign({ permissions: ['read:admin-messages'] })

  const admin = await fetch(`${address}/api/messages/admin`, { headers: { authorization: `Bearer ${token}` } })
  t.equal(admin.status, 200)
  t.same(await admin.json(), { message: 'The API successfully recognized you as an admin.' })
  const rejected = await fetch(`${address}/api/messages/admin`, { headers: { authorization: `Bearer ${token}x` } })
  t.equal(rejected.status, 401)
  // A malformed request: Fastify logs the client error at trace with the raw bytes received.
  const malformed = connect(Number(new URL(address).port), '127.0.0.1')
  malformed.end(`GET /api/messages/admin HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${token}\r\nBad Header\r\n\r\n`)
  malformed.resume()
  await once(malformed, 'close')

  server.child.kill('SIGTERM')
  t.equal(await server.exited, 0, 'exits cleanly on SIGTERM')
  const { stdout } = server.output()
  t.match(stdout, /"url":"\/api\/messages\/admin"/, 'requests are logged')
  t.notMatch(stdout, token.split('.')[2] as string, 'the token is not in the log')
  t.match(stdout, '"msg":"client error"', 'the malformed request is logged')
  t.notMatch(stdout, '"rawPacket":{', 'without the raw bytes, which hold the token')
})

t.test('over real HTTP at LOG_LEVEL=info: a token in the query string is redacted from the log, the rest of the URL kept', async t => {
  const idp = await idpFor(t)
  const server = startServer({ ISSUER_BASE_URL: idp.issuer, AUDIENCE: idp.audience, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info' })
  t.teardown(() => { server.child.kill('SIGKILL') })
  const address = await server.listening

  const protectedRoute = await fetch(`${address}/api/messages/protected?access_token=SECRETVALUE&x=1`)
  t.equal(protectedRoute.status, 401, 'a token in the URL is not accepted')
  const unknownRoute = await fetch(`${address}/no-such-route?x=1&Refresh_Token=SECRETVALUE`)
  t.equal(unknownRoute.status, 404)
  const badUrl = await fetch(`${address}/api/messages/%E0%A4%A?access_token=SECRETVALUE`)
  t.equal(badUrl.status, 400)

  server.child.kill('SIGTERM')
  t.equal(await server.exited, 0)
  const { stdout, stderr } = server.output()
  t.match(stdout, '"url":"/api/messages/protected?access_token=[REDACTED]&x=1"', 'the path and other parameters are kept')
  t.match(stdout, '"url":"/no-such-route?x=1&Refresh_Token=[REDACTED]"')
  t.notMatch(stdout + stderr, 'SECRETVALUE', 'the token is in no log line')
})

t.test('a discovery document naming another issuer stops start-up with one Configuration error line', async t => {
  const idp = await idpFor(t)
  idp.discoveryIssuer = 'https://evil.example/'
  const server = startServer({ ISSUER_BASE_URL: idp.issuer, AUDIENCE: idp.audience, PORT: '0', HOST: '127.0.0.1' })
  t.teardown(() => { server.child.kill('SIGKILL') })
  t.equal(await server.exited, 1)
  const { stderr } = server.output()
  t.equal(stderr.trim(), `Configuration error: The issuer's discovery document names issuer "https://evil.example/", not the configured ${idp.issuer}`)
})

t.test('over real HTTP with METRICS_PORT: metrics on their own loopback port, not on the API\'s, both closed on SIGTERM', async t => {
  const idp = await idpFor(t)
  const server = startServer({ ISSUER_BASE_URL: idp.issuer, AUDIENCE: idp.audience, PORT: '0', HOST: '127.0.0.1', METRICS_PORT: '0' })
  t.teardown(() => { server.child.kill('SIGKILL') })
  const address = await server.listening
  const metricsUrl = await server.printed(/Metrics listening at (http:\/\/127\.0\.0\.1:\d+\/metrics)/)
  t.ok(metricsUrl, 'the metrics listener is on loopback')

  t.equal((await fetch(`${address}/api/messages/protected`, { headers: { authorization: `Bearer ${idp.sign()}` } })).status, 200)
  const scrape = await fetch(metricsUrl)
  t.equal(scrape.status, 200)
  t.match(await scrape.text(), /^oauth_auth_decisions_total\{outcome="accepted",reason="valid"\} 1$/m)
  t.equal((await fetch(`${address}/metrics`)).status, 404, 'not on the API\'s port')

  server.child.kill('SIGTERM')
  t.equal(await server.exited, 0, 'exits cleanly on SIGTERM')
  await t.rejects(fetch(metricsUrl), 'the metrics listener is closed too')
})
