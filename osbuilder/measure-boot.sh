#!/bin/bash
# Measures guest boot time under QEMU (TCG here): from just before QEMU is started until
#   --until userspace  the guest's init prints MARKER on the serial console (default marker:
#                      the smoke-test init's "KATA-TEST: userspace"), or
#   --until check      the agent answers grpc.Health/Check through kata-proxy (needs
#                      $BUILD/bin/kata-proxy, the real kata-agent in the assets, python3-grpcio).
# Boots RUNS times, prints each sample and the median, and a Markdown table row.
#
#   measure-boot.sh --kernel FILE (--initrd FILE | --image FILE --root pmem|blk)
#                   [--machine pc|q35|microvm] [--runs 5] [--until userspace|check]
#                   [--marker TEXT] [--build DIR] [--label TEXT] [--append "extra params"]
#                   [--tcg-cache MiB]   (TCG translation cache; default 32, the configuration's)
#                   [--acpi off|on]     (pc/q35: ACPI tables for the guest; default off, as
#                                        kata-runtime's enable_acpi = false; on puts the image
#                                        on an nvdimm, off on virtio-pmem)
#
# Example (the figures in docs/performance.md):
#   osbuilder/measure-boot.sh --kernel A/vmlinuz.container --initrd A/kata-containers-initrd.img \
#       --machine q35 --runs 5
set -euo pipefail

kernel="" initrd="" image="" root="pmem" machine="pc" runs=5 until="userspace"
marker="KATA-TEST: userspace" build="" label="" extra="" timeout=120 tcg_cache=32 acpi=off
# Debian's python3 (python3-grpcio), not one an environment manager put first in PATH.
python=${PYTHON:-/usr/bin/python3}
while [ $# -gt 0 ]; do
  case $1 in
    --kernel) kernel=$2; shift 2 ;;
    --initrd) initrd=$2; shift 2 ;;
    --image) image=$2; shift 2 ;;
    --root) root=$2; shift 2 ;;
    --machine) machine=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --until) until=$2; shift 2 ;;
    --marker) marker=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    --label) label=$2; shift 2 ;;
    --append) extra=$2; shift 2 ;;
    --timeout) timeout=$2; shift 2 ;;
    --tcg-cache) tcg_cache=$2; shift 2 ;;
    --acpi) acpi=$2; shift 2 ;;
    *) echo "measure-boot: unknown option $1" >&2; exit 2 ;;
  esac
done
die() { echo "measure-boot: error: $*" >&2; exit 1; }
[ -f "$kernel" ] || die "--kernel FILE is required"
[ -n "$initrd$image" ] || die "one of --initrd or --image is required"
[ -z "$initrd" ] || [ -f "$initrd" ] || die "initrd $initrd not found"
[ -z "$image" ] || [ -f "$image" ] || die "image $image not found"
case $until in
  userspace) ;;
  check)
    [ -x "$build/bin/kata-proxy" ] || die "--until check needs --build DIR with bin/kata-proxy"
    "$python" -c 'import grpc' 2>/dev/null || die "--until check needs python3-grpcio (for $python)"
    ;;
  *) die "--until must be userspace or check" ;;
esac
case $acpi in on | off) ;; *) die "--acpi must be on or off" ;; esac

work=$(mktemp -d /tmp/measure-boot.XXXXXX)
qemu_pid="" proxy_pid=""
cleanup() {
  [ -n "$proxy_pid" ] && kill "$proxy_pid" 2>/dev/null
  [ -n "$qemu_pid" ] && kill -9 "$qemu_pid" 2>/dev/null
  wait 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The runtime's QEMU command line (see docs/osbuilder.md), one machine type at a time.
qemu_args() {
  # The CPU model and parameters kata-runtime passes (runtime/virtcontainers/qemu.cc: TCG's
  # -cpu, kUpstreamKernelParams, kAcpiKernelParams or kNoAcpiKernelParams and the agent's
  # channel): the i8042 ones alone save half a second of mouse probing, acpi=noirq (with ACPI)
  # a quarter of a second per PCI device.
  local append="console=ttyS0 quiet panic=1 tsc=reliable no_timer_check rcupdate.rcu_expedited=1
    i8042.direct=1 i8042.dumbkbd=1 i8042.nopnp=1 i8042.noaux=1 noreplace-smp reboot=k iommu=off
    cryptomgr.notests net.ifnames=0 pci=lastbus=0 agent.use_vsock=false $extra"
  local bus=pci mach
  append=$(echo $append)  # one line
  # Under TCG the guest's TSC ticks at the host's rate. Without ACPI (no HPET, no PM timer) the
  # guest has nothing to calibrate it against (its PIT calibration fails under emulation), so
  # it is told the rate, as kata-runtime does (it measures it; the console's MHz is close).
  local tsc_khz
  tsc_khz=$(awk '/^cpu MHz/ { printf "%d", $4 * 1000; exit }' /proc/cpuinfo)
  case $machine in
    pc | q35)
      if [ "$acpi" = on ]; then
        mach="$machine"; append="$append acpi=noirq"
      else
        mach="$machine,acpi=off"; append="$append acpi=off tsc_early_khz=$tsc_khz"
      fi
      ;;
    microvm)
      # (No acpi=noirq: microvm's virtio-mmio devices take their interrupts from ACPI.)
      mach="microvm"; bus=device
      # microvm has no PIT/HPET/ACPI PM timer to calibrate the TSC against (without this
      # Debian's kernel hangs).
      append="$append tsc_early_khz=$tsc_khz"
      ;;
    *) die "unknown machine $machine" ;;
  esac
  # shellcheck disable=SC2054  # commas belong to QEMU option values
  local args=(-accel "tcg,tb-size=$tcg_cache" -cpu max,-erms -smp 1 -nographic -nodefaults -no-user-config -no-reboot
    -serial chardev:cons -chardev "socket,id=cons,path=$work/console.sock,server=on,wait=off"
    -device "virtio-serial-$bus" -device virtserialport,chardev=ch0,name=agent.channel.0
    -chardev "socket,id=ch0,path=$work/kata.sock,server=on,wait=off" -kernel "$kernel"
    -object rng-random,id=rng0,filename=/dev/urandom -device "virtio-rng-$bus,rng=rng0")
  if [ -n "$initrd" ]; then
    args+=(-machine "$mach" -m 512M -initrd "$initrd")
  elif [ "$root" = pmem ]; then
    local size
    size=$(stat -c %s "$image")
    args+=(-m 512M,slots=2,maxmem=4G
      -object "memory-backend-file,id=mem0,mem-path=$image,size=$size,readonly=on")
    # An nvdimm is described to the guest by ACPI (NFIT); without ACPI the image is a
    # virtio-pmem device. Both give /dev/pmem0 with DAX.
    if [ "$acpi" = on ] || [ "$machine" = microvm ]; then
      args+=(-machine "$mach,nvdimm=on" -device nvdimm,id=nv0,memdev=mem0,unarmed=on)
    else
      args+=(-machine "$mach" -device "virtio-pmem-$bus,id=nv0,memdev=mem0")
    fi
    append="$append root=/dev/pmem0p1 rootflags=dax,errors=remount-ro ro rootfstype=ext4"
  else
    args+=(-machine "$mach" -m 512M -drive "if=none,id=root,file=$image,format=raw,readonly=on"
      -device "virtio-blk-$bus,drive=root")
    append="$append root=/dev/vda1 ro rootfstype=ext4"
  fi
  args+=(-append "$append")
  printf '%s\n' "${args[@]}"
}

# Health.Check with an empty CheckRequest; SERVING is field 1 = 1 (bytes 08 01). One process
# for the whole boot, started beside QEMU (a new interpreter per attempt would add its own
# start-up to every sample): it waits for the proxy's socket, retries every 10 ms, and prints
# the wall-clock time of the first SERVING answer.
check_client='
import grpc, os, sys, time
path, deadline = sys.argv[1], time.time() + float(sys.argv[2])
while not os.path.exists(path) and time.time() < deadline:
    time.sleep(0.005)
ch = grpc.insecure_channel("unix://" + path)
call = ch.unary_unary("/grpc.Health/Check")
while time.time() < deadline:
    try:
        if call(b"", timeout=1.0, wait_for_ready=True) == b"\x08\x01":
            print("%.6f" % time.time())
            sys.exit(0)
    except grpc.RpcError:
        pass
    time.sleep(0.01)
sys.exit(1)
'

# CPU time QEMU has used so far (user + system). On a loaded machine wall time mostly measures
# the other processes; under TCG the guest's boot is CPU-bound, so this is the figure an idle
# machine's wall time converges to.
qemu_cpu_seconds() {
  awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%.2f", ($12 + $13) / hz }' \
    "/proc/$qemu_pid/stat"
}

one_run() {
  local -a args
  mapfile -t args < <(qemu_args)
  rm -f "$work"/*.sock "$work/console.log"
  local t0 t1
  t0=$EPOCHREALTIME
  qemu-system-x86_64 "${args[@]}" &
  qemu_pid=$!
  # Read the console like the proxy does: connect to QEMU's console socket.
  local tries=0
  until [ -S "$work/console.sock" ] || [ $tries -ge 500 ]; do sleep 0.01; tries=$((tries + 1)); done
  socat -u "unix-connect:$work/console.sock" "open:$work/console.log,creat,append" &
  local reader=$!
  if [ "$until" = userspace ]; then
    local deadline=$((SECONDS + timeout))
    until grep -aq "$marker" "$work/console.log" 2>/dev/null; do
      [ $SECONDS -lt $deadline ] || { tail -n 20 "$work/console.log" >&2; die "no '$marker' within ${timeout}s"; }
      kill -0 "$qemu_pid" 2>/dev/null || { tail -n 20 "$work/console.log" >&2; die "qemu exited early"; }
      sleep 0.02
    done
    t1=$EPOCHREALTIME
    qemu_cpu=$(qemu_cpu_seconds)
  else
    "$build/bin/kata-proxy" -listen-socket "unix://$work/proxy.sock" -mux-socket "$work/kata.sock" \
      -sandbox measure >/dev/null 2>&1 &
    proxy_pid=$!
    if ! t1=$("$python" -c "$check_client" "$work/proxy.sock" "$timeout"); then
      tail -n 20 "$work/console.log" >&2
      die "no Check answer within ${timeout}s"
    fi
    qemu_cpu=$(qemu_cpu_seconds)
    kill "$proxy_pid" 2>/dev/null || true; wait "$proxy_pid" 2>/dev/null || true; proxy_pid=""
  fi
  kill -9 "$qemu_pid" 2>/dev/null || true; wait "$qemu_pid" 2>/dev/null || true; qemu_pid=""
  kill "$reader" 2>/dev/null || true; wait "$reader" 2>/dev/null || true
  sample=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
  cpu_sample=$qemu_cpu
}

median() {
  printf '%s\n' "$@" | sort -n | awk '{ a[NR] = $1 } END {
    if (NR % 2) print a[(NR + 1) / 2]; else printf "%.2f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

samples=() cpu_samples=()
for i in $(seq 1 "$runs"); do
  one_run  # not in a subshell: the EXIT trap must see qemu_pid to clean up
  echo "run $i: ${sample}s wall, ${cpu_sample}s QEMU CPU" >&2
  samples+=("$sample")
  cpu_samples+=("$cpu_sample")
done
wall=$(median "${samples[@]}")
cpu=$(median "${cpu_samples[@]}")
what=${initrd:+initrd}
if [ -z "$what" ] && [ "$root" = pmem ] && [ "$machine" != microvm ]; then
  [ "$acpi" = on ] && what=image/nvdimm || what=image/virtio-pmem
fi
what=${what:-image/$root}
[ "$machine" = microvm ] || [ "$acpi" = on ] || what="$what, no ACPI"
echo "median: ${wall}s wall (${samples[*]}), ${cpu}s QEMU CPU (${cpu_samples[*]}), load $(cut -d' ' -f1 /proc/loadavg)"
echo "| ${label:-$(basename "$kernel")} | $what | $machine | $until | ${wall} s | ${cpu} s | ${samples[*]} |"
