# The Deep Learning AMI (Ubuntu 22.04) comes with the NVIDIA driver, the
# NVIDIA Container Toolkit and Docker. Nothing is installed here: this only
# asserts that the AMI still holds what it promises, and records the versions.

# The driver: nvidia-smi answers and the kernel module is loaded.
command -v nvidia-smi >/dev/null 2>&1 || fail HOST_SETUP_FAILED "nvidia-smi is not on PATH: the AMI has no NVIDIA driver"
status=0
driver=$(nvidia-smi --query-gpu=driver_version --format=csv,noheader 2>&1) || status=$?
[ "$status" -eq 0 ] || fail HOST_SETUP_FAILED "nvidia-smi exit $status: $(first_lines "$driver")"
[ -d "$HOST_ROOT/sys/module/nvidia" ] || fail HOST_SETUP_FAILED "the nvidia kernel module is not loaded"
component nvidia-driver "$(trim "$(printf '%s\n' "$driver" | head -n 1)")" present

# The container toolkit.
command -v nvidia-ctk >/dev/null 2>&1 || fail HOST_SETUP_FAILED "nvidia-ctk is not on PATH: the AMI has no NVIDIA Container Toolkit"
toolkit=$(nvidia-ctk --version 2>&1 | sed -n -e 's/^NVIDIA Container Toolkit CLI version \([^ ]*\).*$/\1/p' | head -n 1)
[ -n "$toolkit" ] || fail HOST_SETUP_FAILED "nvidia-ctk --version did not report a version"
component nvidia-container-toolkit "$toolkit" present

# The engine.
command -v docker >/dev/null 2>&1 || fail HOST_SETUP_FAILED "docker is not on PATH: the AMI has no container engine"
status=0
info=$(docker info --format '{{json .}}' 2>&1) || status=$?
[ "$status" -eq 0 ] || fail HOST_SETUP_FAILED "docker info exit $status: $(printf '%s\n' "$info" | tail -n 1)"
engine=$(printf '%s' "$info" | grep -o '"ServerVersion":"[^"]*"' | head -n 1 | cut -d'"' -f4)
[ -n "$engine" ] || fail HOST_SETUP_FAILED "docker info did not report a server version"
component docker "$engine" present
setup_done
