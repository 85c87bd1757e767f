#!/bin/bash
# VM integration suite for kata-runtime: real QEMU (TCG here), the built guest kernel and
# initrd, kata-proxy, kata-shim and kata-agent, driven through runc's command line.
# Usage: runtime_test.sh <cmake build dir> [test name...]
KATA_BUILD=$(cd "$1" && pwd)
shift
. "$(dirname "$0")/../lib.sh"
require_assets
trap cleanup_all EXIT
mkdir -p "$TEST_ROOT"
B=$TEST_ROOT/bundles
GUEST_KERNEL=$(cat "$KATA_ASSETS/kernel-version")
# Guest shell: prints the clocksource once the kernel has left "tsc-early" (its switch to "tsc"
# comes from delayed work that a loaded host can hold back for seconds), at most 10 s.
WAIT_FOR_FINAL_CLOCKSOURCE='cs=/sys/devices/system/clocksource/clocksource0/current_clocksource
  i=0; while [ "$(cat $cs)" = tsc-early ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done; cat $cs'

# set_bundle_netns BUNDLE NETNS_PATH: the spec's network namespace becomes that path.
set_bundle_netns() {
  python3 - "$1/config.json" "$2" <<'PY'
import json, sys
path, netns = sys.argv[1], sys.argv[2]
spec = json.load(open(path))
for n in spec["linux"]["namespaces"]:
    if n["type"] == "network":
        n["path"] = netns
json.dump(spec, open(path, "w"), indent=1)
PY
}

test_bad_inputs() {
  begin "bad inputs fail clearly and leave nothing behind"
  local out rc
  out=$(rt create --bundle "$B/none" c1 2>&1); rc=$?
  [ $rc -ne 0 ] || { fail "missing bundle accepted"; return; }
  expect_contains "missing bundle" "No such file or directory" "$out" || return
  mkdir -p "$B/bad" && echo '{"ociVersion": "1.0.2", "process": {"args": 5}}' > "$B/bad/config.json"
  out=$(rt create --bundle "$B/bad" c2 2>&1); rc=$?
  [ $rc -ne 0 ] || { fail "invalid config.json accepted"; return; }
  expect_contains "invalid config.json" "process.args" "$out" || return
  make_bundle "$B/ok" false '{}' true
  out=$(rt create --bundle "$B/ok" ../x 2>&1); rc=$?
  [ $rc -ne 0 ] || { fail "id ../x accepted"; return; }
  expect_contains "bad id" 'invalid container id' "$out" || return
  out=$(rt start nosuch 2>&1); rc=$?
  [ $rc -ne 0 ] || { fail "start of unknown container succeeded"; return; }
  expect_contains "unknown id" "does not exist" "$out" || return
  out=$(rt delete nosuch 2>&1); rc=$?
  [ $rc -ne 0 ] || { fail "delete of unknown container succeeded"; return; }
  out=$(rt bogus-command 2>&1); rc=$?
  [ $rc -ne 0 ] || { fail "unknown command succeeded"; return; }
  out=$(rt create --bogus-flag x 2>&1); rc=$?
  [ $rc -ne 0 ] || { fail "unknown flag succeeded"; return; }
  # The error also lands in the --log file as logrus JSON, where containerd reads it.
  "$RUNTIME" --kata-config "$KATA_CONFIG" --root "$TEST_ROOT/state" --log "$TEST_ROOT/log.json" \
    --log-format json start nosuch 2>/dev/null
  out=$(tail -n 1 "$TEST_ROOT/log.json")
  expect_contains "json log" '"level":"error"' "$out" || return
  expect_contains "json log msg" 'container nosuch does not exist' "$out" || return
  # Sandbox state whose --root index entry is gone: only delete --force finds and removes it.
  mkdir -p /run/vc/sbs/orphan && echo '{' > /run/vc/sbs/orphan/sandbox.json
  out=$(rt delete orphan 2>&1); rc=$?
  [ $rc -ne 0 ] || { fail "delete without --force of an unindexed sandbox succeeded"; return; }
  expect_contains "unindexed sandbox" "container orphan does not exist" "$out" || return
  out=$(rt delete --force orphan 2>&1); rc=$?
  expect_eq "delete --force of an unindexed sandbox: $out" 0 "$rc" || return
  for id in c1 c2 x orphan; do expect_no_residue "$id" || return; done
  pass
}

test_run_prints_guest_kernel() {
  begin "run prints the guest's uname -r and exits with the process status"
  make_bundle "$B/uname" false '{}' uname -r
  local out rc
  out=$(rt run --bundle "$B/uname" uname1 </dev/null 2>"$TEST_ROOT/run.err"); rc=$?
  expect_eq "exit status (stderr: $(tail -c 600 "$TEST_ROOT/run.err"))" 0 "$rc" || return
  expect_eq "guest kernel" "$GUEST_KERNEL" "$out" || return
  [ "$out" != "$(uname -r)" ] || { fail "got the host's kernel"; return; }
  expect_no_residue uname1 || return
  make_bundle "$B/exit3" false '{}' sh -c 'echo to-stderr >&2; exit 3'
  out=$(rt run --bundle "$B/exit3" exit3 2>&1 </dev/null); rc=$?
  expect_eq "exit status" 3 "$rc" || return
  expect_contains "stderr relayed" "to-stderr" "$out" || return
  expect_no_residue exit3 || return
  pass
}

# Adds OCI hooks to a bundle's config.json: each records its kind and the state it got on
# stdin in $TEST_ROOT/hooks/; the hook named by $2 (if any) fails instead.
add_recording_hooks() {
  local bundle=$1 failing=${2:-}
  mkdir -p "$TEST_ROOT/hooks"
  python3 - "$bundle/config.json" "$TEST_ROOT/hooks" "$failing" <<'PY'
import json, sys
path, out, failing = sys.argv[1:4]
spec = json.load(open(path))
def hook(kind):
    # The state's pid names the sandbox's network namespace (Docker's libnetwork moves the
    # container's veth into /proc/<pid>/ns/net): record which namespace that is.
    script = (f'cat > {out}/{kind}.json; echo {kind} >> {out}/order; '
              f'pid=$(sed -n "s/.*\\"pid\\":\\([0-9]*\\).*/\\1/p" {out}/{kind}.json); '
              f'readlink /proc/$pid/ns/net > {out}/{kind}.netns 2>/dev/null; true')
    if kind == failing:
        script += '; echo "hook refuses" >&2; exit 3'
    return [{"path": "/bin/sh", "args": ["sh", "-c", script], "timeout": 30}]
spec["hooks"] = {k: hook(k) for k in ("prestart", "createRuntime", "poststart", "poststop")}
json.dump(spec, open(path, "w"), indent=1)
PY
}

test_lifecycle() {
  begin "create, start, state, exec, kill, delete; OCI hooks on the host"
  local out rc pid
  # A failing prestart hook fails create and leaves nothing behind.
  make_bundle "$B/hookfail" false '{}' true
  add_recording_hooks "$B/hookfail" prestart
  out=$(rt create --bundle "$B/hookfail" hookfail </dev/null 2>&1); rc=$?
  [ $rc -ne 0 ] || { fail "create succeeded although its prestart hook failed"; return; }
  expect_contains "prestart failure reported" "hook refuses" "$out" || return
  expect_no_residue hookfail || return
  rm -rf "$TEST_ROOT/hooks"

  make_bundle "$B/life" false '{}' sh -c 'trap "exit 0" TERM; while true; do sleep 1; done'
  add_recording_hooks "$B/life"
  rt create --bundle "$B/life" --pid-file "$TEST_ROOT/life.pid" life </dev/null >/dev/null 2>"$TEST_ROOT/create.err"; rc=$?
  expect_eq "create (stderr: $(tail -c 600 "$TEST_ROOT/create.err"))" 0 "$rc" || return
  wait_status life created 10 || { fail "state after create is not created"; return; }
  pid=$(cat "$TEST_ROOT/life.pid")
  expect_eq "hooks run at create" "prestart createRuntime" "$(echo $(cat "$TEST_ROOT/hooks/order"))" || return
  out=$(cat "$TEST_ROOT/hooks/prestart.json")
  expect_contains "prestart state id" '"id":"life"' "$out" || return
  # The pid is a process in the sandbox's network namespace, the one the shim runs in.
  expect_eq "prestart state pid's network namespace" "$(readlink "/proc/$pid/ns/net")" \
    "$(cat "$TEST_ROOT/hooks/prestart.netns")" || return
  [ "$(readlink /proc/self/ns/net)" != "$(cat "$TEST_ROOT/hooks/prestart.netns")" ] ||
    { fail "the hooks saw the host's network namespace as the container's"; return; }
  expect_contains "prestart state bundle" "\"bundle\":\"$B/life\"" "$out" || return
  out=$(rt state life)
  expect_contains "state pid" "\"pid\" : $pid" "$out" || return
  kill -0 "$pid" || { fail "pid-file process $pid is not alive"; return; }
  out=$(rt start life 2>&1); rc=$?
  expect_eq "start: $out" 0 "$rc" || return
  wait_status life running 10 || { fail "state after start is not running"; return; }
  expect_eq "poststart after start" "prestart createRuntime poststart" "$(echo $(cat "$TEST_ROOT/hooks/order"))" || return
  expect_contains "poststart state" '"status":"running"' "$(cat "$TEST_ROOT/hooks/poststart.json")" || return
  out=$(rt start life 2>&1); rc=$?
  [ $rc -ne 0 ] || { fail "second start succeeded"; return; }
  out=$(rt exec life uname -r </dev/null); rc=$?
  expect_eq "exec status" 0 "$rc" || return
  expect_eq "exec output" "$GUEST_KERNEL" "$out" || return
  rt exec life sh -c 'exit 7' </dev/null; rc=$?
  expect_eq "exec exit status" 7 "$rc" || return
  out=$(printf 'hello through stdin\n' | rt exec life cat); rc=$?
  expect_eq "stdin relay" "hello through stdin" "$out" || return
  out=$(rt exec life hostname </dev/null)
  expect_eq "hostname from spec" "kata-test" "$out" || return
  # The default guest has no ACPI (enable_acpi = false): under TCG it runs on the TSC rate
  # the runtime measured (tsc_early_khz) instead of a jiffies clock; under KVM on kvm-clock.
  out=$(rt exec life sh -c "$WAIT_FOR_FINAL_CLOCKSOURCE"'
    [ -e /sys/firmware/acpi ] && echo acpi; grep -o "acpi=[a-z]*" /proc/cmdline' </dev/null)
  case $out in
    "tsc"$'\n'"acpi=off" | "kvm-clock"$'\n'"acpi=off") ;;
    *) fail "guest clock and ACPI: $out"; return ;;
  esac
  out=$(rt list)
  expect_contains "list" "running" "$out" || return
  out=$(rt delete life 2>&1); rc=$?
  [ $rc -ne 0 ] || { fail "delete of a running container succeeded"; return; }
  expect_contains "delete running" "not stopped" "$out" || return
  rt kill life TERM || { fail "kill TERM"; return; }
  wait_status life stopped 300 || { fail "container did not stop after SIGTERM"; return; }
  proc_running "$pid" && { fail "shim $pid outlived the container"; return; }
  rt delete life || { fail "delete"; return; }
  expect_eq "poststop at delete" "prestart createRuntime poststart poststop" "$(echo $(cat "$TEST_ROOT/hooks/order"))" || return
  expect_contains "poststop state" '"status":"stopped"' "$(cat "$TEST_ROOT/hooks/poststop.json")" || return
  expect_no_residue life || return
  pass
}

test_ps_pause_update_events() {
  begin "ps, pause/resume, update and events on a running container"
  make_bundle "$B/res" false '{}' sh -c 'while true; do sleep 1; done'
  rt run -d --bundle "$B/res" res </dev/null >/dev/null 2>&1 || { fail "run -d"; return; }
  wait_status res running 10 || { fail "not running"; return; }
  local out rc
  out=$(rt ps --format json res) || { fail "ps json"; return; }
  case "$out" in "["*"]") ;; *) fail "ps json is not a pid list: $out"; return ;; esac
  out=$(rt ps res) || { fail "ps table"; return; }
  expect_contains "ps header" "PID" "$out" || return
  expect_contains "ps shows the loop" "sleep" "$out" || return
  rt pause res || { fail "pause"; return; }
  wait_status res paused 10 || { fail "state is not paused"; return; }
  out=$(rt exec res true 2>&1 </dev/null); rc=$?
  [ $rc -ne 0 ] || { fail "exec into a paused container succeeded"; return; }
  rt resume res || { fail "resume"; return; }
  wait_status res running 10 || { fail "state is not running after resume"; return; }
  rt update --memory 64m --pids-limit 50 res || { fail "update"; return; }
  out=$(rt update --memory lots res 2>&1); rc=$?
  [ $rc -ne 0 ] || { fail "bad --memory accepted"; return; }
  out=$(rt events --stats res) || { fail "events --stats"; return; }
  expect_contains "stats event" '"type":"stats"' "$out" || return
  expect_contains "memory limit in stats" '"limit":67108864' "$out" || return
  expect_contains "pids limit in stats" '"limit":50}' "$out" || return
  # kill signals the init only (pid 1 in its namespace ignores TERM); kill --all reaches every
  # process of the container, such as this exec'd sleep.
  rt exec -d res sleep 1000 </dev/null >/dev/null 2>&1 || { fail "exec -d"; return; }
  expect_contains "exec'd sleep in ps" "sleep 1000" "$(rt ps res)" || return
  rt kill res TERM || { fail "kill TERM"; return; }
  sleep 2
  expect_contains "kill without --all spares other processes" "sleep 1000" "$(rt ps res)" || return
  rt kill --all res TERM || { fail "kill --all TERM"; return; }
  local waited=0
  while rt ps res | grep -q "sleep 1000"; do
    [ $waited -lt 60 ] || { fail "kill --all TERM did not reach the exec'd process"; return; }
    sleep 1; waited=$((waited + 1))
  done
  wait_status res running 5 || { fail "init did not survive TERM (it ignores it)"; return; }
  rt delete --force res || { fail "delete"; return; }
  expect_no_residue res || return
  pass
}

test_force_delete_after_qemu_killed() {
  begin "delete --force after QEMU is killed leaves nothing behind"
  make_bundle "$B/crash" false '{}' sleep 1000
  rt run -d --bundle "$B/crash" crash </dev/null >/dev/null 2>&1 || { fail "run -d"; return; }
  wait_status crash running 10 || { fail "not running"; return; }
  # Once the container started, QEMU's mapping of the kernel file went back to the page cache.
  local qemu kernel_kb
  qemu=$(cat /run/vc/vm/crash/pid)
  kernel_kb=$(awk -v k="$(basename "$(sed -n 's/^kernel = "\(.*\)"/\1/p' "$KATA_CONFIG")")" \
    '/^[0-9a-f]+-[0-9a-f]+ / {m = index($0, k) > 0} m && /^Rss:/ {s += $2} END {print s + 0}' \
    "/proc/$qemu/smaps")
  [ "$kernel_kb" -lt 1024 ] || { fail "QEMU still maps $kernel_kb kB of the kernel file"; return; }
  pkill -KILL -f "sandbox-crash" || { fail "no qemu to kill"; return; }
  wait_status crash stopped 100 || { fail "state does not notice the dead VM"; return; }
  rt delete --force crash || { fail "delete --force"; return; }
  expect_no_residue crash || return
  pass
}

test_force_delete_after_proxy_and_shim_killed() {
  begin "delete --force after the proxy and the shim are killed leaves nothing behind"
  make_bundle "$B/crash2" false '{}' sleep 1000
  rt run -d --bundle "$B/crash2" --pid-file "$TEST_ROOT/crash2.pid" crash2 </dev/null >/dev/null 2>&1 || { fail "run -d"; return; }
  wait_status crash2 running 10 || { fail "not running"; return; }
  kill -KILL "$(cat "$TEST_ROOT/crash2.pid")" || { fail "no shim to kill"; return; }
  wait_status crash2 stopped 50 || { fail "state does not notice the dead shim"; return; }
  pkill -KILL -f -- "-sandbox crash2" || { fail "no proxy to kill"; return; }
  local out rc
  out=$(rt delete crash2 2>&1); rc=$?
  expect_eq "delete of the stopped container: $out" 0 "$rc" || return
  expect_no_residue crash2 || return
  pass
}

test_pod_two_containers_one_vm() {
  begin "two containers of one pod share one VM"
  make_bundle "$B/pod" false '{"io.kubernetes.cri.container-type": "sandbox", "io.kubernetes.cri.sandbox-id": "pod1"}' sleep 1000
  make_bundle "$B/member" false '{"io.kubernetes.cri.container-type": "container", "io.kubernetes.cri.sandbox-id": "pod1"}' sleep 1000
  rt run -d --bundle "$B/pod" pod1 </dev/null >/dev/null 2>&1 || { fail "pod sandbox container"; return; }
  rt run -d --bundle "$B/member" member1 </dev/null >/dev/null 2>&1 || { fail "member container"; return; }
  local n
  n=$(pgrep -c -f "sandbox-pod1")
  expect_eq "QEMU processes" 1 "$n" || return
  [ -e /run/vc/vm/member1 ] && { fail "member got a VM of its own"; return; }
  local out
  out=$(rt exec member1 sh -c 'echo member-$(hostname)' </dev/null)
  expect_eq "exec in member" "member-kata-test" "$out" || return
  rt delete --force member1 || { fail "delete member"; return; }
  pgrep -f "sandbox-pod1" >/dev/null || { fail "deleting a member stopped the VM"; return; }
  rt delete --force pod1 || { fail "delete sandbox"; return; }
  expect_no_residue pod1 || return
  pass
}

test_tty_console_socket() {
  begin "a terminal through --console-socket, sized by the caller"
  make_bundle "$B/tty" true '{}' sh -c 'sleep 2; tty; stty size; echo tty-done'
  local sock=$TEST_ROOT/tty.sock recv
  "$KATA_BUILD/bin/console_receiver" "$sock" 30 100 </dev/null >"$TEST_ROOT/tty.out" 2>"$TEST_ROOT/tty.err" &
  recv=$!
  for _ in $(seq 50); do grep -q listening "$TEST_ROOT/tty.err" && break; sleep 0.1; done
  rt create --bundle "$B/tty" --console-socket "$sock" ttyc >/dev/null 2>&1 || { fail "create"; kill $recv; return; }
  rt start ttyc || { fail "start"; kill $recv; return; }
  wait_status ttyc stopped 300 || { fail "tty container did not finish"; kill $recv; return; }
  for _ in $(seq 50); do kill -0 $recv 2>/dev/null || break; sleep 0.1; done
  kill $recv 2>/dev/null
  local out
  out=$(tr -d '\r' <"$TEST_ROOT/tty.out")
  expect_contains "tty name" "/dev/pts/" "$out" || return
  expect_contains "window size" "30 100" "$out" || return
  expect_contains "output complete" "tty-done" "$out" || return
  rt delete ttyc || { fail "delete"; return; }
  expect_no_residue ttyc || return
  pass
}

test_virtio_fs_shared_dir() {
  begin "shared_fs = virtio-fs: rootfs and a volume through virtiofsd, which leaves with the VM"
  local conf=$TEST_ROOT/virtio-fs.toml vol=$TEST_ROOT/vfs-volume out rc
  sed 's/^shared_fs = .*/shared_fs = "virtio-fs"/' "$KATA_CONFIG" > "$conf"
  mkdir -p "$vol" && echo from-host > "$vol/in"
  make_bundle "$B/vfs" false '{}' sh -c \
    'echo from-guest > /data/out; sleep 1000'
  echo rootfs-via-virtio-fs > "$B/vfs/rootfs/etc/hostname-probe"
  python3 - "$B/vfs/config.json" "$vol" <<'PY'
import json, sys
path, vol = sys.argv[1], sys.argv[2]
spec = json.load(open(path))
spec["mounts"].append({"destination": "/data", "type": "bind", "source": vol,
                       "options": ["rbind", "rw"]})
json.dump(spec, open(path, "w"))
PY
  KATA_CONFIG=$conf rt run -d --bundle "$B/vfs" vfs </dev/null >"$TEST_ROOT/vfs.out" 2>&1; rc=$?
  expect_eq "run -d (output: $(tail -c 600 "$TEST_ROOT/vfs.out"))" 0 "$rc" || return
  pgrep -f "virtiofsd.*/sandboxes/vfs/" >/dev/null || { fail "no virtiofsd serving the sandbox"; return; }
  grep -q vhost-user-fs-pci "/proc/$(cat /run/vc/vm/vfs/pid)/cmdline" || { fail "QEMU has no vhost-user-fs device"; return; }
  for _ in $(seq 100); do [ -s "$vol/out" ] && break; sleep 0.2; done
  expect_eq "file the guest wrote" "from-guest" "$(cat "$vol/out" 2>/dev/null)" || return
  out=$(KATA_CONFIG=$conf rt exec vfs sh -c 'cat /etc/hostname-probe /data/in; grep " /data " /proc/mounts')
  expect_contains "rootfs file" "rootfs-via-virtio-fs" "$out" || return
  expect_contains "volume file" "from-host" "$out" || return
  expect_contains "volume fs type" "virtiofs" "$out" || return
  # Killed VM: virtiofsd follows it, delete --force leaves nothing.
  pkill -KILL -f "sandbox-vfs" || { fail "no qemu to kill"; return; }
  KATA_CONFIG=$conf wait_status vfs stopped 100 || { fail "state does not notice the dead VM"; return; }
  KATA_CONFIG=$conf rt delete --force vfs || { fail "delete --force"; return; }
  expect_no_residue vfs || return
  # A virtiofsd that cannot start: its own complaint in the error, nothing left behind.
  sed -i 's|^virtio_fs_extra_args = .*|virtio_fs_extra_args = ["--no-such-option"]|' "$conf"
  out=$(KATA_CONFIG=$conf rt run --bundle "$B/vfs" vfs2 </dev/null 2>&1); rc=$?
  expect_eq "run with a failing virtiofsd status" 1 "$rc" || return
  expect_contains "virtiofsd's error" "virtiofsd: fuse: unknown option" "$out" || return
  expect_no_residue vfs2 || return
  # A virtiofsd outside valid_virtio_fs_daemon_paths: the configuration is refused.
  sed "s|^virtio_fs_daemon = .*|virtio_fs_daemon = \"$TEST_ROOT/no-virtiofsd\"|" "$KATA_CONFIG" |
    sed 's/^shared_fs = .*/shared_fs = "virtio-fs"/' > "$conf"
  out=$(KATA_CONFIG=$conf rt run --bundle "$B/vfs" vfs3 </dev/null 2>&1); rc=$?
  expect_eq "run with a virtiofsd not allowed status" 1 "$rc" || return
  expect_contains "virtiofsd not allowed" "matches none of valid_virtio_fs_daemon_paths" "$out" ||
    return
  expect_no_residue vfs3 || return
  # A virtiofsd binary that is not there: refused before anything starts.
  sed -i 's/^valid_virtio_fs_daemon_paths = .*/valid_virtio_fs_daemon_paths = []/' "$conf"
  out=$(KATA_CONFIG=$conf rt run --bundle "$B/vfs" vfs3 </dev/null 2>&1); rc=$?
  expect_eq "run with a missing virtiofsd status" 1 "$rc" || return
  expect_contains "missing virtiofsd" "virtio_fs_daemon $TEST_ROOT/no-virtiofsd: No such file" "$out" || return
  expect_no_residue vfs3 || return
  # A DAX window this QEMU cannot give: QEMU's own refusal, nothing left behind.
  sed 's/^shared_fs = .*/shared_fs = "virtio-fs"/; s/^virtio_fs_cache_size = .*/virtio_fs_cache_size = 64/' \
    "$KATA_CONFIG" > "$conf"
  out=$(KATA_CONFIG=$conf rt run --bundle "$B/vfs" vfs4 </dev/null 2>&1); rc=$?
  expect_eq "run with virtio_fs_cache_size status" 1 "$rc" || return
  expect_contains "virtio_fs_cache_size" "cache-size" "$out" || return
  expect_no_residue vfs4 || return
  pass
}

test_initrd_root() {
  begin "initrd instead of the image, 2 vCPUs: the agent leaves the initramfs, the guest sees both"
  local conf=$TEST_ROOT/initrd.toml out rc
  # Two vCPUs without ACPI: the guest finds the second one in the firmware's MP table.
  sed -e "s|^image = .*|initrd = \"$KATA_ASSETS/kata-containers-initrd.img\"|" \
    -e 's/^default_vcpus = .*/default_vcpus = 2/' "$KATA_CONFIG" > "$conf"
  grep -q '^default_vcpus = 2' "$conf" || { fail "no default_vcpus key in $KATA_CONFIG"; return; }
  make_bundle "$B/ird" false '{}' sh -c 'uname -r; nproc'
  out=$(KATA_CONFIG=$conf rt run --bundle "$B/ird" ird </dev/null 2>"$TEST_ROOT/ird.err"); rc=$?
  expect_eq "exit status (stderr: $(tail -c 600 "$TEST_ROOT/ird.err"))" 0 "$rc" || return
  expect_eq "guest kernel and CPUs" "$GUEST_KERNEL"$'\n'"2" "$out" || return
  expect_no_residue ird || return
  pass
}

test_acpi_nvdimm_root() {
  begin "enable_acpi = true: the guest has ACPI, the image is an nvdimm (NFIT) with DAX"
  local conf=$TEST_ROOT/acpi.toml out rc
  sed 's/^enable_acpi = .*/enable_acpi = true/' "$KATA_CONFIG" > "$conf"
  grep -q '^enable_acpi = true' "$conf" || { fail "no enable_acpi key in $KATA_CONFIG"; return; }
  make_bundle "$B/acpi" false '{}' sh -c 'ls /sys/firmware/acpi/tables/NFIT
    ls /sys/bus/nd/devices | grep -c "^nmem"
    '"$WAIT_FOR_FINAL_CLOCKSOURCE"
  out=$(KATA_CONFIG=$conf rt run --bundle "$B/acpi" acpi </dev/null 2>"$TEST_ROOT/acpi.err"); rc=$?
  expect_eq "exit status (stderr: $(tail -c 600 "$TEST_ROOT/acpi.err"))" 0 "$rc" || return
  case $out in
    "/sys/firmware/acpi/tables/NFIT"$'\n'"1"$'\n'"tsc" | \
      "/sys/firmware/acpi/tables/NFIT"$'\n'"1"$'\n'"kvm-clock") ;;
    *) fail "guest ACPI, nvdimm and clock: $out"; return ;;
  esac
  expect_no_residue acpi || return
  pass
}

test_network_namespace_taps() {
  begin "a netns with a veth: the guest gets its MAC, address and routes; 4 MiB cross each way over TCP, either side asking; the host pings it"
  local ns=kata-test-net-$$ host=ktnet$$ out rc mac
  ip netns add "$ns" || { fail "ip netns add"; return; }
  # The suite's EXIT trap runs cleanup_all; this netns and veth go with the test either way.
  trap 'cleanup_all; ip netns del '"$ns"' 2>/dev/null; ip link del '"$host"' 2>/dev/null' EXIT
  ip link add "$host" type veth peer name eth0 netns "$ns" &&
    ip addr add 10.213.7.1/24 dev "$host" && ip link set "$host" up &&
    ip -n "$ns" addr add 10.213.7.2/24 dev eth0 && ip -n "$ns" link set eth0 mtu 1400 up &&
    ip -n "$ns" route add 10.99.0.0/16 via 10.213.7.1 &&
    ip -n "$ns" route add default via 10.213.7.1 ||
    { fail "veth set-up"; return; }
  mac=$(ip -n "$ns" -o link show eth0 | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p')
  make_bundle "$B/net" false '{}' sleep 100000
  set_bundle_netns "$B/net" "/var/run/netns/$ns"
  rt run -d --bundle "$B/net" net </dev/null >"$TEST_ROOT/net.out" 2>&1; rc=$?
  expect_eq "run -d (output: $(tail -c 600 "$TEST_ROOT/net.out"))" 0 "$rc" || return
  out=$(rt exec net sh -c 'cat /sys/class/net/eth0/address /sys/class/net/eth0/mtu
    ip -4 -o addr show eth0 | sed "s/.* inet \([0-9./]*\).*/\1/"; ip route show 10.99.0.0/16
    ip route | grep "^default"' </dev/null)
  expect_eq "guest eth0 (MAC, MTU, address, routes)" \
    "$mac"$'\n'"1400"$'\n'"10.213.7.2/24"$'\n'"10.99.0.0/16 via 10.213.7.1 dev eth0 "$'\n'"default via 10.213.7.1 dev eth0 " \
    "$out" || return
  # The guest's own traffic first (it must ARP for the host by itself), then the host's. Only
  # the guest runs httpd: the namespace's copy of eth0 keeps the address and answers pings
  # itself when the redirect does not work, so a ping proves nothing. 4 MiB each way over
  # TCP: checksum and segmentation offloads (virtio-net's vnet header on the tap) bite on
  # large segments.
  local www=$TEST_ROOT/www port=$((20000 + $$ % 10000)) httpd sum
  mkdir -p "$www" && head -c 4194304 /dev/urandom >"$www/big"
  sum=$(md5sum <"$www/big" | cut -d' ' -f1)
  /bin/busybox httpd -f -p "10.213.7.1:$port" -h "$www" &
  httpd=$!
  out=$(rt exec net sh -c "timeout 60 wget -q -O /tmp/big http://10.213.7.1:$port/big && md5sum /tmp/big | cut -d' ' -f1" </dev/null 2>&1)
  kill "$httpd"; wait "$httpd" 2>/dev/null
  expect_eq "4 MiB host to guest, the guest asking (md5)" "$sum" "$out" || return
  # busybox httpd without -f goes to the background in the guest. (Debian's busybox wget
  # crashes with -T: timeout(1) bounds it instead.)
  rt exec net httpd -p 8080 -h /tmp </dev/null || { fail "httpd in the guest"; return; }
  out=$(timeout 60 /bin/busybox wget -q -O - http://10.213.7.2:8080/big | md5sum | cut -d' ' -f1)
  expect_eq "4 MiB guest to host, the host asking (md5)" "$sum" "$out" || return
  /bin/busybox ping -c 2 -W 10 10.213.7.2 >"$TEST_ROOT/ping.out" 2>&1 ||
    { fail "ping the guest: $(tail -c 300 "$TEST_ROOT/ping.out")"; return; }
  expect_contains "the tap in the netns" "tap0_kata" "$(ip -n "$ns" -o link show)" || return
  # QEMU dies (its tap goes with it); delete --force removes the redirect left on eth0.
  kill -9 "$(cat /run/vc/vm/net/pid)"
  wait_status net stopped 100 || { fail "state does not notice the dead VM"; return; }
  rt delete --force net || { fail "delete --force"; return; }
  out=$(ip -n "$ns" -o link show; tc -n "$ns" qdisc show dev eth0)
  case $out in
    *tap0_kata* | *ingress*) fail "left in the netns: $out"; return ;;
  esac
  expect_no_residue net || return
  # A netns that does not exist: a clear error, nothing left behind.
  python3 - "$B/net/config.json" <<'PY'
import json, sys
spec = json.load(open(sys.argv[1]))
for n in spec["linux"]["namespaces"]:
    if n["type"] == "network":
        n["path"] = "/var/run/netns/kata-test-no-such-netns"
json.dump(spec, open(sys.argv[1], "w"), indent=1)
PY
  out=$(rt run --bundle "$B/net" net2 </dev/null 2>&1); rc=$?
  [ $rc -ne 0 ] || { fail "run in a missing netns succeeded"; return; }
  expect_contains "missing netns error" "kata-test-no-such-netns" "$out" || return
  expect_no_residue net2 || return
  # The host's own netns: refused, its interfaces untouched.
  sed -i "s|/var/run/netns/kata-test-no-such-netns|/proc/$$/ns/net|" "$B/net/config.json"
  out=$(rt run --bundle "$B/net" net3 </dev/null 2>&1); rc=$?
  [ $rc -ne 0 ] || { fail "run in the host's netns succeeded"; return; }
  expect_contains "host netns error" "is the host's" "$out" || return
  case $(tc qdisc show dev "$host") in *ingress*) fail "a redirect on the host's $host"; return ;; esac
  expect_no_residue net3 || return
  # An interface whose ingress already has a qdisc (someone else's): refused, and theirs stays.
  sed -i "s|/proc/$$/ns/net|/var/run/netns/$ns|" "$B/net/config.json"
  tc -n "$ns" qdisc add dev eth0 ingress || { fail "tc qdisc add"; return; }
  out=$(rt run --bundle "$B/net" net4 </dev/null 2>&1); rc=$?
  [ $rc -ne 0 ] || { fail "run over a foreign ingress qdisc succeeded"; return; }
  expect_contains "foreign qdisc error" "ingress qdisc" "$out" || return
  expect_contains "the foreign qdisc stays" "ingress" "$(tc -n "$ns" qdisc show dev eth0)" || return
  case $(ip -n "$ns" -o link show) in *_kata*) fail "a tap left in the netns"; return ;; esac
  expect_no_residue net4 || return
  ip netns del "$ns"; ip link del "$host" 2>/dev/null
  pass
}

test_port_forward() {
  begin "port-forward (CRI's dial): 127.0.0.1:<any port> in the sandbox's netns on the host reaches the guest's 127.0.0.1; the rule goes with the sandbox"
  local ns=pf-rt-$$ out rc sum
  ip netns add "$ns" || { fail "ip netns add"; return; }
  trap 'cleanup_all; ip netns del '"$ns"' 2>/dev/null' EXIT
  ip -n "$ns" link set lo up || { fail "lo up"; return; }
  # The guest's server listens on its loopback only: nothing outside the guest's own stack
  # could reach it but the forward.
  make_bundle "$B/pf" false '{}' sh -c 'echo pf-page >/tmp/index.html; head -c 2097152 /dev/urandom >/tmp/big; md5sum </tmp/big | cut -d" " -f1 >/tmp/big.md5; exec httpd -f -p 127.0.0.1:8080 -h /tmp'
  set_bundle_netns "$B/pf" "/var/run/netns/$ns"
  [ $? -eq 0 ] || { fail "netns path into config.json"; return; }
  rt run -d --bundle "$B/pf" pf </dev/null >"$TEST_ROOT/pf.out" 2>&1; rc=$?
  expect_eq "run -d (output: $(tail -c 600 "$TEST_ROOT/pf.out"))" 0 "$rc" || return
  expect_contains "the redirect in the sandbox's netns" "REDIRECT" \
    "$(ip netns exec "$ns" iptables -t nat -S OUTPUT)" || return
  # httpd starts after run returns: retry for a while. (busybox wget crashes with -T here.)
  local i
  for i in $(seq 60); do
    out=$(nsenter --net="/var/run/netns/$ns" timeout 20 /bin/busybox wget -q -O - \
      http://127.0.0.1:8080/index.html 2>/dev/null) && break
    sleep 0.5
  done
  expect_eq "the guest's page through the sandbox's 127.0.0.1:8080" "pf-page" "$out" || return
  sum=$(nsenter --net="/var/run/netns/$ns" timeout 60 /bin/busybox wget -q -O - \
    http://127.0.0.1:8080/big | md5sum | cut -d' ' -f1)
  expect_eq "2 MiB from the guest (md5)" "$(rt exec pf cat /tmp/big.md5 </dev/null)" "$sum" || return
  nsenter --net="/var/run/netns/$ns" timeout 20 /bin/busybox wget -q -O - \
    http://127.0.0.1:8081/ >/dev/null 2>&1 && { fail "a port nothing listens on answered"; return; }
  # A server on the guest's ::1 only: containerd dials 127.0.0.1 (accepted), the agent falls
  # back to ::1 as containerd would for a runc pod.
  rt exec pf httpd -p '[::1]:8081' -h /tmp </dev/null || { fail "httpd on ::1 in the guest"; return; }
  for i in $(seq 20); do
    out=$(nsenter --net="/var/run/netns/$ns" timeout 20 /bin/busybox wget -q -O - \
      http://127.0.0.1:8081/index.html 2>/dev/null) && break
    sleep 0.5
  done
  expect_eq "the guest's page from its [::1]:8081" "pf-page" "$out" || return
  # The host's own 127.0.0.1 is untouched.
  iptables -t nat -S OUTPUT 2>/dev/null | grep -q "127.0.0.1/32 -p tcp -j REDIRECT" &&
    { fail "a redirect in the host's netns"; return; }
  rt delete --force pf || { fail "delete --force"; return; }
  out=$(ip netns exec "$ns" iptables -t nat -S OUTPUT)
  case $out in *REDIRECT*) fail "the redirect stays after delete: $out"; return ;; esac
  expect_no_residue pf || return
  ip netns del "$ns"
  pass
}

test_guest_output_bounded() {
  begin "a guest flooding its console grows no host file beyond 1 MiB: kata-proxy keeps the logs"
  local id=hostio-flood conf=$TEST_ROOT/proxy-debug.toml cap=1048576 out vm qemu proxy i
  # The proxy at debug level relays every console line to proxy.log too.
  python3 - "$KATA_CONFIG" "$conf" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
text = re.sub(r'(\[proxy\.kata\][^\[]*?)enable_debug = false', r'\1enable_debug = true', text)
open(sys.argv[2], "w").write(text)
PY
  # The container writes 1.4 MB of error-level kernel messages (the guest kernel prints them on
  # its console); one line per open of /dev/kmsg escapes its per-open rate limit.
  make_bundle "$B/flood" false '{}' sh -c 'pad=$(printf %0900d 0); i=0; while [ $i -lt 1500 ]; do echo "<3>hostio-flood $i $pad" > /dev/kmsg; i=$((i + 1)); done; echo "<3>hostio-flood-done" > /dev/kmsg; while true; do sleep 1; done'
  python3 - "$B/flood/config.json" <<'PY'
import json, sys
spec = json.load(open(sys.argv[1]))
spec["linux"].setdefault("devices", []).append(
    {"path": "/dev/kmsg", "type": "c", "major": 1, "minor": 11, "fileMode": 0o600, "uid": 0, "gid": 0})
spec["linux"].setdefault("resources", {}).setdefault("devices", []).append(
    {"allow": True, "type": "c", "major": 1, "minor": 11, "access": "rw"})
json.dump(spec, open(sys.argv[1], "w"), indent=1)
PY
  "$RUNTIME" --kata-config "$conf" --root "$TEST_ROOT/state" run -d --bundle "$B/flood" "$id" \
    </dev/null >/dev/null 2>"$TEST_ROOT/flood.err" || { fail "run -d: $(tail -c 600 "$TEST_ROOT/flood.err")"; return; }
  vm=/run/vc/vm/$id
  for i in $(seq 600); do
    grep -aq "hostio-flood-done" "$vm/console.log" 2>/dev/null && break
    sleep 0.5
  done
  grep -aq "hostio-flood-done" "$vm/console.log" || { fail "the flood's last line never reached console.log ($(stat -c %s "$vm/console.log" 2>&1))"; return; }
  for f in console.log proxy.log; do
    local size
    size=$(stat -c %s "$vm/$f")
    [ "$size" -le "$cap" ] || { fail "$f is $size bytes, above $cap"; return; }
    grep -aq "older bytes dropped" "$vm/$f" || { fail "$f: nothing was dropped ($size bytes)"; return; }
  done
  grep -aq "hostio-flood-done" "$vm/proxy.log" || { fail "proxy.log lost the newest line"; return; }
  # QEMU holds no log the guest feeds: its stderr is /dev/null once it runs (-daemonize).
  qemu=$(pgrep -f "sandbox-$id")
  expect_eq "QEMU's stderr" /dev/null "$(readlink "/proc/$qemu/fd/2")" || return
  ls -l "/proc/$qemu/fd" | grep -q "$vm/console.log" && { fail "QEMU writes console.log"; return; }
  proxy=$(pgrep -f -- "-sandbox $id")
  ls -l "/proc/$proxy/fd" | grep -q "$vm/console.log" || { fail "kata-proxy does not hold console.log"; return; }
  rt delete --force "$id" >/dev/null 2>&1
  expect_no_residue "$id" || return
  pass
}

ALL="test_bad_inputs test_run_prints_guest_kernel test_lifecycle test_ps_pause_update_events test_force_delete_after_qemu_killed test_force_delete_after_proxy_and_shim_killed test_pod_two_containers_one_vm test_tty_console_socket test_virtio_fs_shared_dir test_initrd_root test_acpi_nvdimm_root test_network_namespace_taps test_port_forward test_guest_output_bounded"
for t in ${*:-$ALL}; do "$t"; done
finish
