#!/usr/bin/env bash
# `npm test`: installs what is missing (npm packages, the Temporal CLI,
# moto_server, docker-registry, the deployment checkers), lints and type-checks, then
# runs the mocha suite. The suite starts its own Temporal dev server,
# moto_server, registry and reference control plane on free loopback ports and
# stops them at the end. Extra arguments go to mocha
# (e.g. `npm test -- test/integration/cli.test.ts` or `npm test -- --grep lane`).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/prepare.sh"

# The whole suite lints first: ESLint (type-aware, eslint.config.mjs), Prettier's check and the
# type-check; a finding fails it. Named files (`npm test -- test/x.test.ts`) get the type-check only.
if [ "$#" -eq 0 ]; then
  echo "test: lint (eslint, prettier --check, tsc --noEmit)" >&2
  npm run --silent lint
  set -- "test/**/*.test.ts"
else
  echo "test: type-checking" >&2
  npx tsc --noEmit -p tsconfig.json
fi
echo "test: mocha" >&2
exec npx mocha "$@"
