import Fastify, { type FastifyInstance } from 'fastify'
import t, { type Test } from 'tap'
import { serializeRequest } from '../../logging/redaction.js'
import { deferredChildLogger } from '../../logging/request-logger.js'

type Line = Record<string, unknown>

/** An app with server.ts's logger options at `level`, its log lines collected; the request loggers deferred or not. */
async function appLogging (t: Test, level: string, deferred: boolean, lines: Line[]): Promise<FastifyInstance> {
  const app = Fastify({
    logger: {
      level,
      redact: ['req.headers.authorization', 'err.rawPacket'],
      serializers: { req: serializeRequest },
      stream: { write: (line: string) => { lines.push(JSON.parse(line)) } }
    },
    ...(deferred ? { childLoggerFactory: deferredChildLogger } : {})
  })
  t.teardown(() => app.close())
  app.get('/quiet', async () => ({ ok: true }))
  app.get('/logs', async request => {
    request.log.trace('trace line')
    request.log.debug({ detail: 1 }, 'debug line')
    request.log.info('info line %s', 'formatted')
    request.log.warn({ warning: true }, 'warn line')
    request.log.error(new Error('an error object'))
    return { ok: true }
  })
  app.get('/child', async request => {
    request.log.child({ part: 'inner' }).warn('from a child')
    return { level: request.log.level, info: (request.log as unknown as { isLevelEnabled: (level: string) => boolean }).isLevelEnabled('info') }
  })
  app.get('/louder', { logLevel: 'debug' }, async request => {
    request.log.debug('route at debug')
    return { ok: true }
  })
  app.get('/fails', async () => { throw new Error('boom') })
  app.get('/relevel', async request => {
    request.log.level = 'trace'
    request.log.trace('after raising this request\'s level')
    return { ok: true }
  })
  await app.ready()
  return app
}

// What differs between two runs of the same requests whatever the factory.
const comparable = (lines: Line[]) => lines.map(({ time, pid, hostname, responseTime, ...rest }) => {
  const err = rest.err as { stack?: string } | undefined
  return err === undefined ? rest : { ...rest, err: { ...err, stack: err.stack?.split('\n')[0] } }
})

for (const level of ['fatal', 'error', 'warn', 'info', 'debug', 'trace']) {
  t.test(`at ${level}, request loggers made on first use write exactly the lines Fastify's own would`, async t => {
    const expected: Line[] = []
    const actual: Line[] = []
    const plain = await appLogging(t, level, false, expected)
    const deferred = await appLogging(t, level, true, actual)
    for (const app of [plain, deferred]) {
      for (const url of ['/quiet', '/logs', '/child', '/louder', '/fails', '/nope', '/relevel', '/logs']) {
        await app.inject({ url, headers: { authorization: 'Bearer secret-token' } })
      }
    }
    t.same(comparable(actual), comparable(expected))
    t.ok(actual.every(line => line.msg === 'Server listening' || typeof line.reqId === 'string' || line.reqId === undefined), 'lines carry their reqId')
    if (level === 'warn') t.ok(actual.some(line => line.msg === 'from a child' && line.reqId !== undefined && line.part === 'inner'), 'a child of the request logger has both bindings')
    t.notMatch(JSON.stringify(actual), 'secret-token')
  })
}
