#!/bin/sh
# replay.sh HOST_DIR TOOL [ARGS...]: replays the recorded output of `TOOL ARGS...`
# on the simulated host HOST_DIR (see README.md), from recordings/TOOL/, or from
# recordings/$REPLAY_RECORDINGS/ when the tool answers differently in another
# state of the host (e.g. rocm-smi without the amdgpu module loaded).
host_dir=$1
tool=$2
shift 2
key="$tool $*"
for cmd in "$host_dir/recordings/${REPLAY_RECORDINGS:-$tool}"/*.cmd; do
  [ -f "$cmd" ] || continue
  if [ "$(cat "$cmd")" = "$key" ]; then
    base=${cmd%.cmd}
    # A .delay file makes the tool as slow as it can be on a real host (seconds).
    [ -f "$base.delay" ] && sleep "$(cat "$base.delay")"
    # A .hold file keeps the tool answering until it is removed (a test holds a leg exactly as long as it needs).
    while [ -f "$base.hold" ]; do sleep 0.2; done
    [ -f "$base.out" ] && cat "$base.out"
    [ -f "$base.err" ] && cat "$base.err" >&2
    exit "$(cat "$base.exit" 2>/dev/null || echo 0)"
  fi
done
echo "simulated host $(basename "$host_dir"): no recording of: $key" >&2
exit 127
