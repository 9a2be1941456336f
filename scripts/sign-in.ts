import { createHash, randomBytes } from 'node:crypto'

/**
 * What a browser does at the local issuer, for `npm run token -- --user`: the
 * authorization code flow with PKCE (S256), through its login and consent forms over
 * real HTTP with the cookies it sets, stopping at the redirect to the client's
 * redirect URI (nothing need listen there) to exchange the code. Bounded: a dozen
 * steps, ten seconds each.
 */

export interface SignInOptions {
  issuer: string
  audience: string
  clientId: string
  redirectUri: string
  username: string
  password: string
  /** The code from the user's authenticator app, for the second factor. */
  totp?: string
  scope: string
  /** More authorization request parameters: acr_values, max_age. */
  params: Record<string, string>
  /** A DPoP proof for the token request, when the token is to be bound to a key. */
  dpopProof?: (tokenUrl: string) => Promise<string>
}

const STEP_TIMEOUT_MS = 10_000
const MAX_STEPS = 12

/** A page's own message for a refused sign-in, or what went wrong. */
function pageError (status: number, html: string): Error {
  const alert = /<p class="note" role="alert">([^<]*)<\/p>/.exec(html)?.[1] ?? /<p>([^<]*)<\/p>/.exec(html)?.[1]
  const text = (alert ?? `HTTP ${status}`).replace(/&#(\d+);/g, (_, code: string) => String.fromCharCode(Number(code)))
  return new Error(`The local issuer refused the sign-in: ${text}`)
}

/** Signs the user in and exchanges the code: the token endpoint's JSON answer. */
export async function signIn (options: SignInOptions): Promise<{ access_token?: string, error?: string, error_description?: string }> {
  const { issuer, audience, clientId, redirectUri, username, password, totp, scope, params } = options
  const verifier = randomBytes(32).toString('base64url')
  const cookies = new Map<string, string>()
  const query = new URLSearchParams({
    client_id: clientId,
    response_type: 'code',
    redirect_uri: redirectUri,
    scope,
    audience,
    state: randomBytes(8).toString('hex'),
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
    ...params
  })
  let url = new URL(`authorize?${query}`, issuer)
  let body: URLSearchParams | undefined
  for (let step = 0; step < MAX_STEPS; step++) {
    const headers: Record<string, string> = { cookie: [...cookies].map(([name, value]) => `${name}=${value}`).join('; ') }
    // A browser says where a form post comes from; the issuer refuses another site's.
    if (body !== undefined) headers.origin = new URL(issuer).origin
    const response = await fetch(url, { method: body === undefined ? 'GET' : 'POST', body, headers, redirect: 'manual', signal: AbortSignal.timeout(STEP_TIMEOUT_MS) })
    for (const cookie of response.headers.getSetCookie()) {
      const [pair = ''] = cookie.split(';')
      const index = pair.indexOf('=')
      cookies.set(pair.slice(0, index), pair.slice(index + 1))
    }
    const location = response.headers.get('location')
    if (location !== null) {
      const next = new URL(location, url)
      body = undefined
      if (!next.href.startsWith(redirectUri)) {
        url = next
        continue
      }
      const code = next.searchParams.get('code')
      if (code === null) {
        const error = next.searchParams.get('error') ?? 'no code'
        throw new Error(`The local issuer refused the sign-in: ${error}${next.searchParams.has('error_description') ? ` (${next.searchParams.get('error_description')})` : ''}`)
      }
      const tokenUrl = new URL('oauth/token', issuer).href
      const exchange = await fetch(tokenUrl, {
        method: 'POST',
        body: new URLSearchParams({ grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: redirectUri, client_id: clientId }),
        headers: options.dpopProof === undefined ? {} : { dpop: await options.dpopProof(tokenUrl) },
        signal: AbortSignal.timeout(STEP_TIMEOUT_MS)
      })
      return await exchange.json().catch(() => ({ error: `HTTP ${exchange.status}` })) as { access_token?: string }
    }
    const html = await response.text()
    const action = /<form method="post" action="([^"]+)"/.exec(html)?.[1]
    if (response.status !== 200 || action === undefined) throw pageError(response.status, html)
    url = new URL(action, url)
    body = action.endsWith('/login')
      ? new URLSearchParams({ username, password, ...(totp === undefined ? {} : { totp }) })
      : new URLSearchParams()
  }
  throw new Error('The local issuer sent the sign-in round too many times')
}
