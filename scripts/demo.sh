#!/usr/bin/env bash
# `npm run demo`: one whole matrix run on the embedded default, with nothing
# installed beforehand. Installs what is missing, then runs scripts/demo.ts.
# Options:
#   --keep   leave the Temporal server and Web UI up afterwards (Ctrl-C stops them)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/prepare.sh"
exec node --import tsx scripts/demo.ts "$@"
