# Resources for Docker users (sourced by docker_test.sh): the VM sized from the container's
# limits, the limits in the guest's cgroups, the sandbox's host cgroup (sandbox_cgroup_only),
# docker update, docker stats, and an OOM kill reported as Docker reports runc's.
# Two VMs in all.

# kdres_guest_cg NAME CONTROLLER FILE: a cgroup file of the container's guest cgroup.
kdres_guest_cg() {
  docker_cli exec "$1" sh -c "p=\$(sed -n 's/^[0-9]*:[^:]*\\<$2\\>[^:]*://p' /proc/self/cgroup);
    for d in /sys/fs/cgroup/$2\$p /sys/fs/cgroup/$2; do [ -e \$d/$3 ] && { cat \$d/$3; exit; }; done
    echo missing"
}

# kdres_host_cg CONTROLLER ID FILE: the container's host cgroup file (Docker's --cgroup-parent).
kdres_host_cg() { cat "/sys/fs/cgroup/$1$CGROUP_PARENT/$2/$3" 2>/dev/null || echo missing; }

# kdres_in_host_cgroup PID ID: the process runs in the container's host cgroup (cpu and memory).
kdres_in_host_cgroup() {
  grep -q "^[0-9]*:[^:]*\<memory\>[^:]*:$CGROUP_PARENT/$2\$" "/proc/$1/cgroup" &&
    grep -q "^[0-9]*:[^:]*\<cpu\>[^:]*:$CGROUP_PARENT/$2\$" "/proc/$1/cgroup"
}

test_resources_sizing_limits_update_stats() {
  begin "docker run -m/--cpus/...: VM sized, guest cgroup limits, host cgroup, update, stats"
  local name=kdres-size-$$ id out v qemu shim proxy stats
  if [ ! -d /sys/fs/cgroup/memory ]; then
    fail "this test reads cgroup v1 host files; /sys/fs/cgroup/memory is missing"
    return
  fi
  out=$(kdrun -d --name "$name" --network none -m 256m --memory-swap 512m --cpus 2 \
    --pids-limit 77 --cpu-shares 512 --blkio-weight 300 "$IMAGE" sleep 600 2>&1 >/dev/null) ||
    { fail "docker run -d failed: $out"; return; }
  id=$(docker_cli inspect -f '{{.Id}}' "$name")
  local ok=1 check
  check() { [ "$2" = "$3" ] || { fail "$1: expected [$2], got [$3]"; ok=0; }; }

  # The VM: 2 vCPUs, default_memory (512 MiB) + 256 MiB of RAM.
  check "nproc in the container" 2 "$(docker_cli exec "$name" nproc)"
  v=$(docker_cli exec "$name" free -m | awk '/^Mem:/ {print $2}')
  [ -n "$v" ] && [ "$v" -gt 600 ] && [ "$v" -le 768 ] ||
    { fail "free -m total [$v] MiB: expected 512 + 256 MiB less the guest kernel's share"; ok=0; }
  # The guest's cgroups.
  check "guest memory.limit_in_bytes" $((256 << 20)) "$(kdres_guest_cg "$name" memory memory.limit_in_bytes)"
  v=$(kdres_guest_cg "$name" memory memory.memsw.limit_in_bytes)
  [ "$v" = missing ] && echo "     (guest kernel without swap accounting: memory.memsw absent)" ||
    check "guest memory.memsw.limit_in_bytes" $((512 << 20)) "$v"
  check "guest pids.max" 77 "$(kdres_guest_cg "$name" pids pids.max)"
  check "guest cpu.shares" 512 "$(kdres_guest_cg "$name" cpu cpu.shares)"
  check "guest cpu.cfs_quota_us" 200000 "$(kdres_guest_cg "$name" cpu cpu.cfs_quota_us)"
  case "$out" in
    *"Weight discarded"*)
      # Docker drops the option before the runtime sees it when the host has no blkio weight.
      echo "     (--blkio-weight not checked: this host has no blkio weight, Docker discarded it)" ;;
    *)
      v=$(kdres_guest_cg "$name" blkio blkio.weight)
      [ "$v" = missing ] && v=$(kdres_guest_cg "$name" blkio blkio.bfq.weight)
      check "guest blkio weight" 300 "$v" ;;
  esac

  # The host side: QEMU, kata-proxy and the shim in the container's host cgroup, with its CPU
  # limits.
  qemu=$(pgrep -f "qemu.*sandbox-$id")
  proxy=$(pgrep -f "kata-proxy.*-sandbox $id")
  shim=$(docker_cli inspect -f '{{.State.Pid}}' "$name")
  for p in "qemu:$qemu" "proxy:$proxy" "shim:$shim"; do
    kdres_in_host_cgroup "${p#*:}" "$id" ||
      { fail "${p%%:*} (pid ${p#*:}) is not in $CGROUP_PARENT/$id: $(tr '\n' ' ' < "/proc/${p#*:}/cgroup")"; ok=0; }
  done
  check "host cpu.cfs_quota_us" 200000 "$(kdres_host_cg cpu "$id" cpu.cfs_quota_us)"
  check "host cpu.shares" 512 "$(kdres_host_cg cpu "$id" cpu.shares)"

  # docker stats: the host cgroup's accounting (containerd's runc shim reads it), so the VM's.
  stats=$(docker_cli stats --no-stream --format '{{.MemUsage}}|{{.CPUPerc}}|{{.PIDs}}|{{.NetIO}}' "$name" 2>&1)
  echo "     docker stats: $stats"
  case "$stats" in
    0B*|*error*|*Error*|"") fail "docker stats: [$stats]"; ok=0 ;;
  esac
  v=$(echo "$stats" | cut -d'|' -f3)
  [ -n "$v" ] && [ "$v" -gt 2 ] || { fail "docker stats PIDs [$v]: QEMU's threads at least"; ok=0; }

  # docker update: down and up within the VM work (guest and host), beyond it is refused.
  out=$(docker_cli update --memory 128m --cpus 1 "$name" 2>&1) || { fail "update down: $out"; ok=0; }
  check "guest memory limit after update down" $((128 << 20)) "$(kdres_guest_cg "$name" memory memory.limit_in_bytes)"
  check "guest cfs quota after update --cpus 1" 100000 "$(kdres_guest_cg "$name" cpu cpu.cfs_quota_us)"
  check "host cfs quota after update --cpus 1" 100000 "$(kdres_host_cg cpu "$id" cpu.cfs_quota_us)"
  out=$(docker_cli update --memory 400m --cpus 2 "$name" 2>&1) || { fail "update up within the VM: $out"; ok=0; }
  check "guest memory limit after update up" $((400 << 20)) "$(kdres_guest_cg "$name" memory memory.limit_in_bytes)"
  check "guest cfs quota after update --cpus 2" 200000 "$(kdres_guest_cg "$name" cpu cpu.cfs_quota_us)"
  out=$(docker_cli update --memory 2g --memory-swap 3g "$name" 2>&1) &&
    { fail "update --memory 2g beyond the VM's 768 MiB succeeded"; ok=0; }
  case "$out" in
    *"cannot grow"*) ;;
    *) fail "update --memory 2g: expected a clear error, got: $out"; ok=0 ;;
  esac
  check "guest memory limit after the refused update" $((400 << 20)) "$(kdres_guest_cg "$name" memory memory.limit_in_bytes)"
  check "docker's recorded limit after the refused update" $((400 << 20)) \
    "$(docker_cli inspect -f '{{.HostConfig.Memory}}' "$name")"

  docker_cli stop -t 1 "$name" >/dev/null
  local tries=50
  while [ $tries -gt 0 ] && docker_cli inspect "$name" >/dev/null 2>&1; do sleep 0.2; tries=$((tries - 1)); done
  for v in /sys/fs/cgroup/*"$CGROUP_PARENT/$id"; do
    [ -d "$v" ] && { fail "host cgroup left behind: $v"; ok=0; }
  done
  [ $ok = 1 ] && expect_docker_clean && pass
}

test_resources_cpuset_and_oom_kill() {
  begin "--cpuset-cpus 1 gives 1 vCPU; update beyond it is refused; -m 64m exceeded: OOMKilled, 137"
  local name=kdres-oom-$$ id out v ok=1
  kdrun_keep() { docker_cli run --runtime kata-runtime "$@"; }
  kdrun_keep -d --name "$name" --network none -m 64m --cpuset-cpus 1 "$IMAGE" \
    sh -c 'while [ ! -e /tmp/go ]; do sleep 0.1; done; head -c 200m /dev/zero | tail' >/dev/null ||
    { fail "docker run -d failed"; docker_cli rm -f "$name" >/dev/null 2>&1; return; }
  id=$(docker_cli inspect -f '{{.Id}}' "$name")
  v=$(docker_cli exec "$name" nproc)
  [ "$v" = 1 ] || { fail "nproc with --cpuset-cpus 1: [$v]"; ok=0; }
  v=$(kdres_host_cg cpuset "$id" cpuset.cpus)
  [ "$v" = 1 ] || { fail "host cpuset.cpus: [$v]"; ok=0; }
  out=$(docker_cli update --cpus 2 "$name" 2>&1) && { fail "update --cpus 2 on a 1-vCPU VM succeeded"; ok=0; }
  case "$out" in
    *"cannot grow"*) ;;
    *) fail "update --cpus 2: expected a clear error, got: $out"; ok=0 ;;
  esac
  docker_cli exec "$name" touch /tmp/go
  v=$(timeout 60 /usr/bin/docker -H "unix://$DOCKER_DIR/docker.sock" wait "$name")
  out=$(docker_cli inspect -f '{{.State.OOMKilled}} {{.State.ExitCode}}' "$name")
  docker_cli rm -f "$name" >/dev/null 2>&1
  [ "$out" = "true 137" ] || { fail "inspect after the OOM: [$out] (wait said [$v]), expected [true 137]"; ok=0; }
  [ $ok = 1 ] && expect_docker_clean && pass
}

# Not a test (no test_ prefix): run by name, `docker_test.sh build bench_resources_qemu_memory`.
# QEMU's host RSS and PSS, 5 s after the container printed, for default and -m 256m VMs.
bench_resources_qemu_memory() {
  begin "bench: QEMU host RSS/PSS, default VM vs -m 256m"
  local opt name id qemu
  for opt in "" "-m 256m"; do
    name=kdres-bench-$$
    # shellcheck disable=SC2086  # $opt is one option and its value, or nothing
    kdrun -d --name "$name" --network none $opt "$IMAGE" sh -c 'echo up; sleep 600' >/dev/null
    id=$(docker_cli inspect -f '{{.Id}}' "$name")
    until docker_cli logs "$name" 2>/dev/null | grep -q up; do sleep 0.2; done
    sleep 5
    qemu=$(pgrep -f "qemu.*sandbox-$id")
    echo "     ${opt:-default}: QEMU $(tr '\0' ' ' < "/proc/$qemu/cmdline" | grep -o -- '-m [^ ]*'):" \
      "$(awk '/^(Rss|Pss):/ {printf "%s %d MiB  ", $1, $2 / 1024}' "/proc/$qemu/smaps_rollup")"
    docker_cli rm -f "$name" >/dev/null
  done
  expect_docker_clean && pass
}
