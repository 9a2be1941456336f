import { mkdtempSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { Messages } from '../../routes/messages.js'
import { createPkce, tokenRequest } from '../fixtures/local-login.js'
import { launchChromium } from '../fixtures/browser.js'
import { requires } from '../fixtures/requires.js'
import { build } from '../helper.js'

t.test('in a real browser, the admin signs in on the local issuer and sees the admin message', requires('chromium'), async t => {
  // A minimal client app: a sign-in link, and a callback that exchanges the code and calls the API.
  const pkce = createPkce()
  let apiOrigin = ''
  let issuer = ''
  let audience = ''
  const client = createServer((req, res) => {
    const url = new URL(req.url ?? '/', clientOrigin)
    const html = (body: string) => res.writeHead(200, { 'content-type': 'text/html' }).end(`<!doctype html><title>client</title>${body}`)
    if (url.pathname === '/') {
      const authorize = new URL(`authorize?${new URLSearchParams({
        client_id: 'local-spa',
response_type: 'code',
redirect_uri: `${clientOrigin}/callback`,
scope: 'openid offline_access read:admin-messages',
        audience,
state: 'browser-test',
code_challenge: pkce.challenge,
code_challenge_method: 'S256'
      })}`, issuer)
      return html(`<a id="login" href="${authorize.href}">Log in</a>`)
    }
    if (url.pathname === '/callback') {
      tokenRequest(issuer, { grant_type: 'authorization_code', code: url.searchParams.get('code') ?? '', code_verifier: pkce.verifier, redirect_uri: `${clientOrigin}/callback`, client_id: 'local-spa' })
        .then(async ({ body }) => {
          const api = await fetch(`${apiOrigin}/api/messages/admin`, { headers: { authorization: `Bearer ${body.access_token}` } })
          const { message } = await api.json() as { message: string }
          html(`<p id="status">${api.status}</p><p id="message">${message}</p>`)
        }, (error: Error) => html(`<p id="message">${error.message}</p>`))
      return
    }
    res.writeHead(404).end()
  })
  await new Promise<void>(resolve => client.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { client.close() })
  const clientOrigin = `http://127.0.0.1:${(client.address() as AddressInfo).port}`

  const app = await build(t, {
    LOCAL_ISSUER_PORT: '0',
    LOCAL_ISSUER_DATA: mkdtempSync(join(tmpdir(), 'local-issuer-')),
    CLIENT_ORIGIN_URL: clientOrigin
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  apiOrigin = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
  issuer = app.localIssuer!.issuer
  audience = app.localIssuer!.audience
  const password = app.localIssuer!.created!.passwords.admin!

  const browser = await launchChromium(t)
  const page = await browser.newPage()
  await page.goto(clientOrigin)
  await page.click('#login')
  await page.fill('#username', 'admin')
  await page.fill('#password', password)
  await page.click('button[type=submit]')
  await page.waitForSelector('text=Allow access?')
  await page.click('button[type=submit]')
  await page.waitForSelector('#message')
  t.equal(await page.textContent('#status'), '200')
  t.equal(await page.textContent('#message'), Messages.admin)
  if (process.env.BROWSER_SCREENSHOT) await page.screenshot({ path: process.env.BROWSER_SCREENSHOT })
})
