import { runCommand } from '../../local-issuer/commands.js'

/** `npm run issuer -- …args` in this process, on the given data folder: what it printed. */
export async function issuer (dataDir: string, args: string[], stdin = ''): Promise<string> {
  const lines: string[] = []
  await runCommand(args, { dataDir, out: line => lines.push(line), readStdin: async () => stdin })
  return lines.join('\n')
}

/** The secret a command printed once: a generated password or a machine client's secret. */
export function printedSecret (output: string): string {
  const secret = /\(printed once, stored only as a hash\): (\S+)/.exec(output)?.[1]
  if (secret === undefined) throw new Error(`no secret printed in: ${output}`)
  return secret
}
