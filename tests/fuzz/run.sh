#!/bin/bash
# Runs every libFuzzer target of a `make fuzz-build` tree for SECONDS each, one at a time and
# at nice 10 (the machine is shared). Usage: run.sh BUILD_DIR SECONDS [TARGET...]
#
# Each target starts from its committed corpus (tests/fuzz/corpus/<target>/) plus what earlier
# runs found (BUILD_DIR/fuzz/corpus/<target>/, not committed). A crash, leak, timeout or
# out-of-memory input is copied into the committed corpus, where `make test` replays it as a
# regression input, and the run fails. Prints one line per target: CPU seconds, executions,
# libFuzzer's coverage (cov: edges) and features (ft:), and what it found.
set -u
build=$(cd "$1" && pwd)
seconds=$2
shift 2
src=$(cd "$(dirname "$0")" && pwd)
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for f in "$src"/*_fuzz.cc; do t=$(basename "$f" _fuzz.cc); targets+=("$t"); done
fi

tick=$(getconf CLK_TCK)
children_cpu() { awk -v t="$tick" '{ printf "%.1f", ($16 + $17) / t }' "/proc/$$/stat"; }

failed=0
summary=$build/fuzz/summary.txt
mkdir -p "$build/fuzz"
: > "$summary"
for t in "${targets[@]}"; do
  bin=$build/tests/fuzz/${t}_fuzz
  seeds=$src/corpus/$t
  work=$build/fuzz/corpus/$t
  artifacts=$build/fuzz/artifacts/$t
  log=$build/fuzz/$t.log
  if [ ! -x "$bin" ]; then echo "fuzz: no $bin (make fuzz-build)" >&2; failed=1; continue; fi
  if [ ! -d "$seeds" ]; then echo "fuzz: no seed corpus $seeds" >&2; failed=1; continue; fi
  mkdir -p "$work" "$artifacts"
  rm -f "$artifacts"/*  # an earlier run's finds are in the committed corpus already
  before=$(children_cpu)
  # At nice 10 on a busy machine a unit can wait seconds for a CPU: timeouts are generous, and
  # libFuzzer's "slow unit" files are noise, not finds.
  nice -n 10 "$bin" -max_total_time="$seconds" -timeout=30 -report_slow_units=60 \
    -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$artifacts/" "$work" "$seeds" \
    > "$log" 2>&1
  rc=$?
  after=$(children_cpu)
  cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -n 1)
  execs=$(grep -oE 'stat::number_of_executed_units: [0-9]+' "$log" | grep -oE '[0-9]+$')
  found=""
  for a in "$artifacts"/crash-* "$artifacts"/leak-* "$artifacts"/oom-* "$artifacts"/timeout-*; do
    [ -e "$a" ] || continue
    name=$(basename "$a")
    if [ ! -e "$seeds/$name" ]; then
      cp "$a" "$seeds/$name"
      found="$found $name"
    fi
  done
  status=ok
  if [ "$rc" -ne 0 ] || [ -n "$found" ]; then
    status="FOUND:${found:- (exit $rc, see $log)}"
    failed=1
  fi
  line=$(printf '%-14s cpu %6ss  execs %10s  %-22s %s' "$t" \
    "$(awk -v a="$before" -v b="$after" 'BEGIN { printf "%.0f", b - a }')" "${execs:-?}" \
    "${cov:-cov: ?}" "$status")
  echo "$line" | tee -a "$summary"
done
if [ "$failed" -ne 0 ]; then
  echo "fuzz: new inputs in tests/fuzz/corpus/ reproduce the failures (see $build/fuzz/*.log)" >&2
fi
exit "$failed"
