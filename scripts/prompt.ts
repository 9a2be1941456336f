/**
 * A password for `npm run token -- --user`: typed at the terminal without echo, or the
 * first line of standard input when that is no terminal (`printf '%s\n' "$PW" | npm run …`).
 */
export async function readPassword (prompt: string): Promise<string> {
  const { stdin, stderr } = process
  if (stdin.isTTY !== true) return firstLine()
  stderr.write(prompt)
  stdin.setRawMode(true)
  stdin.setEncoding('utf8')
  stdin.resume()
  try {
    return await new Promise<string>((resolve, reject) => {
      let typed = ''
      const onData = (chunk: string) => {
        for (const char of chunk) {
          if (char === '\r' || char === '\n') {
            stdin.off('data', onData)
            return resolve(typed)
          }
          if (char === '\u0003') {
            stdin.off('data', onData)
            return reject(new Error('Cancelled'))
          }
          typed = char === '\u007f' || char === '\b' ? typed.slice(0, -1) : typed + char
        }
      }
      stdin.on('data', onData)
    })
  } finally {
    stdin.setRawMode(false)
    stdin.pause()
    stderr.write('\n')
  }
}

const MAX_LINE = 4096

async function firstLine (): Promise<string> {
  let text = ''
  for await (const chunk of process.stdin) {
    text += String(chunk)
    const end = text.indexOf('\n')
    if (end !== -1) return text.slice(0, end).replace(/\r$/, '')
    if (text.length > MAX_LINE) break
  }
  return text.slice(0, MAX_LINE).replace(/\r$/, '')
}
