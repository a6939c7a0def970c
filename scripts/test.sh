#!/usr/bin/env bash
# `npm test`: installs what is missing (npm packages, the Temporal CLI,
# moto_server, docker-registry, the deployment checkers), lints and type-checks, then
# runs the mocha suite. The suite starts its own Temporal dev server,
# moto_server, registry and reference control plane on free loopback ports and
# stops them at the end. Extra arguments go to mocha
# (e.g. `npm test -- test/integration/cli.test.ts` or `npm test -- --grep lane`).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/prepare.sh"

# Lint first: ESLint (type-aware, eslint.config.mjs) and the type-check; a finding fails the suite.
echo "test: lint (eslint, tsc --noEmit)" >&2
npm run --silent lint
echo "test: mocha" >&2
if [ "$#" -eq 0 ]; then set -- "test/**/*.test.ts"; fi
exec npx mocha "$@"
