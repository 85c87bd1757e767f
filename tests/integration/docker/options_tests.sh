# Docker's volume, filesystem and security options under kata-runtime, beside runc where the
# expected output is not obvious. Sourced by docker_test.sh (kdrun, docker_cli, $IMAGE, ...).
# One VM checks several options; --network none throughout (networking is not the subject).

# The Cap*, NoNewPrivs lines of /proc/self/status, on one line.
OPTS_STATUS='grep -E "^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs):" /proc/self/status | tr -s "\t\n" "  "; echo'

test_opts_volumes_and_filesystems() {
  begin "docker -v rw/ro, named volume, --tmpfs size, --read-only, --shm-size in the guest"
  local d=$TEST_ROOT/opts-vol vol=kdopts-vol-$$ out rc i mp
  mkdir -p "$d/rw" "$d/ro"
  echo orig > "$d/ro/f"
  docker_cli volume create "$vol" >/dev/null || { fail "docker volume create"; return; }
  # Root with every capability tries to break the :ro promise; the rw volume is written from
  # both sides while the container runs; --read-only leaves the --tmpfs mounts writable;
  # --ipc shareable makes /dev/shm a host tmpfs of --shm-size that Docker binds.
  kdrun --network none --cap-add ALL --read-only --ipc shareable --tmpfs /run:size=1m --tmpfs /tmp \
    --shm-size 96m -v "$d/rw:/data" -v "$d/ro:/ro:ro" -v "$vol:/named" "$IMAGE" sh -c '
      echo guest > /data/from-guest
      i=0; while [ ! -e /data/from-host ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done
      echo "host-file:$(cat /data/from-host)"
      mount -o remount,rw /ro 2>/dev/null; echo pwned > /ro/f; echo pwned > /ro/new
      echo "ro-f:$(cat /ro/f)"
      echo kept > /named/k
      echo "run-kb:$(df -k /run | awk "NR==2 {print \$2}")"
      dd if=/dev/zero of=/run/big bs=1k count=2048
      echo "shm-kb:$(df -k /dev/shm | awk "NR==2 {print \$2}")"
      touch /rootfile || echo "root-ro"
      touch /tmp/ok && echo "tmp-rw"
      exit 7' >"$d/out" 2>&1 &
  local pid=$!
  for i in $(seq 600); do [ -e "$d/rw/from-guest" ] && break; sleep 0.1; done
  echo host > "$d/rw/from-host"
  wait $pid
  rc=$?
  out=$(cat "$d/out")
  expect_eq "exit code" 7 "$rc" || return
  expect_eq "guest write on the host" guest "$(cat "$d/rw/from-guest" 2>/dev/null)" || return
  expect_contains "host write in the guest" "host-file:host" "$out" || return
  expect_contains "write to the :ro volume" "Read-only file system" "$out" || return
  expect_contains "the :ro volume's file in the guest" "ro-f:orig" "$out" || return
  expect_eq "the :ro volume's file on the host" orig "$(cat "$d/ro/f")" || return
  [ ! -e "$d/ro/new" ] || { fail "the guest created a file in the :ro volume"; return; }
  expect_contains "--tmpfs /run:size=1m" "run-kb:1024" "$out" || return
  expect_contains "--tmpfs size enforced" "No space left on device" "$out" || return
  expect_contains "--shm-size 96m" "shm-kb:98304" "$out" || return
  expect_contains "--read-only rootfs" "root-ro" "$out" || return
  expect_contains "--tmpfs /tmp under --read-only" "tmp-rw" "$out" || return
  # The named volume outlives the container: on the host and for the next container.
  mp=$(docker_cli volume inspect -f '{{.Mountpoint}}' "$vol")
  expect_eq "named volume on the host" kept "$(cat "$mp/k" 2>/dev/null)" || return
  out=$(docker_cli run --runtime runc --rm --network none -v "$vol:/named" "$IMAGE" cat /named/k 2>&1)
  expect_eq "named volume in the next container" kept "$out" || return
  docker_cli volume rm "$vol" >/dev/null || { fail "docker volume rm"; return; }
  expect_docker_clean && pass
}

# The script both runtimes run, as user 1000:1000 with the options below.
OPTS_PROCESS_SCRIPT='echo "env:$FOO"; echo "cwd:$(pwd)"; echo "id:$(id)"; echo "groups:$(id -G)"
echo "nofile:$(ulimit -n)/$(ulimit -Hn)"
echo "forward:$(cat /proc/sys/net/ipv4/ip_forward) msgmax:$(cat /proc/sys/kernel/msgmax)"
echo "myzero:$(head -c 3 /dev/myzero | od -An -tx1 | tr -d " ")"
echo "status:$('"$OPTS_STATUS"')"; sleep 1000'
OPTS_PROCESS_ARGS=(--network none -e FOO=bar -w /work -u 1000:1000 --group-add 123
  --cap-drop NET_RAW --cap-add SYS_ADMIN --security-opt no-new-privileges
  --ulimit nofile=123:456 --sysctl net.ipv4.ip_forward=1 --sysctl kernel.msgmax=4321
  --device /dev/zero:/dev/myzero)

# opts_process_output RUNTIME NAME: the script's output under RUNTIME, then the root exec's.
opts_process_output() {
  local runtime=$1 name=$2 i logs
  docker_cli run -d --name "$name" --runtime "$runtime" "${OPTS_PROCESS_ARGS[@]}" "$IMAGE" \
    sh -c "$OPTS_PROCESS_SCRIPT" >/dev/null || return 1
  for i in $(seq 300); do
    logs=$(docker_cli logs "$name" 2>&1)
    case "$logs" in *status:*) break ;; esac
    sleep 0.1
  done
  echo "$logs"
  # Root's capabilities with --cap-drop/--cap-add (docker exec inherits the container's).
  echo "root-$(docker_cli exec -u 0 "$name" sh -c "$OPTS_STATUS" 2>&1)"
  docker_cli rm -f "$name" >/dev/null
}

test_opts_process() {
  begin "docker -e -w -u --group-add --cap-drop/--cap-add no-new-privileges --ulimit --sysctl --device (standard device), as under runc"
  local kata runc
  kata=$(opts_process_output kata-runtime kdopts-proc-kata-$$)
  runc=$(opts_process_output runc kdopts-proc-runc-$$)
  expect_contains "-e" "env:bar" "$kata" || return
  expect_contains "-w" "cwd:/work" "$kata" || return
  expect_contains "-u 1000:1000" "id:uid=1000 gid=1000" "$kata" || return
  expect_contains "--group-add 123" "groups:1000 123" "$kata" || return
  expect_contains "--ulimit nofile=123:456" "nofile:123/456" "$kata" || return
  expect_contains "--sysctl" "forward:1 msgmax:4321" "$kata" || return
  expect_contains "--device /dev/zero:/dev/myzero" "myzero:000000" "$kata" || return
  expect_contains "--security-opt no-new-privileges" "NoNewPrivs: 1" "$kata" || return
  # Everything, capability sets included, as runc gives it.
  expect_eq "kata-runtime's output vs runc's" "$runc" "$kata" || return
  expect_docker_clean && pass
}

test_opts_privileged_devices() {
  begin "docker --privileged gives the guest's devices, never the host's; --device of a host device is refused"
  local kata out rc hostdev="" eff
  # A device the host has and the guest cannot (no KVM or zram in the guest kernel). runc
  # would give a privileged container every device of the host's /dev (runc itself cannot run
  # --privileged here: this host's bounding set lacks a capability).
  for hostdev in kvm zram0 loop0 ""; do [ -e "/dev/$hostdev" ] && break; done
  [ -n "$hostdev" ] || { fail "no host-only device (/dev/kvm, zram0, loop0) on this host to check"; return; }
  kata=$(kdrun --network none --privileged "$IMAGE" sh -c \
    'ls /dev | tr "\n" " "; echo; '"$OPTS_STATUS"'; mount -t tmpfs t /tmp && echo mount-ok' 2>&1)
  # The guest's own devices: its virtio-serial ports, its console.
  expect_contains "the guest's virtio-serial port" "vport" "$kata" || return
  expect_contains "the guest's console" "ttyS0" "$kata" || return
  case " $(echo "$kata" | head -n 1) " in
    *" $hostdev "*) fail "the host's /dev/$hostdev is in the container: $kata"; return ;;
  esac
  # Every capability Docker 20.10 knows (0-37, CAP_CHOWN to CAP_AUDIT_READ), in every set.
  eff=$(echo "$kata" | sed -n 's/.*CapEff: \([0-9a-f]*\) CapBnd: \1 .*/\1/p')
  [ -n "$eff" ] && [ $(( 16#$eff & 16#3fffffffff )) -eq $(( 16#3fffffffff )) ] ||
    { fail "--privileged: not every capability, or CapEff is not CapBnd: $kata"; return; }
  expect_contains "--privileged: mount" "mount-ok" "$kata" || return
  # A host device cannot enter the VM: refused at create, naming the option, nothing left.
  out=$(kdrun --network none --device "/dev/$hostdev" "$IMAGE" true 2>&1)
  rc=$?
  expect_eq "docker run --device /dev/$hostdev exit code" 125 "$rc" || return
  expect_contains "--device error" "linux.devices: /dev/$hostdev: a host device cannot enter the VM (docker --device)" "$out" || return
  expect_docker_clean && pass
}
