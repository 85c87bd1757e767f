# Helpers shared by the benchmark scripts (bash). Source it.

now() { date +%s.%N; }
# Seconds since START (a `now` value).
since() { echo "$(now) - $1" | bc -l; }
# The median of the numbers on stdin, one a line, unformatted.
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
# The summed PSS of the given pids, KiB (from /proc/PID/smaps_rollup).
pss_kib() {
  local total=0 p v
  for p in "$@"; do
    v=$(awk '/^Pss:/ {print $2}' "/proc/$p/smaps_rollup" 2>/dev/null)
    total=$((total + ${v:-0}))
  done
  echo $total
}
