# The AMD GPU kernel driver (amdgpu) and ROCm SMI (rocm-smi) on stock Ubuntu
# 22.04, for the Radeon Pro V520 of g4ad instances, as AWS documents it in
# "Install AMD drivers on Linux instances"
# (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/install-amd-driver.html):
# the kernel's extra modules for the running kernel, AMD's amdgpu-install
# package from repo.radeon.com, then `amdgpu-install --usecase=...`. Here the
# use case is `dkms` (the kernel driver alone) plus the rocm-smi-lib package
# from the ROCm repository amdgpu-install configures: a GPU query tool without
# the full ROCm stack, which would not fit the AMI's 8 GiB root volume.
#
# Where the guide reboots, this script loads the module instead (modprobe), so
# the rest of the leg runs on the same boot; the rocm-smi check then talks to
# the loaded driver.
#
# AMDGPU_INSTALL_VERSION is the one pin to move when upgrading: 6.1.3 ships
# amdgpu 6.7.0, the driver the V520 recordings were taken with.
AMDGPU_INSTALL_VERSION=6.1.3
AMDGPU_INSTALL_DEB=amdgpu-install_6.1.60103-1_all.deb
AMDGPU_INSTALL_URL="https://repo.radeon.com/amdgpu-install/$AMDGPU_INSTALL_VERSION/ubuntu/jammy/$AMDGPU_INSTALL_DEB"

if command -v cloud-init >/dev/null 2>&1; then cloud-init status --wait >/dev/null 2>&1 || true; fi
kernel=$(uname -r)

apt_update
# The DKMS build and the module's dependencies need the extra modules of the running kernel.
apt_install wget "linux-modules-extra-$kernel"

# amdgpu-install: the package that adds AMD's apt repositories and the installer itself.
if [ -z "$(installed_version amdgpu-install)" ]; then
  dir=$(mktemp -d "${TMPDIR:-/tmp}/amdgpu-install.XXXXXX")
  status=0
  output=$(cd "$dir" && wget -q -O "$AMDGPU_INSTALL_DEB" "$AMDGPU_INSTALL_URL" 2>&1) || status=$?
  [ "$status" -eq 0 ] || fail_fetch "wget $AMDGPU_INSTALL_URL exit $status" "$output"
  status=0
  output=$(cd "$dir" && $APT_GET install -y "./$AMDGPU_INSTALL_DEB" 2>&1) || status=$?
  [ "$status" -eq 0 ] || fail_fetch "apt-get install ./$AMDGPU_INSTALL_DEB exit $status" "$output"
  rm -rf "$dir"
  component amdgpu-install "$(installed_version amdgpu-install)" installed
else
  component amdgpu-install "$(installed_version amdgpu-install)" present
fi
apt_update

# The kernel driver (DKMS-built for the running kernel).
driver_before=$(installed_version amdgpu-dkms)
status=0
output=$(amdgpu-install -y --usecase=dkms --no-32 2>&1) || status=$?
[ "$status" -eq 0 ] || fail_fetch "amdgpu-install --usecase=dkms exit $status" "$output"
driver=$(installed_version amdgpu-dkms)
[ -n "$driver" ] || fail HOST_SETUP_FAILED "amdgpu-install --usecase=dkms left no amdgpu-dkms package"
if [ -n "$driver_before" ]; then component amdgpu-dkms "$driver" present; else component amdgpu-dkms "$driver" installed; fi

# The GPU query tool.
apt_install rocm-smi-lib

# Load the driver now instead of rebooting.
status=0
output=$(modprobe amdgpu 2>&1) || status=$?
[ "$status" -eq 0 ] || fail HOST_SETUP_FAILED "modprobe amdgpu exit $status: $output"
# udev creates the device nodes shortly after the module loads.
if command -v udevadm >/dev/null 2>&1; then udevadm settle --timeout=30 >/dev/null 2>&1 || true; fi
tries=0
while [ ! -e "$HOST_ROOT/dev/kfd" ] && [ "$tries" -lt 30 ]; do sleep 1; tries=$((tries + 1)); done
[ -e "$HOST_ROOT/dev/kfd" ] || fail HOST_SETUP_FAILED "amdgpu loaded but /dev/kfd did not appear within 30s"
component amdgpu-kernel-module "$(cat "$HOST_ROOT/sys/module/amdgpu/version" 2>/dev/null || echo unknown)" loaded
setup_done
