#!/bin/bash
# `make bench`: every benchmark, against runc where it applies. Results go to stdout; the
# figures in docs/performance.md come from this command.
# Usage: run.sh <cmake build dir> <assets dir>
set -eu
BUILD=$1
ASSETS=$2
here=$(dirname "$0")
echo "## kata-proxy"
"$here/proxy_bench.sh" "$BUILD"
echo
echo "## Guest boot: QEMU start to the agent's Check"
"$here/boot_bench.sh" "$BUILD" "$ASSETS" 5
echo
echo "## kata-runtime vs runc"
KATA_ASSETS=$ASSETS "$here/runtime_bench.sh" "$BUILD" 5
echo
echo "## Docker: kata-runtime vs runc"
KATA_ASSETS=$ASSETS "$here/docker_bench.sh" "$BUILD" 5
echo
echo "## containerd: the kata shim v2 vs runc's shim"
KATA_ASSETS=$ASSETS "$here/containerd_bench.sh" "$BUILD" 5
echo
echo "## Kubernetes CRI: kata, kata-legacy and runc handlers"
KATA_ASSETS=$ASSETS "$here/cri_bench.sh" "$BUILD" 3 4
