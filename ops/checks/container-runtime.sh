# Container runtime: the engine answers, and containers can reach this vendor's GPUs.
# Input: RADIX_GPU_VENDOR (nvidia | amd).
CHECK=container_runtime

command -v docker >/dev/null 2>&1 || fail CONTAINER_RUNTIME_MISSING "docker is not on PATH"
status=0
info=$(docker info --format '{{json .}}' 2>&1) || status=$?
if [ "$status" -ne 0 ]; then fail CONTAINER_RUNTIME_UNAVAILABLE "docker info exit $status: $(printf '%s\n' "$info" | tail -n 1)"; fi
version=$(printf '%s' "$info" | grep -o '"ServerVersion":"[^"]*"' | head -n 1 | cut -d'"' -f4)
[ -n "$version" ] || fail CONTAINER_RUNTIME_UNAVAILABLE "docker info did not report a server version"

case "${RADIX_GPU_VENDOR:-}" in
  nvidia)
    # The NVIDIA Container Toolkit registers a runtime named "nvidia" with the engine.
    printf '%s' "$info" | grep -q '"nvidia":{"path":"[^"]*"' ||
      fail GPU_RUNTIME_MISSING "docker has no nvidia runtime (nvidia-container-toolkit not configured)"
    gpu_runtime=nvidia-container-runtime
    ;;
  amd)
    # ROCm containers get the GPU through the KFD and DRI render nodes.
    [ -e "$HOST_ROOT/dev/kfd" ] || fail GPU_RUNTIME_MISSING "/dev/kfd is missing (amdgpu/ROCm kernel driver not loaded)"
    ls "$HOST_ROOT"/dev/dri/renderD* >/dev/null 2>&1 || fail GPU_RUNTIME_MISSING "no /dev/dri/renderD* render node"
    gpu_runtime=rocm-devices
    ;;
  *) fail CHECK_OUTPUT_INVALID "RADIX_GPU_VENDOR must be nvidia or amd" ;;
esac

printf '{"check":"container_runtime","ok":true,"engine":"docker","version":%s,"gpuRuntime":%s}\n' \
  "$(json_str "$version")" "$(json_str "$gpu_runtime")"
