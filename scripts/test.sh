#!/usr/bin/env bash
# `npm test`: installs what is missing (npm packages, the Temporal CLI and
# moto_server), type-checks, then runs the mocha suite. The suite starts its
# own Temporal dev server and moto_server on free loopback ports and stops
# them at the end. Extra arguments go to mocha (e.g. `npm test -- --grep lane`).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

if [ ! -x node_modules/.bin/mocha ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "test: installing npm packages (npm ci)" >&2
  npm ci --no-audit --no-fund >&2
fi
eval "$(bash scripts/ensure-tools.sh --print-env)"
# The pinned AWS SDK supports this Node; its notice about future releases is noise in test logs.
export AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true

echo "test: type-checking" >&2
npx tsc --noEmit -p tsconfig.json
echo "test: mocha" >&2
if [ "$#" -eq 0 ]; then set -- "test/**/*.test.ts"; fi
exec npx mocha "$@"
