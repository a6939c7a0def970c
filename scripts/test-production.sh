#!/usr/bin/env bash
# `npm run test:production`: the production-shape tier (test/production). It
# runs what docker-compose.temporal.yml runs, outside Docker, at the versions
# it pins: the Temporal server built from its Go module (cached in .tools/),
# PostgreSQL from the machine's Debian packages, the compose's schema and
# namespace scripts, and the worker started as the image's CMD starts it, from
# a fresh `npm run build` and workflow bundle, on the image's Node major (24).
# Needs root (PostgreSQL runs as
# the `postgres` user). Extra arguments go to mocha.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/prepare.sh"

eval "$(bash scripts/ensure-temporal-server.sh)"
echo "test:production: building dist/ and the workflow bundle, as the image's build stage does" >&2
npm run --silent build
node --import tsx scripts/bundle-workflows.ts dist/workflow-bundle.js >&2
# The image runs Node 24 (Dockerfile): so does this tier, the worker included.
source "$root/scripts/use-node24.sh"
echo "test:production: mocha on node $(node --version)" >&2
if [ "$#" -eq 0 ]; then set -- "test/production/**/*.prod.ts"; fi
exec node node_modules/mocha/bin/mocha.js "$@"
