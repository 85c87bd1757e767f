#!/bin/bash
# kata-runtime against runc on the same busybox bundle: time from `run` to the workload's first
# output, host memory (PSS) of an idle container, exec round trip, stdout throughput.
# Usage: runtime_bench.sh <cmake build dir> [runs]
# Prints a markdown table; docs/performance.md records its output.
KATA_BUILD=$(cd "$1" && pwd)
RUNS=${2:-5}
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/bench_lib.sh"
set +u
require_assets
trap 'cleanup_all; runc delete -f bench-runc >/dev/null 2>&1' EXIT
mkdir -p "$TEST_ROOT"
B=$TEST_ROOT/bundles

# Seconds from starting `$@` until its first byte of output.
first_output() {
  local start end
  start=$(now)
  "$@" </dev/null | head -c 1 >/dev/null
  end=$(now)
  echo "$end - $start" | bc -l
}

make_bundle "$B/hello" false '{}' echo hello
make_bundle "$B/idle" false '{}' sleep 100000

# 1. run -> first output
kata_boot=$(for i in $(seq "$RUNS"); do first_output rt run --bundle "$B/hello" "bench-boot-$i"; done | median)
runc_boot=$(for i in $(seq "$RUNS"); do first_output runc --root "$TEST_ROOT/runc" run --bundle "$B/hello" "bench-runc-$i"; done | median)

# 2. idle container memory
rt run -d --bundle "$B/idle" --pid-file "$TEST_ROOT/idle.pid" bench-idle </dev/null >/dev/null
sleep 10  # settled: the shim hands back its start-up pages after 5 s
shim=$(cat "$TEST_ROOT/idle.pid")
qemu=$(cat /run/vc/vm/bench-idle/pid)
proxy=$(pgrep -f -- "-sandbox bench-idle")
qemu_pss=$(pss_kib "$qemu"); proxy_pss=$(pss_kib "$proxy"); shim_pss=$(pss_kib "$shim")
runc --root "$TEST_ROOT/runc" run -d --bundle "$B/idle" --pid-file "$TEST_ROOT/runc.pid" bench-runc </dev/null >/dev/null 2>&1
runc_pss=$(pss_kib "$(cat "$TEST_ROOT/runc.pid")")

# 3. exec round trip
kata_exec=$(for i in $(seq "$RUNS"); do s=$(now); rt exec bench-idle true </dev/null; e=$(now); echo "$e - $s" | bc -l; done | median)
runc_exec=$(for i in $(seq "$RUNS"); do s=$(now); runc --root "$TEST_ROOT/runc" exec bench-runc true </dev/null; e=$(now); echo "$e - $s" | bc -l; done | median)

# 4. stdout throughput (256 MiB through the shim / straight from runc)
MIB=256
tp() {
  local s e
  s=$(now)
  "$@" </dev/null | wc -c >/dev/null
  e=$(now)
  echo "$MIB / ($e - $s)" | bc -l
}
# Median of 3: single transfers through the emulated guest vary by a third.
tp3() { local i; for i in 1 2 3; do tp "$@" dd if=/dev/zero bs=1048576 count=$MIB 2>/dev/null; done | median; }
kata_tp=$(tp3 rt exec bench-idle)
runc_tp=$(tp3 runc --root "$TEST_ROOT/runc" exec bench-runc)

rt delete --force bench-idle
runc --root "$TEST_ROOT/runc" delete -f bench-runc

printf '| measure | kata-cpp | runc |\n|---|---|---|\n'
printf '| run to first output (median of %d) | %.2f s | %.3f s |\n' "$RUNS" "$kata_boot" "$runc_boot"
printf '| idle container host PSS | %.1f MB (QEMU %.1f + proxy %.1f + shim %.1f) | %.1f MB |\n' \
  "$(echo "($qemu_pss + $proxy_pss + $shim_pss)/1024" | bc -l)" "$(echo "$qemu_pss/1024" | bc -l)" \
  "$(echo "$proxy_pss/1024" | bc -l)" "$(echo "$shim_pss/1024" | bc -l)" "$(echo "$runc_pss/1024" | bc -l)"
printf '| exec round trip (median of %d) | %.3f s | %.3f s |\n' "$RUNS" "$kata_exec" "$runc_exec"
printf '| stdout throughput (%d MiB, median of 3) | %.1f MiB/s | %.1f MiB/s |\n' "$MIB" "$kata_tp" "$runc_tp"
