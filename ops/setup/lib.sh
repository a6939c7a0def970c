# Shared helpers of the setup scripts, appended to ops/checks/lib.sh. Each
# setup script runs on the host as root, through the same executor as the
# checks, and prints one JSON result line last:
#   {"check":"host_setup","ok":true,"script":...,"components":[{"name","version","action"}]}
# where action is "installed" (this run put it there) or "present" (it was
# already there: the AMI's own, or an earlier attempt's). Scripts are
# idempotent: a retried command finds what the first one did and moves on.
CHECK=host_setup
export DEBIAN_FRONTEND=noninteractive
COMPONENTS=""

# component NAME VERSION ACTION: records one thing setup installed or found.
component() {
  entry=$(printf '{"name":%s,"version":%s,"action":%s}' "$(json_str "$1")" "$(json_str "$2")" "$(json_str "$3")")
  if [ -n "$COMPONENTS" ]; then COMPONENTS="$COMPONENTS,$entry"; else COMPONENTS="$entry"; fi
}

# setup_done: prints the script's result line.
setup_done() {
  printf '{"check":"host_setup","ok":true,"script":%s,"components":[%s]}\n' "$(json_str "$RADIX_SETUP_SCRIPT")" "$COMPONENTS"
  exit 0
}

# fail_fetch WHAT OUTPUT: a download or install failed; a mirror out of reach is infrastructure, anything else the script's own failure.
fail_fetch() {
  if printf '%s' "$2" | grep -q -i -e 'Temporary failure resolving' -e 'unable to resolve host' -e 'Could not resolve' \
    -e 'Could not connect' -e 'Connection timed out' -e 'Network is unreachable' -e 'Failed to fetch' -e 'No route to host'; then
    fail HOST_SETUP_MIRROR_UNREACHABLE "$1: $(printf '%s\n' "$2" | grep -i -m 2 -e fail -e unable -e 'could not' -e unreachable -e 'timed out')"
  fi
  fail HOST_SETUP_FAILED "$1: $(printf '%s\n' "$2" | grep -v '^\(Reading\|Building\|Get:\|Hit:\)' | tail -n 3)"
}

# installed_version PACKAGE: its installed version, or nothing.
installed_version() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || true; }

# A fresh instance may still be running cloud-init or unattended-upgrades, which hold the dpkg lock.
APT_GET="apt-get -q -o DPkg::Lock::Timeout=300"

# apt_update: refreshes the package lists; any source that cannot be fetched fails it.
apt_update() {
  status=0
  output=$($APT_GET update --error-on=any 2>&1) || status=$?
  [ "$status" -eq 0 ] || fail_fetch "apt-get update exit $status" "$output"
}

# apt_install PACKAGE...: installs what is missing and records every package with its version.
apt_install() {
  before=""
  for p in "$@"; do before="$before $p=$(installed_version "$p")"; done
  status=0
  output=$($APT_GET install -y --no-install-recommends "$@" 2>&1) || status=$?
  [ "$status" -eq 0 ] || fail_fetch "apt-get install $* exit $status" "$output"
  for p in "$@"; do
    version=$(installed_version "$p")
    [ -n "$version" ] || fail HOST_SETUP_FAILED "apt-get install reported success but $p is not installed"
    case " $before " in *" $p= "*) component "$p" "$version" installed ;; *) component "$p" "$version" present ;; esac
  done
}
