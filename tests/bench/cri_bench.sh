#!/bin/bash
# Kubernetes CRI: kata-cpp's handlers (kata, kata-legacy) beside runc's, in the same run, on one
# private containerd with CNI (tests/integration/cri_lib.sh), driven by crictl: pod start
# (`crictl runp` until it returns a ready pod), pod + container to its first log line, each the
# median of RUNS (interleaved); PARALLEL pods started at once (wall time until all are ready);
# and the host PSS of an idle pod (every process naming the pod's id, with its descendants:
# QEMU and the shims; for runc the shim and pause).
# Usage: cri_bench.sh <cmake build dir> [runs] [parallel]   (boots VMs: under the VM lock)
# Prints a markdown table; docs/performance.md records its output.
KATA_BUILD=$(cd "$1" && pwd)
RUNS=${2:-3}
PARALLEL=${3:-4}
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/../integration/containerd_lib.sh"
CTRD_DIR=$TEST_ROOT/containerd
. "$(dirname "$0")/../integration/cri_lib.sh"
. "$(dirname "$0")/bench_lib.sh"
set +u
HANDLERS="kata kata-legacy runc"
missing=$(cri_missing)
[ -z "$missing" ] || { echo "cri_bench: missing: $(tr '\n' ' ' <<<"$missing")" >&2; exit 1; }
require_assets
cri_private
cri_start || { echo "containerd with CRI did not start" >&2; exit 1; }

pod_start() {  # NAME: seconds of runp (it returns once the pod is ready)
  local s pod
  s=$(now)
  pod=$(cri_runp "$1") || { echo "runp with $HANDLER failed" >&2; return 1; }
  since "$s"
  cri stopp "$pod" >/dev/null && cri rmp "$pod" >/dev/null
}

first_log_line() {  # NAME: seconds from runp to the container's first line in its CRI log
  local s pod c log=$CRI_DIR/logs/$1/first.log
  s=$(now)
  pod=$(cri_runp "$1") && c=$(cri_run "$1" "$pod" first '["sh", "-c", "echo first-line; exec sleep 100000"]') ||
    { echo "pod + container with $HANDLER failed" >&2; return 1; }
  local tries=3000
  until grep -q first-line "$log" 2>/dev/null; do
    tries=$((tries - 1))
    [ "$tries" -gt 0 ] || { echo "no first log line with $HANDLER" >&2; return 1; }
    sleep 0.02
  done
  since "$s"
  cri stopp "$pod" >/dev/null && cri rmp "$pod" >/dev/null
}

parallel_start() {  # PREFIX: seconds until PARALLEL pods started at once are all ready
  local s i pods waits=()
  s=$(now)
  for i in $(seq "$PARALLEL"); do
    cri_runp "$1-$i" >"$TEST_ROOT/$1-$i.id" &
    waits+=($!)
  done
  wait "${waits[@]}"  # not containerd, our child too
  since "$s"
  for i in $(seq "$PARALLEL"); do
    pods=$(cat "$TEST_ROOT/$1-$i.id")
    [ -n "$pods" ] || { echo "parallel runp $1-$i with $HANDLER failed" >&2; return 1; }
    cri stopp "$pods" >/dev/null && cri rmp "$pods" >/dev/null
  done
}

idle_pod_pss() {  # NAME: KiB of PSS of the host processes of an idle pod (one sleep container)
  local pod pids
  pod=$(cri_runp "$1") && cri_run "$1" "$pod" idle '["sleep", "100000"]' >/dev/null ||
    { echo "idle pod with $HANDLER failed" >&2; return 1; }
  sleep 10  # settled: the shims' start-up pages handed back
  # The processes naming the pod, and their descendants.
  pids=$(ps -eo pid=,ppid=,args= | awk -v pod="$pod" '
    { parent[$1] = $2; if (index($0, pod)) mark[$1] = 1 }
    END { for (p in parent) { q = p; while (q > 1) { if (q in mark) { print p; break } q = parent[q] } } }')
  pss_kib $pids
  cri stopp "$pod" >/dev/null && cri rmp "$pod" >/dev/null
}

for HANDLER in $HANDLERS; do : >"$TEST_ROOT/start-$HANDLER"; : >"$TEST_ROOT/log-$HANDLER"; done
for i in $(seq "$RUNS"); do
  for HANDLER in $HANDLERS; do
    pod_start "b$i-$HANDLER" >>"$TEST_ROOT/start-$HANDLER" || exit 1
    first_log_line "l$i-$HANDLER" >>"$TEST_ROOT/log-$HANDLER" || exit 1
  done
done
for HANDLER in $HANDLERS; do
  parallel_start "p-$HANDLER" >"$TEST_ROOT/par-$HANDLER" || exit 1
  idle_pod_pss "i-$HANDLER" >"$TEST_ROOT/pss-$HANDLER" || exit 1
done

row() {  # LABEL FORMAT FILE-PREFIX [scale]
  local h line="| $1 |"
  for h in $HANDLERS; do line="$line $(printf "$2" "$(median <"$TEST_ROOT/$3-$h")") |"; done
  echo "$line"
}
echo "| measure | kata (shim v2) | kata-legacy (kata-runtime) | runc |"
echo "|---|---|---|---|"
row "\`crictl runp\` to a ready pod (median of $RUNS)" '%.2f s' start
row "pod + container to its first log line (median of $RUNS)" '%.2f s' log
row "$PARALLEL pods started at once, all ready" '%.2f s' par
for h in $HANDLERS; do echo "scale=1; $(cat "$TEST_ROOT/pss-$h") / 1024" | bc >"$TEST_ROOT/pssm-$h"; done
row "host PSS of an idle pod (one \`sleep\`)" '%.1f MB' pssm
