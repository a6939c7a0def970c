# Container engine and the installer's tools on stock Ubuntu 22.04: Docker
# from Ubuntu's own archive (docker.io), and curl with its CA bundle, which the
# control plane's installer (`curl -fsSL <url> | sh`) needs.

# Wait for first-boot configuration, which may still be writing apt's sources.
if command -v cloud-init >/dev/null 2>&1; then cloud-init status --wait >/dev/null 2>&1 || true; fi

apt_update
apt_install ca-certificates curl docker.io
status=0
output=$(systemctl enable --now docker 2>&1) || status=$?
[ "$status" -eq 0 ] || fail HOST_SETUP_FAILED "systemctl enable --now docker exit $status: $output"
setup_done
