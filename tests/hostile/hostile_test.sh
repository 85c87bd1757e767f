#!/bin/bash
# The hostile suite: the guest's root, with every capability, attacks the host through the
# shared directory; runtime commands are repeated or killed half-way. Every attack is tried
# with "/" private and again with "/" shared (systemd's default on real hosts: the second run
# happens in a mount namespace of its own made rshared, so the host's own mounts are not
# touched). Real QEMU, real mounts, the built guest.
# Usage: hostile_test.sh <cmake build dir> [test name...]
#        hostile_test.sh <cmake build dir> --in-shared-root <test name>   (internal)
KATA_BUILD=$(cd "$1" && pwd)
shift
HOSTILE_DIR=$(cd "$(dirname "$0")" && pwd)
. "$HOSTILE_DIR/../integration/lib.sh"
require_assets
trap cleanup_all EXIT
mkdir -p "$TEST_ROOT"
B=$TEST_ROOT/bundles

# Every capability there is: the container's root may remount, mknod, chmod, chown anything.
ALL_CAPS='["CAP_CHOWN","CAP_DAC_OVERRIDE","CAP_DAC_READ_SEARCH","CAP_FOWNER","CAP_FSETID",
"CAP_KILL","CAP_SETGID","CAP_SETUID","CAP_SETPCAP","CAP_LINUX_IMMUTABLE","CAP_NET_BIND_SERVICE",
"CAP_NET_BROADCAST","CAP_NET_ADMIN","CAP_NET_RAW","CAP_IPC_LOCK","CAP_IPC_OWNER","CAP_SYS_MODULE",
"CAP_SYS_RAWIO","CAP_SYS_CHROOT","CAP_SYS_PTRACE","CAP_SYS_PACCT","CAP_SYS_ADMIN","CAP_SYS_BOOT",
"CAP_SYS_NICE","CAP_SYS_RESOURCE","CAP_SYS_TIME","CAP_SYS_TTY_CONFIG","CAP_MKNOD","CAP_LEASE",
"CAP_AUDIT_WRITE","CAP_AUDIT_CONTROL","CAP_SETFCAP","CAP_MAC_OVERRIDE","CAP_MAC_ADMIN",
"CAP_SYSLOG","CAP_WAKE_ALARM","CAP_BLOCK_SUSPEND","CAP_AUDIT_READ"]'

# mode bits of a host file, in octal (e.g. 4755)
mode_of() { stat -c %a "$1" 2>/dev/null; }

# A capability bit of /proc/PID/status's CapBnd.
has_bounding_cap() {
  local mask
  mask=$(sed -n 's/^CapBnd:[[:space:]]*//p' "/proc/$1/status")
  [ $(( (16#$mask >> $2) & 1 )) -eq 1 ]
}

test_share_attacks() {
  local mode=${ROOT_PROPAGATION:-private}
  begin "guest root vs the share (/ $mode): ro volume, ro rootfs, device nodes, setuid, symlinks at teardown"
  local id=hostile-share-$mode d=$TEST_ROOT/share-$mode out qpid
  local vol=$d/vol rw=$d/rw canary=$d/canary fresh=$d/fresh
  mkdir -p "$vol/sub" "$rw/sub2/inner" "$canary/m" "$fresh"
  # The user's own host mounts: one inside the read-only volume, one inside the writable one,
  # and a canary elsewhere that a planted symlink will point at.
  echo orig > "$vol/f"
  mount -t tmpfs hostile-ro-sub "$vol/sub" && echo orig > "$vol/sub/g"
  mount -t tmpfs hostile-rw-inner "$rw/sub2/inner" && echo user > "$rw/sub2/inner/keep"
  mount -t tmpfs hostile-canary "$canary/m" && echo canary > "$canary/m/c"
  cp /bin/busybox "$rw/suid-existing" && chmod 4755 "$rw/suid-existing"
  echo fresh > "$fresh/in"
  make_bundle "$d/b" false '{}' sleep 1000
  python3 - "$d/b/config.json" "$vol" "$rw" "$fresh" "$ALL_CAPS" <<'PY'
import json, sys
path, vol, rw, fresh, caps = sys.argv[1:6]
spec = json.load(open(path))
caps = json.loads(caps)
spec["process"]["capabilities"] = {k: caps for k in ("bounding", "effective", "permitted")}
spec["process"]["noNewPrivileges"] = False
spec["root"]["readonly"] = True
spec["mounts"] += [
    {"destination": "/ro", "type": "bind", "source": vol, "options": ["rbind", "ro"]},
    {"destination": "/rw", "type": "bind", "source": rw, "options": ["rbind", "rw"]},
    # Not in the rootfs: the runtime must create it before sharing the rootfs read-only.
    {"destination": "/fresh/dir", "type": "bind", "source": fresh, "options": ["rbind", "ro"]},
]
json.dump(spec, open(path, "w"))
PY
  # (The detached shim keeps run's stdout: a file, not a pipe that would never close.)
  rt run -d --bundle "$d/b" "$id" </dev/null >"$d/run.out" 2>&1 ||
    { fail "run -d: $(tail -c 600 "$d/run.out")"; return; }
  e() { rt exec "$id" sh -c "$1" </dev/null 2>&1; }

  # 1. A read-only volume, remounted read-write by the guest's root, still refuses writes,
  #    nested mount included.
  out=$(e 'mount -o remount,rw /ro; echo pwned > /ro/f; echo pwned > /ro/sub/g; echo pwned > /ro/new; awk "\$2 == \"/ro\" {print \"ro-opts:\" \$4}" /proc/mounts')
  expect_contains "the guest's remount of /ro" "ro-opts:rw," "$out" || return
  expect_contains "write to the ro volume" "Read-only file system" "$out" || return
  expect_eq "host file of the ro volume" orig "$(cat "$vol/f")" || return
  expect_eq "host file of the ro volume's nested mount" orig "$(cat "$vol/sub/g")" || return
  [ ! -e "$vol/new" ] || { fail "the guest created a file in the ro volume"; return; }

  # 2. root.readonly holds on the host too; the missing mount point was made for the guest.
  out=$(e 'mount -o remount,rw /; echo pwned > /bin/pwned; cat /fresh/dir/in; awk "\$2 == \"/\" {print \"root-opts:\" \$4}" /proc/mounts')
  expect_contains "the guest's remount of /" "root-opts:rw," "$out" || return
  [ ! -e "$d/b/rootfs/bin/pwned" ] || { fail "the guest wrote into the read-only rootfs"; return; }
  expect_contains "volume at a mount point made in the ro rootfs" fresh "$out" || return

  # 3. Device nodes never reach the host, setuid/setgid bits neither; plain files do.
  out=$(e 'mknod /rw/sda b 8 0; mknod /rw/mem c 1 1; cp /bin/busybox /rw/suid; chmod 4755 /rw/suid; chmod 2755 /rw/suid; chmod u+s,g+s /rw/suid; echo >> /rw/suid-existing; echo plain > /rw/plain; ls -l /rw')
  [ ! -e "$rw/sda" ] && [ ! -e "$rw/mem" ] || { fail "a guest-made device node is on the host: $(ls -l "$rw")"; return; }
  expect_contains "device nodes refused" "mknod: /rw/sda: Operation not permitted" "$out" || return
  expect_eq "plain file the guest wrote" plain "$(cat "$rw/plain" 2>/dev/null)" || return
  local m
  m=$(mode_of "$rw/suid")
  [ -n "$m" ] && [ $(( 8#$m & 06000 )) -eq 0 ] || { fail "guest-set setuid/setgid bits on the host: $m"; return; }
  expect_eq "setuid file the guest wrote to" 755 "$(mode_of "$rw/suid-existing")" || return

  # QEMU serves the share without the capabilities for it, under a seccomp filter.
  qpid=$(cat "/run/vc/vm/$id/pid")
  for cap in 4 27 31; do  # FSETID MKNOD SETFCAP
    if has_bounding_cap "$qpid" $cap; then fail "QEMU holds capability $cap"; return; fi
  done
  expect_eq "QEMU seccomp mode" 2 "$(sed -n 's/^Seccomp:[[:space:]]*//p' "/proc/$qpid/status")" || return

  # 4. The guest replaces a directory above a nested mount with a symlink to a host path, then
  #    the container is deleted: the runtime's teardown must not follow it.
  e "mv /rw/sub2 /rw/moved && ln -s $canary /rw/sub2 && ls -l /rw/sub2" >/dev/null
  [ -L "$rw/sub2" ] || { fail "the guest could not plant its symlink"; return; }
  # ... and keeps planting symlinks to host paths, FIFOs, deep trees and files while the delete
  # runs.
  rt exec -d "$id" sh -c "i=0; while :; do i=\$((i+1)); ln -sfn $canary /rw/l\$i; ln -sfn / /rw/root\$i; mkdir -p /rw/deep\$i/a/b/c/d/e/f/g/h; head -c 1048576 /dev/zero > /rw/f\$i; done" \
    </dev/null >/dev/null 2>&1 || { fail "exec the planter"; return; }
  for _ in $(seq 100); do [ -e "$rw/f3" ] && break; sleep 0.1; done
  [ -e "$rw/f3" ] || { fail "the planter did not run"; return; }
  rt delete --force "$id" || { fail "delete --force"; return; }
  mountpoint -q "$canary/m" || { fail "teardown unmounted the canary through a planted symlink"; return; }
  mountpoint -q "$rw/moved/inner" || { fail "teardown unmounted the user's mount in the rw volume"; return; }
  mountpoint -q "$vol/sub" || { fail "teardown unmounted the user's mount in the ro volume"; return; }
  expect_eq "user's file in the rw volume's mount" user "$(cat "$rw/moved/inner/keep")" || return
  expect_no_residue "$id" || return
  umount "$vol/sub" "$rw/moved/inner" "$canary/m"
  pass
}

test_pod_member_races() {
  begin "pod members: a duplicate create, a create killed half-way, an id named like a lock file"
  local pod=hostile-pod out rc
  make_bundle "$B/hpod" false '{"io.kubernetes.cri.container-type": "sandbox", "io.kubernetes.cri.sandbox-id": "hostile-pod"}' sleep 1000
  make_bundle "$B/hmember" false '{"io.kubernetes.cri.container-type": "container", "io.kubernetes.cri.sandbox-id": "hostile-pod"}' sleep 1000
  rt run -d --bundle "$B/hpod" $pod </dev/null >/dev/null 2>&1 || { fail "pod sandbox"; return; }
  rt run -d --bundle "$B/hmember" hostile-m1 </dev/null >/dev/null 2>&1 || { fail "member"; return; }
  # The same member id again, from another --root: refused, and the first one is untouched.
  out=$("$RUNTIME" --kata-config "$KATA_CONFIG" --root "$TEST_ROOT/other-root" create \
        --bundle "$B/hmember" hostile-m1 </dev/null 2>&1); rc=$?
  [ $rc -ne 0 ] || { fail "a second create of hostile-m1 succeeded"; return; }
  expect_contains "duplicate member" "already exists" "$out" || return
  out=$(rt exec hostile-m1 sh -c 'cat /proc/1/cmdline | tr "\0" " "; ls /bin/sh' </dev/null 2>&1)
  expect_contains "first member still runs with its rootfs" "/bin/sh" "$out" || return
  # An id named like the pod's old lock file: nothing of the pod is touched.
  out=$(rt delete --force ".$pod.lock" 2>&1); rc=$?
  [ $rc -ne 0 ] || { fail "delete --force .$pod.lock succeeded"; return; }
  [ -e "/run/vc/locks/$pod.lock" ] || { fail "the pod's lock file is gone"; return; }
  # A member whose create is killed once its container exists in the guest and its shim runs,
  # before its state is saved: delete --force removes it alone, the pod keeps its VM.
  make_bundle "$B/hm2" false '{"io.kubernetes.cri.container-type": "container", "io.kubernetes.cri.sandbox-id": "hostile-pod"}' sleep 1000
  KATA_CRASH_POINT=create:shim rt create --bundle "$B/hm2" hostile-m2 </dev/null >/dev/null 2>&1
  rc=$?
  expect_eq "create killed at create:shim (SIGKILL)" 137 "$rc" || return
  grep -q "/sandboxes/$pod/mounts/hostile-m2/" /proc/self/mountinfo ||
    { fail "the killed create had not shared its rootfs yet: the test proves nothing"; return; }
  rt list -q | grep -qx hostile-m2 || { fail "list does not show the half-created member"; return; }
  rt delete --force hostile-m2 || { fail "delete --force of the half-created member"; return; }
  grep -q "/sandboxes/$pod/mounts/hostile-m2/" /proc/self/mountinfo && { fail "mounts of hostile-m2 left"; return; }
  [ -e "/run/vc/sbs/$pod/hostile-m2" ] && { fail "state dir of hostile-m2 left"; return; }
  # Its shim (unknown to any state) leaves once the agent has removed its process.
  for _ in $(seq 100); do pgrep -f -- "-container hostile-m2 " >/dev/null || break; sleep 0.1; done
  pgrep -f -- "-container hostile-m2 " >/dev/null && { fail "shim of hostile-m2 left"; return; }
  pgrep -f "sandbox-$pod" >/dev/null || { fail "deleting a half-created member stopped the pod's VM"; return; }
  out=$(rt exec hostile-m1 echo still-here </dev/null 2>&1)
  expect_eq "the pod still runs" still-here "$out" || return
  rt delete --force hostile-m1 && rt delete --force $pod || { fail "delete the pod"; return; }
  expect_no_residue $pod || return
  pass
}

# kata-runtime killed (SIGKILL through the KATA_CRASH_POINT test hook, lib/crash_point.h) at
# one step of a command; the container must then be listed, and delete --force must leave
# nothing: no process (QEMU, proxy, virtiofsd, shim), mount, state dir, lock file or index entry.
crashed() {
  local point=$1 id=$2 rc
  shift 2
  KATA_CRASH_POINT=$point "$@" </dev/null >/dev/null 2>&1; rc=$?
  expect_eq "kata-runtime killed at $point" 137 "$rc" || return 1
  rt list -q | grep -qx "$id" || { fail "$point: list does not show $id"; return 1; }
}

no_shim_of() {
  for _ in $(seq 100); do pgrep -f -- "-container $1 " >/dev/null || return 0; sleep 0.1; done
  fail "a shim of $1 is left"
  return 1
}

test_crash_points() {
  begin "kata-runtime killed at each step of create, start, exec and delete: delete --force cleans up"
  local point id n=0 vfs=$TEST_ROOT/crash-virtio-fs.toml
  sed 's/^shared_fs = .*/shared_fs = "virtio-fs"/' "$KATA_CONFIG" > "$vfs"
  make_bundle "$B/crash" false '{}' sleep 1000
  for point in create:index create:shared-dir create:virtiofsd create:qemu create:proxy \
               create:sandbox create:claimed create:volumes create:rootfs create:container \
               create:shim create:hooks; do
    n=$((n + 1)); id=crash-$n
    if [ $point = create:virtiofsd ]; then
      KATA_CONFIG=$vfs crashed $point $id rt create --bundle "$B/crash" $id || return
    else
      crashed $point $id rt create --bundle "$B/crash" $id || return
    fi
    rt delete --force $id >/dev/null 2>&1 || { fail "$point: delete --force"; return; }
    expect_no_residue $id && no_shim_of $id || return
  done
  # start, exec and delete of a running container.
  rt create --bundle "$B/crash" crash-run </dev/null >/dev/null 2>&1 || { fail "create"; return; }
  crashed start:started crash-run rt start crash-run || return
  # A start killed after the agent started the process: start again finishes it.
  rt start crash-run || { fail "start after a killed start"; return; }
  expect_eq "exec after the second start" ok "$(rt exec crash-run echo ok </dev/null 2>&1)" || return
  crashed exec:process crash-run rt exec crash-run true || return
  crashed exec:shim crash-run rt exec -d crash-run sleep 1000 || return
  crashed delete:container crash-run rt delete --force crash-run || return
  rt delete --force crash-run >/dev/null 2>&1 || { fail "delete --force after delete:container"; return; }
  expect_no_residue crash-run && no_shim_of crash-run || return
  for point in delete:qemu delete:shared-dir; do
    id=crash-${point#delete:}
    rt run -d --bundle "$B/crash" $id </dev/null >/dev/null 2>&1 || { fail "run $id"; return; }
    crashed $point $id rt delete --force $id || return
    rt delete --force $id >/dev/null 2>&1 || { fail "delete --force after $point"; return; }
    expect_no_residue $id && no_shim_of $id || return
  done
  pass
}

fd_count() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }

# What the host holds for running sandboxes: mounts, state and lock files, index entries,
# processes. Equal before and after the cycles.
host_footprint() {
  echo "mounts=$(grep -c /kata-containers/shared/sandboxes/ /proc/self/mountinfo)" \
       "sbs=$(ls -A /run/vc/sbs | wc -l) locks=$(ls -A /run/vc/locks | wc -l)" \
       "pod-state=$(ls -A "/run/vc/sbs/$1" | tr '\n' ' ')" \
       "index=$(ls -A "$TEST_ROOT/state" | wc -l) qemu=$(pgrep -c -f 'qemu-system.* -name sandbox-leak')" \
       "shims=$(pgrep -c -f "kata-shim -agent unix:///run/vc/sbs/$1/")" \
       "proxies=$(pgrep -c -f -- "kata-proxy .*-sandbox $1")"
}

test_leaks_over_time() {
  local cycles=${HOSTILE_CYCLES:-200} pod=leak-pod i id before after qpid ppid spid
  begin "$cycles create/start/exec/delete cycles of pod members, some failing on purpose: nothing accumulates"
  local vol=$TEST_ROOT/leak-vol
  mkdir -p "$vol" && echo v > "$vol/v"
  make_bundle "$B/lpod" false "{\"io.kubernetes.cri.container-type\": \"sandbox\", \"io.kubernetes.cri.sandbox-id\": \"$pod\"}" sleep 100000
  rt run -d --bundle "$B/lpod" $pod </dev/null >/dev/null 2>&1 || { fail "pod sandbox"; return; }
  local ann="{\"io.kubernetes.cri.container-type\": \"container\", \"io.kubernetes.cri.sandbox-id\": \"$pod\"}"
  make_bundle "$B/lm" false "$ann" sleep 1000
  make_bundle "$B/lm-hookfail" false "$ann" sleep 1000
  make_bundle "$B/lm-noexec" false "$ann" /no/such/program
  python3 - "$B/lm/config.json" "$B/lm-hookfail/config.json" "$B/lm-noexec/config.json" "$vol" <<'PY'
import json, sys
vol = sys.argv[4]
for i, path in enumerate(sys.argv[1:4]):
    spec = json.load(open(path))
    spec["mounts"].append({"destination": "/vol", "type": "bind", "source": vol,
                           "options": ["rbind", "ro"]})
    if i == 1:
        spec["hooks"] = {"prestart": [{"path": "/bin/false", "args": ["false"]}]}
    json.dump(spec, open(path, "w"))
PY
  qpid=$(cat /run/vc/vm/$pod/pid); ppid=$(pgrep -f -- "-sandbox $pod") ; spid=$(pgrep -f -- "-container $pod ")
  # One cycle first: whatever is allocated once (gRPC channels, 9p fids of the rootfs) is not
  # a leak.
  rt run -d --bundle "$B/lm" leak-warm </dev/null >/dev/null 2>&1 && rt delete --force leak-warm
  before="$(host_footprint $pod) qemu-fds=$(fd_count $qpid) proxy-fds=$(fd_count $ppid) shim-fds=$(fd_count $spid)"
  for i in $(seq "$cycles"); do
    id=leak-$i
    case $((i % 10)) in
      3) # create fails in its prestart hook
        # (to a file: a create that wrongly succeeds leaves a shim holding its stdout)
        rt create --bundle "$B/lm-hookfail" $id </dev/null >"$TEST_ROOT/hookfail.out" 2>&1 &&
          { fail "cycle $i: create with a failing hook succeeded"; return; }
        # (a hook that exits without reading its state once killed kata-runtime with SIGPIPE)
        expect_contains "cycle $i: hook failure" "exited with status 1" \
          "$(cat "$TEST_ROOT/hookfail.out")" || return ;;
      7) # create fails: the program does not exist (as under runc); nothing of it stays
        rt create --bundle "$B/lm-noexec" $id </dev/null >"$TEST_ROOT/noexec.out" 2>&1 &&
          { fail "cycle $i: create of a missing program succeeded"; return; }
        expect_contains "cycle $i: missing program" 'exec "/no/such/program": no such file or directory' \
          "$(cat "$TEST_ROOT/noexec.out")" || return
        rt state $id >/dev/null 2>&1 && { fail "cycle $i: the failed create left its container"; return; } ;;
      *)
        rt create --bundle "$B/lm" $id </dev/null >/dev/null 2>&1 || { fail "cycle $i: create"; return; }
        rt start $id || { fail "cycle $i: start"; return; }
        [ "$(rt exec $id cat /vol/v </dev/null 2>&1)" = v ] || { fail "cycle $i: exec"; return; }
        rt delete --force $id || { fail "cycle $i: delete"; return; } ;;
    esac
  done
  for _ in $(seq 50); do  # exec shims leave as their processes' exits reach them
    after="$(host_footprint $pod) qemu-fds=$(fd_count $qpid) proxy-fds=$(fd_count $ppid) shim-fds=$(fd_count $spid)"
    [ "$after" = "$before" ] && break
    sleep 0.2
  done
  expect_eq "host footprint after $cycles cycles" "$before" "$after" || return
  rt delete --force $pod || { fail "delete the pod"; return; }
  expect_no_residue $pod || return
  pass
}

if [ "${1:-}" = "--in-shared-root" ]; then
  # Inside `unshare --mount --propagation shared`: one test; its counts go to the file $3.
  ROOT_PROPAGATION=shared "$2"
  echo "$PASSED $FAILED" > "$3"
  finish
  exit
fi

TESTS=("$@")
[ ${#TESTS[@]} -gt 0 ] ||
  TESTS=(test_share_attacks test_pod_member_races test_crash_points test_leaks_over_time)
for t in "${TESTS[@]}"; do
  "$t"
  if [ "$t" = test_share_attacks ]; then
    # Again with "/" shared, in a mount namespace of its own (the host's mounts stay as they are).
    unshare --mount --propagation shared -- "$0" "$KATA_BUILD" --in-shared-root "$t" \
      "$TEST_ROOT/shared-root.counts"
    case "$(cat "$TEST_ROOT/shared-root.counts" 2>/dev/null)" in
      "1 0") PASSED=$((PASSED + 1)) ;;
      *) FAILED=$((FAILED + 1)); echo "FAIL - $t with / shared" ;;
    esac
  fi
done
finish
