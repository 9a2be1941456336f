/**
 * Shapes the local development issuer: users, permissions and clients.
 *   npm run issuer -- user add alice --permission read:admin-messages
 *   npm run issuer -- help
 * State is LOCAL_ISSUER_DATA (default .local-issuer/), read from .env too, as npm start does.
 */
import { text } from 'node:stream/consumers'
// Not local-issuer/index.js: that would load oidc-provider (and its Node.js version warning) for nothing.
import { CommandError, runCommand } from '../local-issuer/commands.js'
import { StateFileError } from '../local-issuer/state.js'
import { ConfigError, loadConfig, readEnvironment } from '../config/index.js'

try {
  // The server's configuration, read as the server reads it (.env too).
  const { localIssuerData } = loadConfig(readEnvironment())
  await runCommand(process.argv.slice(2), {
    dataDir: localIssuerData,
    out: line => console.log(line),
    readStdin: () => text(process.stdin)
  })
} catch (error) {
  // A mistake or a broken state file is one message; anything else is a bug, shown in full.
  if (error instanceof ConfigError) console.error(`Configuration error: ${error.message}`)
  else console.error(error instanceof CommandError || error instanceof StateFileError ? error.message : error)
  process.exitCode = 1
}
