import { mkdtempSync, readFileSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Page } from 'playwright-core'
import t from 'tap'
import { Messages } from '../../routes/messages.js'
import { tokenRequest } from '../fixtures/local-login.js'
import { launchChromium } from '../fixtures/browser.js'
import { freePort } from '../fixtures/net.js'
import { requires } from '../fixtures/requires.js'
import { build } from '../helper.js'
import { issuer, printedSecret } from '../local-issuer/issuer-command.js'

t.test('in a real browser, a token pasted into the docs page calls /api/messages/admin', requires('chromium'), async t => {
  const dataDir = mkdtempSync(join(tmpdir(), 'local-issuer-'))
  const app = await build(t, { LOCAL_ISSUER_PORT: '0', LOCAL_ISSUER_DATA: dataDir })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const api = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
  const { machineClientSecret } = JSON.parse(readFileSync(join(dataDir, 'state.json'), 'utf8'))
  const { body } = await tokenRequest(app.localIssuer!.issuer, {
    grant_type: 'client_credentials', client_id: 'local-machine', client_secret: machineClientSecret, audience: app.localIssuer!.audience, scope: 'read:admin-messages'
  })

  const browser = await launchChromium(t)
  const page = await browser.newPage()
  const blocked: string[] = []
  page.on('console', message => { if (/Content Security Policy/i.test(message.text())) blocked.push(message.text()) })
  try {
    await page.goto(`${api}/docs`)
    await page.click('button.authorize')
    await page.fill('input[aria-label="auth-bearer-value"]', String(body.access_token))
    await page.click('.auth-container:has-text("bearerAuth") button[type=submit]')
    await page.click('button.btn-done')
    t.match(await tryAdminRoute(page), Messages.admin)
    t.same(blocked, [], 'nothing blocked by the CSP')
  } finally {
    if (process.env.BROWSER_SCREENSHOT) await page.screenshot({ path: process.env.BROWSER_SCREENSHOT, fullPage: true })
  }
})

t.test('in a real browser, the docs page signs in on the local issuer and calls /api/messages/admin', requires('chromium'), async t => {
  // A fixed port: the docs page's redirect URI is registered for PORT.
  const port = await freePort()

  const app = await build(t, { PORT: String(port), LOCAL_ISSUER_PORT: '0', LOCAL_ISSUER_DATA: mkdtempSync(join(tmpdir(), 'local-issuer-')) })
  await app.listen({ port, host: '127.0.0.1' })
  const password = app.localIssuer!.created!.passwords.admin!

  const browser = await launchChromium(t)
  const page = await browser.newPage()
  try {
    await page.goto(`http://127.0.0.1:${port}/docs`)
    await page.click('button.authorize')
    const section = page.locator('.auth-container:has-text("localIssuer")')
    await section.locator('#client_id_authorizationCode').waitFor()
    t.equal(await section.locator('#client_secret_authorizationCode').count(), 1, 'Swagger UI renders the field')
    t.notOk(await section.locator('#client_secret_authorizationCode').isVisible(), 'no client_secret field for the public client')
    await signInOnDocs(page, 'admin', password)
    t.match(await tryAdminRoute(page), Messages.admin)
  } finally {
    if (process.env.BROWSER_SCREENSHOT) await page.screenshot({ path: process.env.BROWSER_SCREENSHOT.replace(/\.png$/, '-oauth.png'), fullPage: true })
  }
})

t.test('in a real browser, a user added with npm run issuer signs in on the docs page and reads the admin message, as docs/local-issuer.md says', requires('chromium'), async t => {
  const port = await freePort()
  const dataDir = mkdtempSync(join(tmpdir(), 'local-issuer-'))
  const app = await build(t, { PORT: String(port), LOCAL_ISSUER_PORT: '0', LOCAL_ISSUER_DATA: dataDir })
  await app.listen({ port, host: '127.0.0.1' })
  // The server runs while the user is added: no restart.
  const password = printedSecret(await issuer(dataDir, ['user', 'add', 'alice', '--permission', 'read:admin-messages']))

  const browser = await launchChromium(t)
  const page = await browser.newPage()
  await page.goto(`http://127.0.0.1:${port}/docs`)
  await page.click('button.authorize')
  await signInOnDocs(page, 'alice', password)
  t.match(await tryAdminRoute(page), Messages.admin)
})

/** In the open Authorize dialog: signs in on the local issuer's popup, consents, and closes the dialog. */
async function signInOnDocs (page: Page, username: string, password: string): Promise<void> {
  const [popup] = await Promise.all([
    page.waitForEvent('popup'),
    page.locator('.auth-container:has-text("localIssuer")').locator('button.authorize').click()
  ])
  await popup.fill('#username', username)
  await popup.fill('#password', password)
  await popup.click('button[type=submit]')
  await popup.click('button[type=submit]')
  await page.getByText('Authorized', { exact: true }).waitFor()
  await page.click('button.btn-done')
}

/** "Try it out" on GET /api/messages/admin; the response body Swagger UI shows. */
async function tryAdminRoute (page: Page): Promise<string | null> {
  const operation = '#operations-messages-get_api_messages_admin'
  await page.click(`${operation} .opblock-summary`)
  await page.click(`${operation} button.try-out__btn`)
  await page.click(`${operation} button.execute`)
  const result = page.locator(`${operation} .live-responses-table .response-col_description .microlight`).first()
  await result.waitFor()
  return result.textContent()
}
