#!/usr/bin/env bash
# `npm run demo`: one whole matrix run on the embedded default, with nothing
# installed beforehand. Installs what is missing (npm packages, the Temporal
# CLI, moto_server), then runs scripts/demo.ts. Options:
#   --keep   leave the Temporal server and Web UI up afterwards (Ctrl-C stops them)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
if [ ! -x node_modules/.bin/tsx ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "demo: installing npm packages (npm ci)" >&2
  npm ci --no-audit --no-fund >&2
fi
eval "$(bash scripts/ensure-tools.sh --print-env)"
export AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true
exec node --import tsx scripts/demo.ts "$@"
