#!/bin/sh
# kata-proxy throughput and latency (see docs/performance.md, section kata-proxy).
# Usage: tests/bench/proxy_bench.sh [BUILD_DIR] [--mib N] [--rounds N]
set -eu
build=${1:-build}
[ $# -gt 0 ] && shift
bench="$build/tests/bench/proxy_bench"
if [ ! -x "$bench" ]; then
  cmake --build "$build" --target proxy_bench >/dev/null
fi
exec "$bench" "$@"
