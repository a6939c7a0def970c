# Sourced by the project's entry scripts (test.sh, demo.sh): from a fresh clone,
# installs what is missing (npm packages, then the tools npm does not carry, via
# ensure-tools.sh) and exports where those tools are.
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
if [ ! -x node_modules/.bin/tsx ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "prepare: installing npm packages (npm ci)" >&2
  npm ci --no-audit --no-fund >&2
fi
# A failed install must stop here, not leave the suite to fail later without its tools.
tool_env="$(bash scripts/ensure-tools.sh --print-env)" || { echo "prepare: installing the tools failed (scripts/ensure-tools.sh, above)" >&2; exit 3; }
eval "$tool_env"
# The pinned AWS SDK supports this Node; its notice about future releases is noise here.
export AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true
