#!/bin/bash
# Docker with kata-runtime beside runc, in the same run, on one private dockerd (the Docker
# suite's, tests/integration/docker_lib.sh): `docker run --rm IMAGE true` wall time,
# `docker run -d` to the container's first log line, and 10 containers started in parallel
# (`docker run -d` all at once, until all 10 are running). Medians of RUNS runs.
# Usage: docker_bench.sh <cmake build dir> [runs]
# Prints a markdown table; docs/performance.md records its output.
KATA_BUILD=$(cd "$1" && pwd)
RUNS=${2:-5}
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/../integration/docker_lib.sh"
. "$(dirname "$0")/bench_lib.sh"
set +u
require_assets
TAG=kdb-$$
CGROUP_PARENT=/$TAG
DOCKER_DIR=$TEST_ROOT/docker
IMAGE=$TAG:busybox
cleanup() {
  [ -n "$DOCKERD_PID" ] && docker_cli ps -aq | xargs -r /usr/bin/docker \
    -H "unix://$DOCKER_DIR/docker.sock" rm -f >/dev/null 2>&1
  stop_dockerd
  local d
  for d in /sys/fs/cgroup/*/"$TAG" /sys/fs/cgroup/"$TAG"; do [ -d "$d" ] && rmdir "$d" 2>/dev/null; done
  cleanup_all
}
trap cleanup EXIT
mkdir -p "$TEST_ROOT"
start_dockerd && import_busybox "$IMAGE" || { echo "dockerd did not start" >&2; exit 1; }

median2() { printf %.2f "$(median)"; }

run_true() {  # RUNTIME: seconds of `docker run --rm IMAGE true`
  local s
  s=$(now)
  docker_cli run --rm --runtime "$1" --network none "$IMAGE" true || echo "run_true failed" >&2
  since "$s"
}

first_log() {  # RUNTIME N: seconds from `docker run -d` until `docker logs` shows its line
  local s c=$TAG-log-$2
  s=$(now)
  docker_cli run -d --runtime "$1" --name "$c" --network none "$IMAGE" \
    sh -c 'echo ready; sleep 1000' >/dev/null
  until docker_cli logs "$c" 2>/dev/null | grep -q ready; do sleep 0.02; done
  since "$s"
  docker_cli rm -f "$c" >/dev/null
}

parallel10() {  # RUNTIME: seconds until 10 containers started at once are all running
  local s i
  s=$(now)
  for i in $(seq 10); do
    docker_cli run -d --runtime "$1" --name "$TAG-par-$i" --network none "$IMAGE" sleep 1000 \
      >/dev/null &
  done
  wait
  for i in $(seq 10); do
    until [ "$(docker_cli inspect -f '{{.State.Running}}' "$TAG-par-$i" 2>/dev/null)" = true ]; do
      sleep 0.05
    done
  done
  since "$s"
  docker_cli rm -f $(seq -f "$TAG-par-%g" 10) >/dev/null 2>&1
}

# Interleaved, so that the machine's drift hits both runtimes alike.
: >"$TEST_ROOT/kt" >"$TEST_ROOT/rt" >"$TEST_ROOT/kl" >"$TEST_ROOT/rl"
for i in $(seq "$RUNS"); do
  run_true kata-runtime >>"$TEST_ROOT/kt"
  run_true runc >>"$TEST_ROOT/rt"
  first_log kata-runtime "$i" >>"$TEST_ROOT/kl"
  first_log runc "$i" >>"$TEST_ROOT/rl"
done
kpar=$(parallel10 kata-runtime)
rpar=$(parallel10 runc)
samples() { awk '{printf "%s%.2f", (NR > 1 ? " " : ""), $1}' "$1"; }

echo "| measure | kata-runtime | runc | kata-runtime samples (s) |"
echo "|---|---|---|---|"
echo "| \`docker run --rm IMAGE true\` | $(median2 <"$TEST_ROOT/kt") s | $(median2 <"$TEST_ROOT/rt") s | $(samples "$TEST_ROOT/kt") |"
echo "| \`docker run -d\` to the first log line | $(median2 <"$TEST_ROOT/kl") s | $(median2 <"$TEST_ROOT/rl") s | $(samples "$TEST_ROOT/kl") |"
printf '| 10 `docker run -d` in parallel, all running | %.2f s | %.2f s | one run |\n' "$kpar" "$rpar"
