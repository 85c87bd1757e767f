# Shared helpers for the VM integration suites (bash). Source it; it expects:
#   KATA_BUILD   the CMake build dir (binaries in $KATA_BUILD/bin, configuration-dev.toml)
#   KATA_ASSETS  the guest assets dir (defaults to $KATA_BUILD/assets)
# Every suite runs as root against real QEMU with the built guest kernel and initrd.

set -u
KATA_ASSETS=${KATA_ASSETS:-$KATA_BUILD/assets}
RUNTIME="$KATA_BUILD/bin/kata-runtime"
KATA_CONFIG=${KATA_CONFIG:-$KATA_BUILD/configuration-dev.toml}
TEST_ROOT=${TEST_ROOT:-/run/kata-test-$$}
PASSED=0
FAILED=0
CURRENT=""

rt() { "$RUNTIME" --kata-config "$KATA_CONFIG" --root "$TEST_ROOT/state" "$@"; }

# Makes a busybox-static rootfs (relative applet symlinks) at $1.
make_rootfs() {
  local dir=$1
  mkdir -p "$dir/bin" "$dir/etc" "$dir/proc" "$dir/sys" "$dir/dev" "$dir/tmp" "$dir/root"
  cp /bin/busybox "$dir/bin/busybox"
  local applet
  for applet in $("$dir/bin/busybox" --list); do
    [ "$applet" = busybox ] || ln -sf busybox "$dir/bin/$applet"
  done
  echo 'root:x:0:0:root:/root:/bin/sh' > "$dir/etc/passwd"
  echo 'root:x:0:' > "$dir/etc/group"
}

# make_bundle DIR TERMINAL ANNOTATIONS_JSON ARG... : a bundle whose process runs ARG...
make_bundle() {
  local dir=$1 terminal=$2 annotations=$3
  shift 3
  local args="" a
  for a in "$@"; do
    a=${a//\\/\\\\}
    a=${a//\"/\\\"}
    args="$args${args:+, }\"$a\""
  done
  mkdir -p "$dir"
  make_rootfs "$dir/rootfs"
  cat > "$dir/config.json" <<JSON
{
  "ociVersion": "1.0.2",
  "process": {
    "terminal": $terminal,
    "user": {"uid": 0, "gid": 0},
    "args": [$args],
    "env": ["PATH=/bin", "TERM=xterm"],
    "cwd": "/",
    "capabilities": {
      "bounding": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
      "effective": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
      "permitted": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
    },
    "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
    "noNewPrivileges": true
  },
  "root": {"path": "rootfs", "readonly": false},
  "hostname": "kata-test",
  "mounts": [
    {"destination": "/proc", "type": "proc", "source": "proc"},
    {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
    {"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]},
    {"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
    {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]}
  ],
  "annotations": $annotations,
  "linux": {
    "namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}],
    "maskedPaths": ["/proc/kcore", "/proc/keys"],
    "readonlyPaths": ["/proc/sys", "/proc/sysrq-trigger"]
  }
}
JSON
}

# True while PID exists and is not a zombie (an exited detached process may wait for its reaper).
proc_running() {
  local state
  state=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$1/status" 2>/dev/null)
  [ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}

pass() { PASSED=$((PASSED + 1)); echo "ok   - $CURRENT"; }
fail() { FAILED=$((FAILED + 1)); echo "FAIL - $CURRENT: $*"; }
begin() { CURRENT=$1; echo "---- $CURRENT"; }

# expect_eq WHAT EXPECTED ACTUAL
expect_eq() {
  if [ "$2" = "$3" ]; then return 0; fi
  fail "$1: expected [$2], got [$3]"
  return 1
}

# expect_contains WHAT NEEDLE HAYSTACK
expect_contains() {
  case "$3" in *"$2"*) return 0 ;; esac
  fail "$1: [$3] does not contain [$2]"
  return 1
}

# Waits until `rt state ID` reports STATUS (or the container is gone when STATUS is "gone").
wait_status() {
  local id=$1 want=$2 tries=${3:-300} s
  while [ "$tries" -gt 0 ]; do
    s=$(rt state "$id" 2>/dev/null | sed -n 's/.*"status" *: *"\([a-z]*\)".*/\1/p')
    [ "$s" = "$want" ] && return 0
    sleep 0.1
    tries=$((tries - 1))
  done
  return 1
}

# Nothing of sandbox SID may remain: processes, mounts, state and lock files, sockets.
expect_no_residue() {
  local sid=$1 what=""
  pgrep -f "sandbox-$sid" >/dev/null && what="$what qemu"
  pgrep -f -- "-sandbox $sid" >/dev/null && what="$what proxy"
  pgrep -f -- "-container $sid " >/dev/null && what="$what shim"
  pgrep -f "virtiofsd.*/sandboxes/$sid/" >/dev/null && what="$what virtiofsd"
  grep -q "/shared/sandboxes/$sid" /proc/self/mountinfo && what="$what mounts"
  [ -e "/run/vc/sbs/$sid" ] && what="$what /run/vc/sbs/$sid"
  [ -e "/run/vc/locks/$sid.lock" ] && what="$what /run/vc/locks/$sid.lock"
  [ -e "/run/vc/vm/$sid" ] && what="$what /run/vc/vm/$sid"
  [ -e "/run/vc/netns/$sid" ] && what="$what /run/vc/netns/$sid"
  [ -e "/run/kata-containers/shared/sandboxes/$sid" ] && what="$what shared-dir"
  [ -e "$TEST_ROOT/state/$sid.json" ] && what="$what index"
  if [ -n "$what" ]; then
    fail "left behind for $sid:$what"
    return 1
  fi
  return 0
}

# Cleans every container this suite may have left (used from an EXIT trap).
cleanup_all() {
  local id
  for id in $(rt list -q 2>/dev/null); do rt delete --force "$id" >/dev/null 2>&1; done
  # Mounts a failed test made under its scratch dir, deepest first.
  findmnt -rn -o TARGET | grep "^$TEST_ROOT/" | sort -r | xargs -r -n 1 umount -l 2>/dev/null
  rm -rf "$TEST_ROOT"
}

# Prints the summary line CTest and CI read and returns non-zero on any failure.
finish() {
  echo "$PASSED passed, $FAILED failed"
  [ "$FAILED" -eq 0 ] && [ "$PASSED" -gt 0 ]
}

require_assets() {
  local f
  for f in "$KATA_ASSETS/vmlinux.container" "$KATA_ASSETS/kata-containers.img" \
           "$KATA_BUILD/bin/kata-proxy" "$KATA_BUILD/bin/kata-shim" "$RUNTIME"; do
    if [ ! -e "$f" ]; then
      echo "missing $f: run 'make assets' first" >&2
      echo "0 passed, 1 failed"
      exit 1
    fi
  done
}
