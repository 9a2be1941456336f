import { readFileSync } from 'node:fs'
import t from 'tap'
import { Messages } from '../../routes/messages.js'
import { authorize, tokenRequest } from '../fixtures/local-login.js'
import { repositoryFile } from '../helper.js'
import { buildLocal, REDIRECT_URI } from './build-local.js'
import { issuer, printedSecret } from './issuer-command.js'

// The Shape the local issuer section of docs/local-issuer.md.
const PAGE = readFileSync(repositoryFile('docs/local-issuer.md'), 'utf8')
const section = PAGE.slice(PAGE.indexOf('## Shape the local issuer'))

/** The page's `npm run issuer -- …` command that starts with these words (in a code block or inline), as arguments. */
function readmeCommand (start: string): string[] {
  const match = new RegExp(`npm run issuer -- (${start}[^\`\\n#]*)`).exec(section)
  if (match === null) throw new Error(`docs/local-issuer.md shows npm run issuer -- ${start}`)
  return match[1]!.trim().split(/\s+/)
}

t.test('the local issuer page\'s Shape the local issuer commands, as written: alice signs in and reads the admin message, and after the revoke gets 403', async t => {
  const { local, dataDir, call } = await buildLocal(t)
  const output = await issuer(dataDir, readmeCommand('user add alice'))
  t.match(section, output.split('\n')[0]!, 'the page shows what the command prints')
  const password = printedSecret(output)
  const signIn = async () => {
    const flow = await authorize({ issuer: local.issuer, audience: local.audience, clientId: 'local-spa', redirectUri: REDIRECT_URI, username: 'alice', password })
    const tokens = await tokenRequest(local.issuer, { grant_type: 'authorization_code', code: flow.code, code_verifier: flow.verifier, redirect_uri: REDIRECT_URI, client_id: 'local-spa' })
    return tokens.body.access_token as string
  }
  t.same((await call('/api/messages/admin', await signIn())).json(), { message: Messages.admin })
  await issuer(dataDir, readmeCommand('permission revoke alice'))
  t.equal((await call('/api/messages/admin', await signIn())).statusCode, 403)
})
