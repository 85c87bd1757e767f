#!/bin/bash
# containerd with the kata shim v2 beside runc's shim, in the same run, on one private
# containerd (the containerd suite's, tests/integration/containerd_lib.sh): `ctr run --rm IMAGE
# true` wall time (median of RUNS, interleaved), and the host PSS of the shim process of an idle
# pod (one `sleep` container), the kata shim's beside runc's.
# CTRD_RUNTIME=io.containerd.runc.v2 puts runc's shim in the kata column (to try the script).
# Usage: containerd_bench.sh <cmake build dir> [runs]
# Prints a markdown table; docs/performance.md records its output.
KATA_BUILD=$(cd "$1" && pwd)
RUNS=${2:-5}
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/../integration/containerd_lib.sh"
. "$(dirname "$0")/bench_lib.sh"
set +u
KATA=${CTRD_RUNTIME:-io.containerd.kata.v2}
RUNC=io.containerd.runc.v2
if [ "$KATA" = io.containerd.kata.v2 ]; then
  if [ ! -x "$KATA_BUILD/bin/containerd-shim-kata-v2" ]; then
    echo "missing $KATA_BUILD/bin/containerd-shim-kata-v2: the containerd shim v2 is not built (issue 21)" >&2
    exit 1
  fi
  require_assets
fi
ctrd_private ctrdb
start_containerd && ctrd_import_busybox || { echo "containerd did not start" >&2; exit 1; }

run_true() {  # RUNTIME ID: seconds of `ctr run --rm IMAGE ID true`
  local s
  s=$(now)
  ctrd_cli run --rm --runtime "$1" "$CTRD_IMAGE" "$2" true </dev/null ||
    { echo "ctr run --runtime $1 failed" >&2; return 1; }
  since "$s"
}

idle_shim_pss() {  # RUNTIME ID: KiB of PSS of the shim of an idle one-container pod
  local pid
  ctrd_cli run -d --runtime "$1" "$CTRD_IMAGE" "$2" sleep 100000 </dev/null >/dev/null &&
    wait_task_status "$2" RUNNING 1200 || { echo "ctr run -d --runtime $1 failed" >&2; return 1; }
  sleep 10  # settled: start-up pages handed back
  pid=$(ctrd_shim_pid "$2")
  [ -n "$pid" ] || { echo "no shim process for $2" >&2; return 1; }
  pss_kib "$pid"
  ctrd_cli tasks kill -s KILL "$2" >/dev/null
  wait_task_status "$2" STOPPED 600
  ctrd_cli tasks delete "$2" >/dev/null 2>&1
  ctrd_cli containers delete "$2" >/dev/null
}

# The issue's yardstick for the shim: `kata-runtime run` of a bundle of the same busybox.
make_bundle "$TEST_ROOT/cli-bundle" false '{}' true
run_cli_true() {  # ID: seconds of `kata-runtime run` of that bundle
  local s
  s=$(now)
  rt run --bundle "$TEST_ROOT/cli-bundle" "$1" </dev/null >/dev/null ||
    { echo "kata-runtime run failed" >&2; return 1; }
  since "$s"
  rt delete --force "$1" >/dev/null 2>&1 || true  # run removes it; a failed run may not
}

# Interleaved, so that the machine's drift hits every runtime alike.
: >"$TEST_ROOT/kt"
: >"$TEST_ROOT/rt"
: >"$TEST_ROOT/ct"
for i in $(seq "$RUNS"); do
  run_true "$KATA" "$CTRD_NS-k$i" >>"$TEST_ROOT/kt" || exit 1
  run_true "$RUNC" "$CTRD_NS-r$i" >>"$TEST_ROOT/rt" || exit 1
  if [ "$KATA" = io.containerd.kata.v2 ]; then
    run_cli_true "$CTRD_NS-c$i" >>"$TEST_ROOT/ct" || exit 1
  fi
done
kpss=$(idle_shim_pss "$KATA" "$CTRD_NS-kidle") || exit 1
rpss=$(idle_shim_pss "$RUNC" "$CTRD_NS-ridle") || exit 1
samples() { awk '{printf "%s%.2f", (NR > 1 ? " " : ""), $1}' "$1"; }

echo "| measure | $KATA | $RUNC | $KATA samples (s) |"
echo "|---|---|---|---|"
printf '| `ctr run --rm IMAGE true` (median of %d) | %.2f s | %.2f s | %s |\n' "$RUNS" \
  "$(median <"$TEST_ROOT/kt")" "$(median <"$TEST_ROOT/rt")" "$(samples "$TEST_ROOT/kt")"
if [ -s "$TEST_ROOT/ct" ]; then
  printf '| `kata-runtime run` of a busybox bundle, `true` (median of %d) | %.2f s | | %s |\n' \
    "$RUNS" "$(median <"$TEST_ROOT/ct")" "$(samples "$TEST_ROOT/ct")"
fi
printf '| shim PSS, idle pod (one `sleep`) | %.1f MB | %.1f MB | one run |\n' \
  "$(echo "$kpss / 1024" | bc -l)" "$(echo "$rpss / 1024" | bc -l)"
