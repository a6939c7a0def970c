# GPU detection: which GPUs the host has, as its vendor's own tool reports them.
# Prints facts only; whether they satisfy the target is decided by Sentinel.
CHECK=gpu_detect

if command -v nvidia-smi >/dev/null 2>&1; then
  # Exit 6 is nvidia-smi's "No devices were found"; other failures are driver trouble.
  status=0
  out=$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader,nounits 2>&1) || status=$?
  if [ "$status" -eq 6 ]; then fail GPU_NOT_DETECTED "nvidia-smi: $(first_lines "$out")"; fi
  if [ "$status" -ne 0 ]; then fail GPU_DRIVER_ERROR "nvidia-smi exit $status: $(first_lines "$out")"; fi
  count=$(printf '%s\n' "$out" | grep -c '[^[:space:]]' || true)
  [ "$count" -gt 0 ] || fail GPU_NOT_DETECTED "nvidia-smi listed no GPU"
  first=$(printf '%s\n' "$out" | head -n 1)
  model=$(trim "$(printf '%s' "$first" | cut -d, -f1)")
  driver=$(trim "$(printf '%s' "$first" | cut -d, -f2)")
  memory=$(trim "$(printf '%s' "$first" | cut -d, -f3)")
  printf '{"check":"gpu_detect","ok":true,"vendor":"nvidia","model":%s,"count":%s,"driverVersion":%s,"memoryMiB":%s}\n' \
    "$(json_str "$model")" "$count" "$(json_str "$driver")" "$(json_num "$memory")"
  exit 0
fi

if command -v rocm-smi >/dev/null 2>&1; then
  status=0
  out=$(rocm-smi --showproductname 2>&1) || status=$?
  if [ "$status" -ne 0 ] || printf '%s' "$out" | grep -q 'Driver not initialized'; then
    fail GPU_DRIVER_ERROR "rocm-smi exit $status: $(printf '%s\n' "$out" | grep -i -m 3 -e error -e driver)"
  fi
  # Lines look like: GPU[0]<tabs>: Card series: <tabs>Navi 12 [Radeon Pro V520]
  series=$(printf '%s\n' "$out" | grep 'Card series:' || true)
  count=$(printf '%s\n' "$series" | grep -o '^GPU\[[0-9]*\]' | sort -u | grep -c . || true)
  [ "$count" -gt 0 ] || fail GPU_NOT_DETECTED "rocm-smi listed no GPU"
  model=$(trim "$(printf '%s\n' "$series" | head -n 1 | sed -e 's/^.*Card series:[[:space:]]*//')")
  driver_out=$(rocm-smi --showdriverversion 2>&1 || true)
  driver=$(trim "$(printf '%s\n' "$driver_out" | grep -m 1 'Driver version:' | sed -e 's/^.*Driver version:[[:space:]]*//')")
  [ -n "$driver" ] || driver=$(trim "$(cat "$HOST_ROOT/sys/module/amdgpu/version" 2>/dev/null || echo unknown)")
  printf '{"check":"gpu_detect","ok":true,"vendor":"amd","model":%s,"count":%s,"driverVersion":%s}\n' \
    "$(json_str "$model")" "$count" "$(json_str "$driver")"
  exit 0
fi

fail GPU_TOOL_MISSING "neither nvidia-smi nor rocm-smi is on PATH"
