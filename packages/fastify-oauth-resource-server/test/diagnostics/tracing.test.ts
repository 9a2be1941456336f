import { randomUUID } from 'node:crypto'
import { context, trace } from '@opentelemetry/api'
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks'
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider, type ReadableSpan } from '@opentelemetry/sdk-trace'
import Fastify from 'fastify'
import t from 'tap'
import auth, { SpanNames, TRACER_NAME } from '../../src/index.js'
import { forgeToken, startIntrospectionServer } from '../../src/testing/index.js'
import { bearer, buildBare, idpFor } from '../helper.js'
import { createHolder, dpop, makeProof } from '../dpop/holder.js'

// A real SDK, as an app registers it before it is ready: spans kept in memory.
const exporter = new InMemorySpanExporter()
const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] })
const register = () => trace.setGlobalTracerProvider(provider)
register()
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable())

/** A span and the spans under it, as a tree of names and attributes. */
interface Node {
  name: string
  attributes: Record<string, unknown>
  children: Node[]
}

/** The finished spans, once the processor has handed them over (it exports asynchronously). */
async function finished (): Promise<ReadableSpan[]> {
  await provider.forceFlush()
  return exporter.getFinishedSpans()
}

/** The plugin's finished spans as trees, roots first, children in start order; the exporter emptied. */
async function takeTrees (): Promise<Node[]> {
  const spans = (await finished()).filter(span => span.instrumentationScope.name === TRACER_NAME || span.name === 'request')
  exporter.reset()
  const ids = new Set(spans.map(span => span.spanContext().spanId))
  const byStart = (a: ReadableSpan, b: ReadableSpan) => a.startTime[0] - b.startTime[0] || a.startTime[1] - b.startTime[1]
  const tree = (span: ReadableSpan): Node => ({
    name: span.name,
    attributes: { ...span.attributes },
    children: spans.filter(child => child.parentSpanContext?.spanId === span.spanContext().spanId).sort(byStart).map(tree)
  })
  return spans.filter(span => span.parentSpanContext === undefined || !ids.has(span.parentSpanContext.spanId)).sort(byStart).map(tree)
}

const now = () => Math.floor(Date.now() / 1000)
const ORIGIN = 'http://localhost'

t.beforeEach(() => { exporter.reset() })

t.test('a granted request: the authenticate span holds the token\'s verification, with issuer, outcome and cache result', async t => {
  const idp = await idpFor(t)
  const app = await buildBare(t, idp)
  await takeTrees()
  const token = idp.sign({ sub: 'alice' })
  t.equal((await app.inject({ url: '/me', headers: bearer(token) })).statusCode, 200)
  t.match((await takeTrees()), [{
    name: SpanNames.authenticate,
    attributes: { 'oauth.scheme': 'Bearer', 'oauth.outcome': 'accepted', 'oauth.reason': 'valid', 'oauth.issuer': String },
    children: [{ name: SpanNames.verifyToken, attributes: { 'oauth.outcome': 'accepted', 'oauth.reason': 'valid', 'oauth.token_cache': 'miss' }, children: [] }]
  }])

  // Stored on its second verification, answered from the cache on the third.
  await app.inject({ url: '/me', headers: bearer(token) })
  await takeTrees()
  await app.inject({ url: '/me', headers: bearer(token) })
  const [third] = (await takeTrees())
  t.equal(third?.children[0]?.attributes['oauth.token_cache'], 'hit')
})

t.test('the issuer attribute is the configured issuer that verified the token', async t => {
  const idp = await idpFor(t)
  const app = await buildBare(t, idp)
  await takeTrees()
  await app.inject({ url: '/me', headers: bearer(idp.sign()) })
  const [root] = (await takeTrees())
  t.ok([idp.issuer, idp.issuer.replace(/\/$/, '')].includes(root?.attributes['oauth.issuer'] as string), String(root?.attributes['oauth.issuer']))
  t.equal(root?.children[0]?.attributes['oauth.issuer'], root?.attributes['oauth.issuer'])
})

t.test('an expired token: refused with reason expired on both spans', async t => {
  const idp = await idpFor(t)
  const app = await buildBare(t, idp)
  await takeTrees()
  t.equal((await app.inject({ url: '/me', headers: bearer(idp.sign({ exp: now() - 60 })) })).statusCode, 401)
  t.match((await takeTrees()), [{
    name: SpanNames.authenticate,
    attributes: { 'oauth.outcome': 'refused', 'oauth.reason': 'expired', 'oauth.issuer': String },
    children: [{ name: SpanNames.verifyToken, attributes: { 'oauth.outcome': 'refused', 'oauth.reason': 'expired' } }]
  }])
})

t.test('a forged signature: refused with reason signature', async t => {
  const idp = await idpFor(t)
  const app = await buildBare(t, idp)
  await takeTrees()
  await app.inject({ url: '/me', headers: bearer(idp.sign().replace(/[^.]+$/, 'c2ln')) })
  t.match((await takeTrees()), [{
    attributes: { 'oauth.outcome': 'refused', 'oauth.reason': 'signature' },
    children: [{ name: SpanNames.verifyToken, attributes: { 'oauth.reason': 'signature' } }]
  }])
})

t.test('a token from an unknown issuer: refused, and no issuer attribute (the unverified iss is never one)', async t => {
  const idp = await idpFor(t)
  const app = await buildBare(t, idp)
  await takeTrees()
  await app.inject({ url: '/me', headers: bearer(idp.sign({ iss: 'https://attacker.example/' })) })
  const trees = (await takeTrees())
  t.match(trees, [{ attributes: { 'oauth.reason': 'issuer' }, children: [{ attributes: { 'oauth.reason': 'issuer' } }] }])
  t.notOk('oauth.issuer' in (trees[0]?.attributes ?? {}))
  t.notOk('oauth.issuer' in (trees[0]?.children[0]?.attributes ?? {}))
})

t.test('a token signed by a key the set does not hold yet: the key-set fetch nests under its verification', async t => {
  const idp = await idpFor(t)
  const app = await buildBare(t, idp, { keys: { cooldown: 0 } })
  await takeTrees()
  idp.rotateKey()
  t.equal((await app.inject({ url: '/me', headers: bearer(idp.sign()) })).statusCode, 200)
  t.match((await takeTrees()), [{
    name: SpanNames.authenticate,
    attributes: { 'oauth.outcome': 'accepted' },
    children: [{
      name: SpanNames.verifyToken,
      attributes: { 'oauth.outcome': 'accepted' },
      children: [{ name: SpanNames.keySetFetch, attributes: { 'oauth.issuer': idp.issuer, 'oauth.key_set.result': 'loaded', 'oauth.key_set.keys': Number } }]
    }]
  }])

  // A kid the issuer never published: refused as unknownKey after the fetch.
  await app.inject({ url: '/me', headers: bearer(forgeToken({ alg: 'RS256', kid: 'nobody', typ: 'JWT' }, { iss: idp.issuer, aud: idp.audience, exp: now() + 60 }, 'c2ln')) })
  t.match((await takeTrees()), [{
    attributes: { 'oauth.reason': 'unknownKey' },
    children: [{ name: SpanNames.verifyToken, children: [{ name: SpanNames.keySetFetch, attributes: { 'oauth.key_set.result': 'loaded' } }] }]
  }])
})

t.test('the key set unavailable: the fetch span is an error and the request is refused keys_unavailable', async t => {
  const idp = await idpFor(t)
  const app = await buildBare(t, idp, { keys: { cooldown: 0 } })
  await takeTrees()
  idp.rotateKey()
  idp.outage('down')
  t.equal((await app.inject({ url: '/me', headers: bearer(idp.sign()) })).statusCode, 503)
  const spans = (await finished())
  t.equal(spans.find(span => span.name === SpanNames.keySetFetch)?.status.code, 2, 'the fetch span has status ERROR')
  t.match((await takeTrees()), [{
    attributes: { 'oauth.reason': 'keys_unavailable' },
    children: [{ children: [{ name: SpanNames.keySetFetch, attributes: { 'oauth.key_set.result': 'failed' } }] }]
  }])
})

t.test('an opaque token: the introspection call nests under the verification, with its result', async t => {
  const idp = await idpFor(t)
  const as = await startIntrospectionServer({ issuer: idp.issuer, audience: idp.audience })
  t.teardown(() => as.close())
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(auth, { issuer: idp.issuer, audience: idp.audience, introspection: { endpoint: as.endpoint, clientId: as.clientId, clientSecret: as.clientSecret } })
  app.get('/me', { onRequest: app.authenticate }, async () => ({ ok: true }))
  await app.ready()
  await takeTrees()

  const token = as.issue({ sub: 'alice' })
  t.equal((await app.inject({ url: '/me', headers: bearer(token) })).statusCode, 200)
  t.match((await takeTrees()), [{
    attributes: { 'oauth.outcome': 'accepted', 'oauth.issuer': String },
    children: [{
      name: SpanNames.verifyToken,
      attributes: { 'oauth.outcome': 'accepted' },
      children: [{ name: SpanNames.introspection, attributes: { 'oauth.introspection.result': 'active', 'oauth.issuer': String } }]
    }]
  }])
  t.notOk(JSON.stringify((await finished()).map(span => span.attributes)).includes(as.clientSecret))

  as.revoke(token)
  const revoked = as.issue({ sub: 'bob' })
  as.revoke(revoked)
  t.equal((await app.inject({ url: '/me', headers: bearer(revoked) })).statusCode, 401)
  t.match((await takeTrees()), [{
    attributes: { 'oauth.outcome': 'refused' },
    children: [{ children: [{ name: SpanNames.introspection, attributes: { 'oauth.introspection.result': 'inactive' } }] }]
  }])
})

t.test('DPoP: a proof checked in its own span, beside the verification; a replayed one refused there', async t => {
  const idp = await idpFor(t)
  const app = await buildBare(t, idp, { dpop: { mode: 'allowed', origin: ORIGIN } })
  const holder = await createHolder()
  const token = idp.sign({ sub: 'alice', cnf: { jkt: holder.jkt } })
  const proof = await makeProof(holder, { htu: `${ORIGIN}/me`, token })
  await takeTrees()
  t.equal((await app.inject({ url: '/me', headers: dpop(token, proof) })).statusCode, 200)
  t.match((await takeTrees()), [{
    attributes: { 'oauth.scheme': 'DPoP', 'oauth.outcome': 'accepted' },
    children: [
      { name: SpanNames.verifyToken, attributes: { 'oauth.outcome': 'accepted' }, children: [] },
      { name: SpanNames.dpopCheck, attributes: { 'oauth.outcome': 'accepted', 'oauth.reason': 'valid' }, children: [] }
    ]
  }])

  t.equal((await app.inject({ url: '/me', headers: dpop(token, proof) })).statusCode, 401)
  t.match((await takeTrees()), [{
    attributes: { 'oauth.scheme': 'DPoP', 'oauth.outcome': 'refused', 'oauth.reason': 'dpop_replayed' },
    children: [
      { name: SpanNames.verifyToken, attributes: { 'oauth.outcome': 'accepted' } },
      { name: SpanNames.dpopCheck, attributes: { 'oauth.outcome': 'refused', 'oauth.reason': 'dpop_replayed' } }
    ]
  }])

  // A bound token sent as a Bearer token: refused by the binding, with no proof to check.
  await app.inject({ url: '/me', headers: bearer(token) })
  t.match((await takeTrees()), [{ attributes: { 'oauth.scheme': 'Bearer', 'oauth.reason': 'dpop_bound' }, children: [{ name: SpanNames.verifyToken }] }])
  t.equal((await finished()).length, 0)
})

t.test('no credentials: one authenticate span, refused missing_token, with no scheme', async t => {
  const idp = await idpFor(t)
  const app = await buildBare(t, idp)
  await takeTrees()
  await app.inject({ url: '/me' })
  const trees = (await takeTrees())
  t.match(trees, [{ name: SpanNames.authenticate, attributes: { 'oauth.outcome': 'refused', 'oauth.reason': 'missing_token' }, children: [] }])
  t.notOk('oauth.scheme' in (trees[0]?.attributes ?? {}))
})

t.test('the authenticate span nests under the span active when the hook runs (a request span)', async t => {
  const idp = await idpFor(t)
  const app = await buildBare(t, idp)
  await takeTrees()
  const tracer = trace.getTracer('test')
  await tracer.startActiveSpan('request', async span => {
    await app.inject({ url: '/me', headers: bearer(idp.sign()) })
    span.end()
  })
  t.match((await takeTrees()), [{ name: 'request', children: [{ name: SpanNames.authenticate, children: [{ name: SpanNames.verifyToken }] }] }])
})

t.test('the subject is traced only when the tracing.subject option turns it on', async t => {
  const idp = await idpFor(t)
  const plain = await buildBare(t, idp)
  const withSubject = await buildBare(t, idp, { tracing: { subject: true } })
  await takeTrees()
  await plain.inject({ url: '/me', headers: bearer(idp.sign({ sub: 'alice' })) })
  t.notOk('user.id' in ((await takeTrees())[0]?.attributes ?? {}), 'off by default')
  await withSubject.inject({ url: '/me', headers: bearer(idp.sign({ sub: 'alice' })) })
  t.equal((await takeTrees())[0]?.attributes['user.id'], 'alice')
  // Never for a refused token, whose sub is unverified.
  await withSubject.inject({ url: '/me', headers: bearer(idp.sign({ sub: 'mallory', exp: now() - 60 })) })
  t.notOk('user.id' in ((await takeTrees())[0]?.attributes ?? {}))
})

t.test('tracing.subject that is not a boolean stops the plugin, naming the option', async t => {
  const idp = await idpFor(t)
  await t.rejects(buildBare(t, idp, { tracing: { subject: 'yes' as unknown as boolean } }), /auth plugin: option tracing\.subject must be true or false/)
  await t.rejects(buildBare(t, idp, { tracing: 'on' as unknown as { subject: boolean } }), /auth plugin: option tracing must be an object/)
})

t.test('an attacker\'s tokens, proofs and claims never reach an attribute: only configured issuers and fixed codes', async t => {
  const idp = await idpFor(t)
  const app = await buildBare(t, idp, { keys: { cooldown: 0 }, dpop: { mode: 'allowed', origin: ORIGIN } })
  const holder = await createHolder()
  await takeTrees()
  const secrets: string[] = []
  for (let i = 0; i < 5; i++) {
    const secret = randomUUID()
    secrets.push(secret)
    const bound = idp.sign({ sub: secret, jti: secret, cnf: { jkt: holder.jkt } })
    const tokens = [
      forgeToken({ alg: 'RS256', kid: secret }, { iss: idp.issuer, aud: idp.audience, exp: now() + 60, sub: secret }, 'c2ln'),
      idp.sign({ sub: secret, exp: now() - 60 }),
      idp.sign({ sub: secret }).replace(/[^.]+$/, 'c2ln'),
      idp.sign({ sub: secret, iss: `https://${secret}.example/` }),
      `${secret}.${secret}.${secret}`,
      idp.sign({ sub: secret, client_id: secret, scope: secret })
    ]
    for (const token of tokens) {
      secrets.push(token)
      await app.inject({ url: `/me?${secret}`, headers: { ...bearer(token), 'x-secret': secret } })
    }
    const proof = await makeProof(holder, { htu: `${ORIGIN}/me`, token: bound, claims: { jti: secret } })
    secrets.push(bound, proof)
    await app.inject({ url: '/me', headers: dpop(bound, proof) })
    await app.inject({ url: '/me', headers: dpop(bound, proof) })
  }
  const values = (await finished()).flatMap(span => Object.values(span.attributes).map(String))
  t.ok(values.length > 100, `${values.length} attribute values`)
  for (const value of values) {
    for (const secret of secrets) {
      if (value.includes(secret)) t.fail(`an attribute holds request data: ${value}`)
    }
  }
  const keys = new Set((await finished()).flatMap(span => Object.keys(span.attributes)))
  t.same([...keys].sort(), ['oauth.issuer', 'oauth.key_set.keys', 'oauth.key_set.result', 'oauth.outcome', 'oauth.reason', 'oauth.scheme', 'oauth.token_cache'])
})

t.test('with no SDK registered when the app is ready, the plugin makes no span, even once one is registered later', async t => {
  trace.disable()
  t.teardown(register)
  const idp = await idpFor(t)
  const app = await buildBare(t, idp)
  register()
  t.equal((await app.inject({ url: '/me', headers: bearer(idp.sign()) })).statusCode, 200)
  t.equal((await app.inject({ url: '/me', headers: bearer('not.a.token') })).statusCode, 401)
  t.same((await finished()).filter(span => span.instrumentationScope.name === TRACER_NAME), [])
})
