import { execFile } from 'node:child_process'
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import t from 'tap'
import ts from 'typescript'
import { plainNode } from './helper.js'

// The README's test snippets, run as a user would run them: each written out as it is
// in the README, next to this package so that its name and `tap` resolve, stripped of
// its types by TypeScript (scripts/check-package.sh type-checks them as a user's app
// would), then run by node. This file runs compiled, from dist-test/packages/<name>/test/.
const packageFolder = new URL('../../../../packages/fastify-oauth-resource-server/', import.meta.url)
const README = readFileSync(new URL('README.md', packageFolder), 'utf8')
const SNIPPET = /<!-- readme-test: ([\w.-]+\.ts) -->\n```ts\n([\s\S]*?)\n```\n/g
const snippets = [...README.matchAll(SNIPPET)].map(([, name, code]) => ({ name: name as string, code: code as string }))
const folder = fileURLToPath(new URL('test/.readme/', packageFolder))
const javaScript = (code: string) => ts.transpileModule(code, {
  compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: true }
}).outputText

// Each snippet is a node process of its own: run them side by side.
t.jobs = snippets.length
t.before(() => mkdirSync(folder, { recursive: true }))
t.teardown(() => rmSync(folder, { recursive: true, force: true }))

t.test('the README has its test snippets: optional authentication, step-up, DPoP with provider claims, tap and node:test', async t => {
  t.same(snippets.map(snippet => snippet.name), ['optional.tap.ts', 'step-up.tap.ts', 'dpop.tap.ts', 'me.tap.ts', 'me.node.ts'])
  for (const { name, code } of snippets) t.ok(code.split('\n').length <= 20, `${name} is at most 20 lines`)
})

for (const { name, code } of snippets) {
  t.test(`README snippet ${name} runs and passes as written`, async t => {
    const file = `${folder}${name.replace(/\.ts$/, '.mjs')}`
    writeFileSync(file, javaScript(code))
    const { stdout } = await promisify(execFile)(...plainNode([file]), {
      env: { PATH: process.env.PATH ?? '' },
      timeout: 300_000
    })
    // tap's own output, or node:test's (TAP or spec, whichever this Node prints by default).
    t.match(stdout, /^ok 1 - |^[#ℹ] pass [1-9]/m, 'its test ran and passed')
    t.notMatch(stdout, /not ok|^[#ℹ] fail [1-9]/m)
  })
}
