#!/usr/bin/env bash
# The Temporal server and temporal-sql-tool at exactly the version
# docker-compose.temporal.yml runs (its temporalio/server tag), built with Go
# from the module proxy (go.temporal.io/server) into .tools/temporal-server/<v>/bin
# (about 4 minutes on 2 cores, once). Prints, as shell exports, where the
# binaries are (SENTINEL_TEMPORAL_SERVER_DIR: server, sql) and the module's
# PostgreSQL schema (TEMPORAL_SCHEMA_DIR, what deploy/temporal/setup-schema.sh applies).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
log() { printf 'ensure-temporal-server: %s\n' "$*" >&2; }

version="$(sed -n 's|^[[:space:]]*image:[[:space:]]*temporalio/server:\([0-9][0-9.]*\)[[:space:]]*$|\1|p' "$root/docker-compose.temporal.yml" | head -n1)"
[ -n "$version" ] || { log "docker-compose.temporal.yml pins no temporalio/server:<version>"; exit 3; }
bin="$root/.tools/temporal-server/v$version/bin"
print_env() {
  local dir
  dir="$(go mod download -json "go.temporal.io/server@v$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
  [ -d "$dir/schema/postgresql/v12" ] || { log "no PostgreSQL schema in go.temporal.io/server@v$version ($dir)"; exit 3; }
  printf 'export SENTINEL_TEMPORAL_SERVER_DIR=%q\nexport TEMPORAL_SCHEMA_DIR=%q\n' "$bin" "$dir/schema/postgresql/v12"
}
command -v go >/dev/null 2>&1 || { log "Go is required to build the Temporal server $version (go.temporal.io/server); install Go"; exit 3; }
if [ -x "$bin/server" ] && [ -x "$bin/sql" ] && "$bin/server" --version 2>/dev/null | grep -q "version $version\$"; then
  print_env; exit 0
fi
mkdir -p "$bin"
started=$SECONDS
log "building go.temporal.io/server v$version (server, temporal-sql-tool) into $bin"
GOBIN="$bin" go install -trimpath "go.temporal.io/server/cmd/server@v$version" "go.temporal.io/server/cmd/tools/sql@v$version" >&2
log "built in $((SECONDS - started))s"
print_env
