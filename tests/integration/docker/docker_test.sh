#!/bin/bash
# Docker end-to-end suite: a private dockerd 20.10 (docker_lib.sh) with kata-runtime
# registered runs busybox containers in real VMs, beside runc where the test compares.
# The tests are the test_* functions of the *_tests.sh files here, run in file order.
# Usage: docker_test.sh <cmake build dir> [test_function...]
KATA_BUILD=$(cd "$1" && pwd)
shift
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../lib.sh"
. "$HERE/../docker_lib.sh"
require_assets
TAG=kdk-$$
CGROUP_PARENT=/$TAG
DOCKER_DIR=$TEST_ROOT/docker
IMAGE=$TAG:busybox
# The daemon runs in its own network namespace (docker_lib.sh): a private default bridge.
DOCKER_NETNS=$TAG

cleanup() {
  local d
  if [ -n "$DOCKERD_PID" ]; then
    docker_cli ps -aq | xargs -r /usr/bin/docker -H "unix://$DOCKER_DIR/docker.sock" rm -f \
      >/dev/null 2>&1
  fi
  stop_dockerd
  for d in /sys/fs/cgroup/*/"$TAG" /sys/fs/cgroup/"$TAG"; do [ -d "$d" ] && rmdir "$d" 2>/dev/null; done
  cleanup_all
}
trap cleanup EXIT
mkdir -p "$TEST_ROOT"

# kdrun ARG...: docker run with kata-runtime, removed at exit.
kdrun() { docker_cli run --runtime kata-runtime --rm "$@"; }

# Every kata-runtime process Docker started has exited and left nothing behind.
expect_docker_clean() {
  local what=""
  pgrep -f "qemu.*sandbox-" >/dev/null && what="$what qemu"
  pgrep -x kata-proxy >/dev/null && what="$what proxy"
  pgrep -x kata-shim >/dev/null && what="$what shim"
  grep -q "/kata-containers/shared/sandboxes/" /proc/self/mountinfo && what="$what mounts"
  [ -n "$(ls -A /run/vc/sbs 2>/dev/null)" ] && what="$what /run/vc/sbs"
  [ -n "$(ls -A /run/vc/netns 2>/dev/null)" ] && what="$what /run/vc/netns"
  if [ -n "$what" ]; then
    fail "left behind:$what"
    return 1
  fi
  return 0
}

# ---- the basic promise; the other files add theirs -------------------------------------------

test_run_in_a_vm() {
  begin "docker run --runtime kata-runtime runs in the guest kernel, output and exit code"
  local out rc host
  host=$(uname -r)
  out=$(kdrun --network none "$IMAGE" sh -c 'uname -r; exit 3' 2>&1)
  rc=$?
  expect_eq "exit code" 3 "$rc" || return
  [ -n "$out" ] && [ "$out" != "$host" ] || { fail "uname -r gave [$out], the host's is [$host]"; return; }
  expect_docker_clean && pass
}

for f in "$HERE"/*_tests.sh; do [ -e "$f" ] && . "$f"; done
if [ $# -gt 0 ]; then
  tests=("$@")
else
  mapfile -t tests < <(sed -n 's/^\(test_[a-z0-9_]*\)() {$/\1/p' "$0" "$HERE"/*_tests.sh 2>/dev/null)
fi

begin "a private dockerd starts and imports the busybox image"
if start_dockerd && import_busybox "$IMAGE"; then
  pass
  for t in "${tests[@]}"; do "$t"; done
else
  fail "$(tail -n 3 "$DOCKER_DIR/dockerd.log" 2>/dev/null)"
fi
finish
