import t from 'tap'
import { CookieJar, createPkce } from '../fixtures/local-login.js'
import { buildLocal, REDIRECT_URI } from './build-local.js'

const EVIL = 'http://evil.example'

/** Starts a sign-in as a browser would, up to the login form: its URL and the cookie jar. */
async function startSignIn (issuer: string, audience: string) {
  const jar = new CookieJar()
  const start = await fetch(new URL(`authorize?${new URLSearchParams({
    client_id: 'local-spa', response_type: 'code', redirect_uri: REDIRECT_URI, scope: 'openid read:admin-messages', audience, code_challenge: createPkce().challenge, code_challenge_method: 'S256'
  })}`, issuer), { redirect: 'manual' })
  jar.store(start)
  return { jar, interaction: new URL(start.headers.get('location')!, issuer) }
}

async function post (url: URL, jar: CookieJar, headers: Record<string, string>, form: Record<string, string> = {}) {
  const response = await fetch(url, {
    method: 'POST',
    redirect: 'manual',
    headers: { cookie: jar.header(), 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(form)
  })
  return { response, html: await response.text() }
}

t.test('a login form posted from another site gets 403 and signs no one in', async t => {
  const { local, created } = await buildLocal(t)
  const { admin } = created!.passwords as { admin: string }
  const { jar, interaction } = await startSignIn(local.issuer, local.audience)
  const login = new URL(`${interaction.pathname}/login`, local.issuer)
  const credentials = { username: 'admin', password: admin }

  const foreign: Array<Record<string, string>> = [
    { origin: EVIL },
    { origin: 'null' },
    { 'sec-fetch-site': 'cross-site' },
    { origin: new URL(local.issuer).origin, 'sec-fetch-site': 'same-site' }
  ]
  for (const headers of foreign) {
    const { response, html } = await post(login, jar, headers, credentials)
    t.equal(response.status, 403, JSON.stringify(headers))
    t.match(html, 'sent from another site')
    t.equal(response.headers.get('location'), null, 'the sign-in did not go on')
    t.same(response.headers.getSetCookie(), [], 'no session cookie')
  }

  // The same interaction, from the issuer's own page, still signs in: only the origin was refused.
  const own = await post(login, jar, { origin: new URL(local.issuer).origin, 'sec-fetch-site': 'same-origin' }, credentials)
  t.equal(own.response.status, 303)
  t.match(own.response.headers.get('location'), /\/authorize\//)
})

t.test('a consent form posted from another site gets 403', async t => {
  const { local, created } = await buildLocal(t)
  const { admin } = created!.passwords as { admin: string }
  const { jar, interaction } = await startSignIn(local.issuer, local.audience)
  const origin = new URL(local.issuer).origin
  const signedIn = await post(new URL(`${interaction.pathname}/login`, local.issuer), jar, { origin }, { username: 'admin', password: admin })
  jar.store(signedIn.response)
  const resumed = await fetch(new URL(signedIn.response.headers.get('location')!, local.issuer), { redirect: 'manual', headers: { cookie: jar.header() } })
  jar.store(resumed)
  const consent = new URL(resumed.headers.get('location')!, local.issuer)
  t.match((await (await fetch(consent, { headers: { cookie: jar.header() } })).text()), 'Allow access?')

  const foreign = await post(new URL(`${consent.pathname}/confirm`, local.issuer), jar, { origin: EVIL })
  t.equal(foreign.response.status, 403)
  t.equal(foreign.response.headers.get('location'), null)
  const own = await post(new URL(`${consent.pathname}/confirm`, local.issuer), jar, { origin })
  t.equal(own.response.status, 303, 'from the issuer\'s own page, consent goes on')
})

t.test('every page the issuer serves refuses to be framed', async t => {
  const { local } = await buildLocal(t)
  const html = { accept: 'text/html' }
  const pages: Array<[string, string]> = [
    ['its error page', `authorize?${new URLSearchParams({ client_id: 'unknown', response_type: 'code', scope: 'openid' })}`],
    ['the logout page', 'v2/logout'],
    ['an interaction error page', 'interaction/nope'],
    ['discovery', '.well-known/openid-configuration']
  ]
  for (const [name, path] of pages) {
    const res = await fetch(new URL(path, local.issuer), { headers: html, redirect: 'manual' })
    await res.arrayBuffer()
    t.match(String(res.headers.get('content-security-policy')), "frame-ancestors 'none'", `${name}: ${res.status}`)
    t.equal(res.headers.get('x-frame-options'), 'DENY', name)
  }
})
