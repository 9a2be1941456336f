#!/usr/bin/env bash
# The plugin as a user gets it: `npm pack -w` makes the tarball, a fresh app in a
# temporary folder installs it from there (its dependencies from the registry),
# compiles the three consumer apps in test/consumer/ and the package README's test
# snippets, and runs them: each starts the shipped test issuer on 127.0.0.1 and asserts
# real requests. Then it counts what the install brought in.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cd "$root"
# What `npm publish` would send, checked without sending it (the release workflow publishes from a tag).
npm publish -w fastify-oauth-resource-server --dry-run --silent
tarball=$(npm pack -w fastify-oauth-resource-server --pack-destination "$work" --silent | tail -n 1)
cp test/consumer/package.json test/consumer/tsconfig.json test/consumer/*.ts "$work/"
# The package README's test snippets, as a user copies them. They are type-checked on
# their own, with skipLibCheck: tap's declarations do not check without React's.
mkdir "$work/readme"
echo '{ "extends": "../tsconfig.json", "compilerOptions": { "skipLibCheck": true, "outDir": "../dist/readme" }, "include": ["*.ts"] }' > "$work/readme/tsconfig.json"
node -e '
  const { readFileSync, writeFileSync } = require("node:fs")
  const readme = readFileSync(process.argv[1], "utf8")
  for (const [, name, code] of readme.matchAll(/<!-- readme-test: ([\w.-]+\.ts) -->\n```ts\n([\s\S]*?)\n```\n/g)) {
    writeFileSync(`${process.argv[2]}/${name}`, code)
  }' packages/fastify-oauth-resource-server/README.md "$work/readme"

cd "$work"
npm install --no-audit --no-fund --silent "./$tarball" fastify@5
plugin_packages=$(npm ls --all --parseable 2>/dev/null | tail -n +2 | sort -u | wc -l)
plugin_size=$(du -sm node_modules | cut -f1)
npm install --no-audit --no-fund --silent @fastify/jwt@10 typescript@~6.0 @types/node@20
# tap for the snippets that use it: this repository's own copy, not a second install.
ln -s "$root/node_modules/tap" node_modules/tap
npx tsc -p tsconfig.json
npx tsc -p readme/tsconfig.json
for app in only-plugin with-fastify-jwt custom-claims; do node "dist/$app.js"; done
for snippet in dist/readme/*.js; do node "$snippet" >/dev/null; done
echo "package check: $tarball installs with fastify into $plugin_packages packages, $plugin_size MB of node_modules"
