#!/bin/bash
# The README's first command ends here: run a busybox container in a real VM and show that its
# kernel is the guest's, not the host's.
# Usage: demo.sh <cmake build dir> <assets dir>
set -eu
BUILD=$(cd "$1" && pwd)
ASSETS=$(cd "$2" && pwd)
KATA_BUILD=$BUILD KATA_ASSETS=$ASSETS TEST_ROOT=/run/kata-demo . "$(dirname "$0")/integration/lib.sh"
set +u
trap 'cleanup_all' EXIT
rm -rf /run/kata-demo/bundle
make_bundle /run/kata-demo/bundle false '{}' sh -c 'echo "hello from a kata-cpp VM: guest kernel $(uname -r)"'
echo "host kernel: $(uname -r)"
rt run --bundle /run/kata-demo/bundle demo-$$ </dev/null
