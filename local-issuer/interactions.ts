import type { IncomingMessage, ServerResponse } from 'node:http'
import type { FastifyBaseLogger } from 'fastify'
import type Provider from 'oidc-provider'
import type { LiveState } from './live-state.js'
import { escape } from './provider.js'
import { LocalAcr } from './issuer-info.js'
import { checkPassword, StateFileError } from './state.js'
import { requiresTotp } from './step-up.js'
import { createTotpVerifier } from './totp.js'

const MAX_FORM_BYTES = 4096
const ROUTE = /^\/interaction\/([A-Za-z0-9_-]{1,64})(?:\/(login|confirm|abort))?$/

class BadRequest extends Error {}
class ForeignOrigin extends Error {}

/**
 * The login and consent pages oidc-provider sends the browser to. Bad input is
 * a 400 page, never a 500; an unknown or expired interaction says so; a form
 * posted from another site is a 403 page.
 */
export function createInteractionHandler (provider: Provider, live: LiveState, log: FastifyBaseLogger) {
  const issuerOrigin = new URL(provider.issuer).origin
  const verifyTotp = createTotpVerifier()

  async function handle (req: IncomingMessage, res: ServerResponse, uid: string, action: string | undefined): Promise<void> {
    const details = await provider.interactionDetails(req, res)
    if (details.uid !== uid) throw new BadRequest('This sign-in link does not match your session.')
    const { prompt, params, session } = details
    const clientId = String(params.client_id)

    if (action === 'abort' && req.method === 'GET') {
      return provider.interactionFinished(req, res, { error: 'access_denied', error_description: 'The user cancelled the sign-in' }, { mergeWithLastSubmission: false })
    }

    if (prompt.name === 'login') {
      // The client accepts only a sign-in with the second factor (acr_values, step-up.ts).
      const needsCode = requiresTotp(params.acr_values)
      if (action === undefined && req.method === 'GET') return send(res, 200, loginPage(uid, clientId, needsCode))
      if (action !== 'login' || req.method !== 'POST') throw new BadRequest('Unexpected request.')
      const form = await readForm(req)
      const username = form.get('username') ?? ''
      const again = (message: string) => send(res, 401, loginPage(uid, clientId, needsCode, message, username))
      const user = await checkPassword(live.users, username, form.get('password') ?? '')
      if (user === undefined) return again('Wrong username or password.')
      const code = (form.get('totp') ?? '').replace(/\s/g, '')
      if (code !== '' && user.totp === undefined) return again(`No authenticator is set up for ${username}: npm run issuer -- user totp ${username}`)
      if (code !== '' && !verifyTotp(user.sub, user.totp as string, code)) return again('Wrong or already used authenticator code.')
      if (code === '' && needsCode) {
        return again(user.totp === undefined
          ? `This app asks for a second factor, and none is set up for ${username}: npm run issuer -- user totp ${username}`
          : 'This app asks for a second factor: enter the code from your authenticator app.')
      }
      const login = code === ''
        ? { accountId: user.sub, acr: LocalAcr.password, amr: ['pwd'] }
        : { accountId: user.sub, acr: LocalAcr.totp, amr: ['pwd', 'otp', 'mfa'] }
      return provider.interactionFinished(req, res, { login }, { mergeWithLastSubmission: false })
    }

    if (prompt.name === 'consent') {
      const missing = prompt.details as { missingOIDCScope?: string[], missingResourceScopes?: Record<string, string[]> }
      const user = session?.accountId === undefined ? undefined : live.userBySub(session.accountId)
      if (user === undefined) throw new BadRequest('Sign in first.')
      if (action === undefined && req.method === 'GET') return send(res, 200, consentPage(uid, clientId, missing))
      if (action !== 'confirm' || req.method !== 'POST') throw new BadRequest('Unexpected request.')

      const grant = details.grantId !== undefined
        ? await provider.Grant.find(details.grantId)
        : new provider.Grant({ accountId: user.sub, clientId })
      if (grant === undefined) throw new BadRequest('This consent has expired; start again.')
      if (missing.missingOIDCScope !== undefined) grant.addOIDCScope(missing.missingOIDCScope.join(' '))
      // A user is granted only the API permissions they hold; the rest are rejected, so not asked again.
      for (const [resource, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
        const held = scopes.filter(scope => user.permissions.includes(scope))
        grant.addResourceScope(resource, held.join(' '))
        grant.rejectResourceScope(resource, scopes.filter(scope => !held.includes(scope)).join(' '))
      }
      const grantId = await grant.save()
      return provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true })
    }

    throw new BadRequest('Unexpected request.')
  }

  return async function interactions (req: IncomingMessage, res: ServerResponse): Promise<void> {
    const match = ROUTE.exec(new URL(req.url ?? '/', 'http://local').pathname)
    try {
      if (match === null) throw new BadRequest('Not found.')
      if (req.method !== 'GET' && req.method !== 'HEAD') checkSameOrigin(req, issuerOrigin)
      await handle(req, res, match[1] as string, match[2])
    } catch (error) {
      if (res.headersSent) return
      if (error instanceof ForeignOrigin) {
        return send(res, 403, page('Sign-in problem', '<p>This form was sent from another site. Start again from the app.</p>'))
      }
      // Logged by LiveState once; the developer at this page is the one who can fix it.
      if (error instanceof StateFileError) return send(res, 500, page('Sign-in problem', `<p>${escape(error.message)}</p>`))
      const known = error instanceof BadRequest || (error as { name?: string }).name === 'SessionNotFound'
      const message = error instanceof BadRequest ? error.message : 'This sign-in has expired or was already used; start again from the app.'
      if (!known) log.error({ err: error }, 'local issuer: interaction failed')
      send(res, known ? 400 : 500, page('Sign-in problem', `<p>${escape(known ? message : 'Something went wrong.')}</p>`))
    }
  }
}

/**
 * Login and consent change state, so they are accepted only from the issuer's
 * own pages. Browsers say where a form comes from in Origin (`null` for an
 * opaque origin) and, in current ones, Sec-Fetch-Site; either, when present,
 * must say this origin. A request with neither comes from no browser, so from
 * no other site either: a script or an HTTP client, which holds no victim's cookie.
 */
function checkSameOrigin (req: IncomingMessage, issuerOrigin: string): void {
  const { origin, 'sec-fetch-site': site } = req.headers
  if (origin !== undefined && origin !== issuerOrigin) throw new ForeignOrigin()
  if (site !== undefined && site !== 'same-origin') throw new ForeignOrigin()
}

async function readForm (req: IncomingMessage): Promise<URLSearchParams> {
  if (!/^application\/x-www-form-urlencoded\b/i.test(req.headers['content-type'] ?? '')) {
    throw new BadRequest('Send the form as application/x-www-form-urlencoded.')
  }
  let body = ''
  for await (const chunk of req) {
    body += chunk
    if (body.length > MAX_FORM_BYTES) throw new BadRequest('The form is too large.')
  }
  return new URLSearchParams(body)
}

function send (res: ServerResponse, status: number, html: string): void {
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
    'x-frame-options': 'DENY',
    // Not no-referrer: with it, browsers send `Origin: null` on the form posts that checkSameOrigin reads.
    'referrer-policy': 'same-origin'
  }).end(html)
}

function page (title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escape(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font:16px system-ui,sans-serif;max-width:24rem;margin:4rem auto;padding:0 1rem}
label,input,button{display:block;width:100%;margin:.4rem 0;box-sizing:border-box}input,button{padding:.5rem;font:inherit}
.note{color:#a00}.dev{background:#fe9;padding:.5rem}</style></head>
<body><p class="dev">Local development issuer — not for production.</p><h1>${escape(title)}</h1>${body}</body></html>`
}

function loginPage (uid: string, clientId: string, needsCode: boolean, error?: string, username = ''): string {
  return page('Sign in', `<p>to continue to <b>${escape(clientId)}</b></p>
${error === undefined ? '' : `<p class="note" role="alert">${escape(error)}</p>`}
<form method="post" action="/interaction/${uid}/login">
<label for="username">Username</label><input id="username" name="username" value="${escape(username)}" autocomplete="username" required autofocus>
<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required>
<label for="totp">Authenticator code${needsCode ? ' (this app asks for it)' : ' (if you set one up)'}</label><input id="totp" name="totp" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9 ]*"${needsCode ? ' required' : ''}>
<button type="submit">Sign in</button></form>
<p><a href="/interaction/${uid}/abort">Cancel</a></p>`)
}

function consentPage (uid: string, clientId: string, missing: { missingOIDCScope?: string[], missingResourceScopes?: Record<string, string[]> }): string {
  const items = [
    ...(missing.missingOIDCScope ?? []).map(scope => `<li>${escape(scope)}</li>`),
    ...Object.entries(missing.missingResourceScopes ?? {}).flatMap(([resource, scopes]) =>
      [`<li>access to ${escape(resource)}</li>`, ...scopes.map(scope => `<li>${escape(scope)} on ${escape(resource)}</li>`)])
  ]
  return page('Allow access?', `<p><b>${escape(clientId)}</b> asks for:</p><ul>${items.join('')}</ul>
<form method="post" action="/interaction/${uid}/confirm"><button type="submit" autofocus>Allow</button></form>
<p><a href="/interaction/${uid}/abort">Deny</a></p>`)
}
