# GPU detection: which GPUs the host has, as its vendor's own tool reports them.
# Prints facts only; whether they satisfy the target is decided by Sentinel.
# A card that is on the PCI bus but that no tool or driver can see is a missing
# driver (GPU_DRIVER_MISSING), not a missing GPU (GPU_NOT_DETECTED).
CHECK=gpu_detect

# ROCm installs its tools under /opt/rocm/bin, which is not on a service's PATH.
if [ -d "$HOST_ROOT/opt/rocm/bin" ]; then PATH="$PATH:$HOST_ROOT/opt/rocm/bin"; fi

# pci_gpus: one line "<vendor id> <device id> <address>" per NVIDIA (0x10de) or
# AMD/ATI (0x1002) display controller (PCI class 0x03xxxx) on the bus, from
# sysfs, else from `lspci -Dn`. Prints nothing when neither view is readable.
pci_gpus() {
  if [ -d "$HOST_ROOT/sys/bus/pci/devices" ]; then
    for dev in "$HOST_ROOT"/sys/bus/pci/devices/*; do
      [ -f "$dev/vendor" ] || continue
      vendor=$(cat "$dev/vendor")
      case "$vendor" in 0x10de | 0x1002) ;; *) continue ;; esac
      case "$(cat "$dev/class" 2>/dev/null)" in 0x03*) ;; *) continue ;; esac
      printf '%s %s %s\n' "$vendor" "$(cat "$dev/device" 2>/dev/null)" "${dev##*/}"
    done
  elif command -v lspci >/dev/null 2>&1; then
    # Lines look like: 0000:00:1e.0 0380: 1002:7362 (rev c3)
    lspci -Dn 2>/dev/null | sed -n -e 's/^\([^ ]*\) 03[0-9a-f]*: \(10de\|1002\):\([0-9a-f]*\).*$/0x\2 0x\3 \1/p'
  fi
}

# pci_view: "sysfs", "lspci" or "" (which view the bus was read through).
pci_view() {
  if [ -d "$HOST_ROOT/sys/bus/pci/devices" ]; then echo sysfs
  elif command -v lspci >/dev/null 2>&1; then echo lspci
  fi
}

# on_bus VENDOR_ID: a description of that vendor's cards on the bus, or nothing.
on_bus() {
  printf '%s\n' "$PCI" | awk -v v="$1" '$1 == v { n++; ids = ids (n > 1 ? ", " : "") $1 ":" $2 " at " $3 } END { if (n) printf "%d GPU(s) (%s)", n, ids }'
}

# module_loaded NAME: the kernel module is loaded (its /sys/module entry exists).
module_loaded() { [ -d "$HOST_ROOT/sys/module/$1" ]; }

PCI=$(pci_gpus)
VIEW=$(pci_view)

if command -v nvidia-smi >/dev/null 2>&1; then
  # Exit 6 is nvidia-smi's "No devices were found"; other failures are driver trouble.
  status=0
  out=$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader,nounits 2>&1) || status=$?
  if [ "$status" -eq 6 ]; then
    cards=$(on_bus 0x10de)
    if [ -n "$cards" ]; then fail GPU_DRIVER_ERROR "nvidia-smi found no device, yet NVIDIA $cards on the PCI bus: $(first_lines "$out")"; fi
    fail GPU_NOT_DETECTED "nvidia-smi: $(first_lines "$out")"
  fi
  if [ "$status" -ne 0 ]; then
    if ! module_loaded nvidia; then fail GPU_DRIVER_MISSING "nvidia-smi exit $status and the nvidia kernel module is not loaded: $(first_lines "$out")"; fi
    fail GPU_DRIVER_ERROR "nvidia-smi exit $status: $(first_lines "$out")"
  fi
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
    detail=$(printf '%s\n' "$out" | grep -i -m 3 -e error -e driver)
    if ! module_loaded amdgpu; then fail GPU_DRIVER_MISSING "rocm-smi is installed but the amdgpu kernel module is not loaded: $detail"; fi
    fail GPU_DRIVER_ERROR "rocm-smi exit $status: $detail"
  fi
  # Lines look like: GPU[0]<tabs>: Card series: <tabs>Navi 12 [Radeon Pro V520]
  series=$(printf '%s\n' "$out" | grep 'Card series:' || true)
  count=$(printf '%s\n' "$series" | grep -o '^GPU\[[0-9]*\]' | sort -u | grep -c . || true)
  if [ "$count" -eq 0 ]; then
    cards=$(on_bus 0x1002)
    if [ -n "$cards" ]; then fail GPU_DRIVER_ERROR "rocm-smi listed no GPU, yet AMD $cards on the PCI bus"; fi
    fail GPU_NOT_DETECTED "rocm-smi listed no GPU"
  fi
  model=$(trim "$(printf '%s\n' "$series" | head -n 1 | sed -e 's/^.*Card series:[[:space:]]*//')")
  driver_out=$(rocm-smi --showdriverversion 2>&1 || true)
  driver=$(trim "$(printf '%s\n' "$driver_out" | grep -m 1 'Driver version:' | sed -e 's/^.*Driver version:[[:space:]]*//')")
  [ -n "$driver" ] || driver=$(trim "$(cat "$HOST_ROOT/sys/module/amdgpu/version" 2>/dev/null || echo unknown)")
  printf '{"check":"gpu_detect","ok":true,"vendor":"amd","model":%s,"count":%s,"driverVersion":%s}\n' \
    "$(json_str "$model")" "$count" "$(json_str "$driver")"
  exit 0
fi

# No vendor tool: the PCI bus says whether a card is there for a driver to drive.
nvidia_cards=$(on_bus 0x10de)
amd_cards=$(on_bus 0x1002)
if [ -n "$nvidia_cards" ]; then fail GPU_DRIVER_MISSING "NVIDIA $nvidia_cards on the PCI bus ($VIEW), but nvidia-smi is not installed: the NVIDIA driver stack is missing"; fi
if [ -n "$amd_cards" ]; then fail GPU_DRIVER_MISSING "AMD $amd_cards on the PCI bus ($VIEW), but rocm-smi is not installed: the amdgpu driver and ROCm SMI are missing"; fi
if [ -n "$VIEW" ]; then fail GPU_NOT_DETECTED "no NVIDIA or AMD GPU on the PCI bus ($VIEW) and no GPU tool installed"; fi
fail GPU_TOOL_MISSING "neither nvidia-smi nor rocm-smi is on PATH, and the PCI bus is unreadable (no /sys/bus/pci, no lspci)"
