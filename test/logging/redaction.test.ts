import Fastify from 'fastify'
import t from 'tap'
import { redactUrl, serializeRequest } from '../../logging/redaction.js'

t.test('credential-looking query values become [REDACTED]; the path and other parameters stay', async t => {
  const cases: Array<[string, string]> = [
    ['/api/messages/protected?access_token=SECRET&x=1', '/api/messages/protected?access_token=[REDACTED]&x=1'],
    ['/a?x=1&ACCESS_TOKEN=SECRET', '/a?x=1&ACCESS_TOKEN=[REDACTED]'],
    ['/a?id_token=S&refresh_token=S&token=S&code=S&client_secret=S&password=S&api_key=S&Api-Key=S', '/a?id_token=[REDACTED]&refresh_token=[REDACTED]&token=[REDACTED]&code=[REDACTED]&client_secret=[REDACTED]&password=[REDACTED]&api_key=[REDACTED]&Api-Key=[REDACTED]'],
    ['/a?access%5Ftoken=SECRET', '/a?access%5Ftoken=[REDACTED]'],
    ['/a?access_token[]=SECRET&access_token', '/a?access_token[]=[REDACTED]&access_token=[REDACTED]'],
    ['/a?x=1;token=SECRET', '/a?x=1;token=[REDACTED]'],
    ['/a?access_token=SECRET=more', '/a?access_token=[REDACTED]'],
    ['/a?%E0%A4%A=1&token=SECRET', '/a?%E0%A4%A=1&token=[REDACTED]'],
    ['/access_token/x?tokens=1&mytoken=2', '/access_token/x?tokens=1&mytoken=2'],
    ['/a', '/a'],
    ['/a?', '/a?']
  ]
  for (const [url, expected] of cases) t.equal(redactUrl(url), expected, url)
})

t.test('the request serializer keeps Fastify\'s fields and redacts only the URL', async t => {
  const lines: string[] = []
  const app = Fastify({ logger: { level: 'info', stream: { write: (line: string) => lines.push(line) }, serializers: { req: serializeRequest } } })
  t.teardown(() => app.close())
  app.get('/a', async () => ({ ok: true }))
  await app.inject({ url: '/a?access_token=SECRET&x=1', headers: { host: 'api.example.com', 'accept-version': '1' } })
  const incoming = lines.map(line => JSON.parse(line)).find(entry => entry.msg === 'incoming request')
  t.same(incoming.req, { method: 'GET', url: '/a?access_token=[REDACTED]&x=1', version: '1', host: 'api.example.com', remoteAddress: '127.0.0.1' })
  t.notMatch(lines.join(''), 'SECRET')
})
