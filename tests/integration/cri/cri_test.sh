#!/bin/bash
# Kubernetes CRI suite (issue 22): a private containerd 1.6 with its CRI plugin
# (containerd_lib.sh's --cri), driven by crictl as the kubelet would drive it, runs pods in real
# VMs through both of kata-cpp's runtime handlers:
#   kata         runtime_type io.containerd.kata.v2 (containerd-shim-kata-v2 from the build)
#   kata-legacy  io.containerd.runtime.v1.linux: containerd-shim (v1) calling our kata-runtime
# Pods get their network from CNI (bridge cri-br<pid>, host-local 10.231.0.0/24, loopback,
# portmap; plugins from /usr/lib/cni); the sandbox image is a local busybox "pause" image and
# the busybox image is imported into the k8s.io namespace: no registry is needed.
# The tests are the test_* functions of the *_tests.sh files here, in file order; each runs
# once per handler (CRI_HANDLERS, default "kata kata-legacy"), and after each run the host
# must hold nothing that it did not hold before it (VMs, shims, mounts, /run/vc, netns, links,
# the pods' cgroups, CRI pods and containers).
# Usage: cri_test.sh <cmake build dir> [test_function...]   (boots VMs: run it under
# `flock /tmp/kata-vm.lock`). CRICTL overrides the client (default: ../shared/bin/crictl beside
# the source tree).
KATA_BUILD=$(cd "$1" && pwd)
shift
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../lib.sh"
. "$HERE/../containerd_lib.sh"
CTRD_DIR=$TEST_ROOT/containerd
. "$HERE/../cri_lib.sh"
PTY_DRIVE="$HERE/../tools/pty_drive.py"
CRI_HANDLERS=${CRI_HANDLERS:-kata kata-legacy}

missing=$(cri_missing)
if [ -n "$missing" ]; then
  echo "cannot run the CRI suite, missing: $(tr '\n' ' ' <<<"$missing")" >&2
  echo "0 passed, 1 failed"
  exit 1
fi
require_assets

cri_private

# What this suite may leave beside containerd_lib.sh's snapshot: the pods' cgroups (children
# of the pod cgroups, which the "kubelet", this suite, owns), the legacy runtime's state dirs
# and containerd's shim sockets.
cri_host_snapshot() {
  {
    ctrd_host_snapshot
    local d
    for d in /sys/fs/cgroup/*/"$CRI_CGROUP"/*/*/; do [ -d "$d" ] && echo "cgroup $d"; done
    for d in "$CRI_LEGACY_ROOT"/*/* /run/containerd/s/*; do [ -e "$d" ] && echo "state $d"; done
    # ctr lists only containerd's records; CRI's own view too.
    cri pods -q 2>/dev/null | sed 's/^/pod /'
  } | sort
}

expect_cri_clean() {
  local tries=${2:-100} left
  while :; do
    left=$(comm -13 "$1" <(cri_host_snapshot))
    [ -z "$left" ] && return 0
    tries=$((tries - 1))
    [ "$tries" -gt 0 ] || break
    sleep 0.1
  done
  fail "left behind: $(tr '\n' ';' <<<"$left" | cut -c1-1500)"
  return 1
}

for f in "$HERE"/*_tests.sh; do [ -e "$f" ] && . "$f"; done
if [ $# -gt 0 ]; then
  tests=("$@")
else
  mapfile -t tests < <(sed -n 's/^\(test_[a-z0-9_]*\)() {$/\1/p' "$HERE"/*_tests.sh 2>/dev/null)
fi

begin "a private containerd with CRI starts; pause and busybox images imported into k8s.io"
if cri_start && out=$(cri images 2>&1) && expect_contains "crictl images" cri-pause "$out"; then
  pass
  for t in "${tests[@]}"; do
    for HANDLER in $CRI_HANDLERS; do
      cri_host_snapshot >"$TEST_ROOT/before"
      "$t"
      CURRENT="$t [$HANDLER]: nothing left behind"
      if ! expect_cri_clean "$TEST_ROOT/before"; then
        echo "     containerd's last errors:"
        grep -E 'level=(error|warning)' "$CTRD_DIR/containerd.log" | grep -v deprecated |
          tail -n 5 | cut -c1-400 | sed 's/^/     /'
        cri_remove_all
        ctrd_remove_all
      fi
    done
  done
else
  fail "$(tail -n 3 "$CTRD_DIR/containerd.log" 2>/dev/null)"
fi
finish
