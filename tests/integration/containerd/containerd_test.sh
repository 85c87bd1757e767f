#!/bin/bash
# containerd end-to-end suite: a private containerd 1.6 (containerd_lib.sh) runs a locally
# imported busybox image with `ctr run --runtime $CTRD_RUNTIME`, by default the kata shim v2
# (io.containerd.kata.v2, containerd-shim-kata-v2 from the build) in real VMs.
# CTRD_RUNTIME=io.containerd.runc.v2 runs the same tests against runc's shim, which shows that
# the suite itself is right; the checks that only hold for VMs are then adapted where they are
# (uname -r is the host's, the bad option is --runc-binary, KATA_CONF_FILE changes nothing, no
# QEMU is counted). The tests are the test_* functions of the *_tests.sh files here, in file
# order; after each one the host must hold nothing that it did not hold before it.
# Usage: containerd_test.sh <cmake build dir> [test_function...]
# With the kata shim it boots VMs: run it under `flock /tmp/kata-vm.lock` (runc needs no lock).
KATA_BUILD=$(cd "$1" && pwd)
shift
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../lib.sh"
. "$HERE/../containerd_lib.sh"
CTRD_RUNTIME=${CTRD_RUNTIME:-io.containerd.kata.v2}
KATA_SHIM_V2=$KATA_BUILD/bin/containerd-shim-kata-v2
PTY_DRIVE="$HERE/../tools/pty_drive.py"
if [ "$CTRD_RUNTIME" = io.containerd.kata.v2 ]; then
  if [ ! -x "$KATA_SHIM_V2" ]; then
    echo "missing $KATA_SHIM_V2: the containerd shim v2 is not built (issue 21)" >&2
    echo "0 passed, 1 failed"
    exit 1
  fi
  require_assets
  GUEST_KERNEL=$(cat "$KATA_ASSETS/kernel-version")
fi
ctrd_private ctrd

is_kata() { [ "$CTRD_RUNTIME" = io.containerd.kata.v2 ]; }

# crun ARG...: ctr run with the suite's runtime.
crun() { ctrd_cli run --runtime "$CTRD_RUNTIME" "$@"; }

for f in "$HERE"/*_tests.sh; do [ -e "$f" ] && . "$f"; done
if [ $# -gt 0 ]; then
  tests=("$@")
else
  mapfile -t tests < <(sed -n 's/^\(test_[a-z0-9_]*\)() {$/\1/p' "$HERE"/*_tests.sh 2>/dev/null)
fi

begin "a private containerd starts and imports the busybox image ($CTRD_RUNTIME)"
if start_containerd && ctrd_import_busybox; then
  pass
  for t in "${tests[@]}"; do
    ctrd_host_snapshot >"$TEST_ROOT/before"
    "$t"
    CURRENT="$t: nothing left behind"
    expect_ctrd_clean "$TEST_ROOT/before" || ctrd_remove_all
  done
else
  fail "$(tail -n 3 "$CTRD_DIR/containerd.log" 2>/dev/null)"
fi
finish
