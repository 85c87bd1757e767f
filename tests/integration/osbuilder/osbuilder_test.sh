#!/bin/bash
# osbuilder smoke tests: build guest assets around a busybox test init (test-init.sh) and boot
# them in QEMU (TCG) the way the runtime does; assert on what the guest reports.
#
#   osbuilder_test.sh CASE BUILD_DIR
#
# CASE: assets-debian | assets-minimal   build the shared assets (CTest fixtures)
#       host-rootfs                      rootfs/initrd/image checks that need no VM
#       agent-missing                    `make all` without an agent fails cleanly
#       boot-initrd-debian | boot-microvm-debian | boot-initrd-minimal | boot-microvm-minimal
#       boot-image-pmem | boot-image-blk (minimal kernel: Debian's has ext4/pmem as modules)
set -euo pipefail

case_name=${1:?usage: osbuilder_test.sh CASE BUILD_DIR}
build=$(realpath "${2:?usage: osbuilder_test.sh CASE BUILD_DIR}")
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../../.." && pwd)
assets_root=$build/tests/osbuilder-assets
test_init=$here/test-init.sh
boot_timeout=${KATA_TEST_BOOT_TIMEOUT:-120}

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

work=$(mktemp -d /tmp/osbuilder-test.XXXXXX)
qemu_pid=""
cleanup() {
  if [ -n "$qemu_pid" ]; then kill -9 "$qemu_pid" 2>/dev/null || true; wait "$qemu_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Debian's kernel unless the caller passes KERNEL=minimal (a later assignment wins).
osb_make() {
  make -C "$src/osbuilder" BUILD="$build" AGENT="$test_init" DEBUG=yes KERNEL=debian "$@"
}

# boot KERNEL MACHINE MODE [ASSETS]: boots like the runtime (console on a chardev, agent
# channel on virtio-serial); MODE initrd | pmem | blk. Leaves the console in $work/console.log.
boot() {
  local kernel=$1 machine=$2 mode=$3 assets=$4
  local bus=pci mach="$machine,accel=tcg" mem=512M append="console=ttyS0 quiet panic=1 reboot=k"
  if [ "$machine" = microvm ]; then
    bus=device
    # No PIT/HPET to calibrate the TSC against on microvm; under TCG it ticks at the host rate.
    append="$append tsc_early_khz=$(awk '/^cpu MHz/ { printf "%d", $4 * 1000; exit }' /proc/cpuinfo)"
  fi
  local -a disk=()
  case $mode in
    initrd) disk=(-initrd "$assets/kata-containers-initrd.img") ;;
    pmem)
      local size
      size=$(stat -c %s "$assets/kata-containers.img")
      mach="$mach,nvdimm=on"
      mem=512M,slots=2,maxmem=4G
      disk=(-object "memory-backend-file,id=mem0,mem-path=$assets/kata-containers.img,size=$size,readonly=on"
        -device nvdimm,id=nv0,memdev=mem0,unarmed=on)
      append="$append root=/dev/pmem0p1 rootflags=dax,errors=remount-ro ro rootfstype=ext4"
      ;;
    blk)
      disk=(-drive "if=none,id=root,file=$assets/kata-containers.img,format=raw,readonly=on"
        -device "virtio-blk-$bus,drive=root")
      append="$append root=/dev/vda1 ro rootfstype=ext4"
      ;;
  esac
  # -no-reboot: a guest panic (panic=1) ends QEMU instead of looping.
  qemu-system-x86_64 -machine "$mach" -cpu max -m "$mem" -smp 1 -nographic -nodefaults \
    -no-user-config -no-reboot \
    -serial chardev:cons -chardev "file,id=cons,path=$work/console.log" \
    -device "virtio-serial-$bus" -device virtserialport,chardev=ch0,name=agent.channel.0 \
    -chardev "socket,id=ch0,path=$work/kata.sock,server=on,wait=off" \
    -kernel "$kernel" "${disk[@]}" -append "$append" >"$work/qemu.out" 2>&1 &
  qemu_pid=$!
  local deadline=$((SECONDS + boot_timeout))
  until grep -aq 'KATA-TEST: done' "$work/console.log" 2>/dev/null; do
    if ! kill -0 "$qemu_pid" 2>/dev/null; then
      tail -n 30 "$work/console.log" "$work/qemu.out" >&2 || true
      fail "QEMU exited before the test init finished"
    fi
    if [ $SECONDS -ge $deadline ]; then
      tail -n 30 "$work/console.log" >&2 || true
      fail "guest did not finish within ${boot_timeout}s"
    fi
    sleep 0.2
  done
  # The test init powers off: QEMU must exit by itself.
  deadline=$((SECONDS + 30))
  while kill -0 "$qemu_pid" 2>/dev/null; do
    [ $SECONDS -lt $deadline ] || fail "guest did not power off"
    sleep 0.2
  done
  wait "$qemu_pid" || true
  qemu_pid=""
}

# report KEY: the value the test init printed for KEY.
report() {
  grep -a "^KATA-TEST: $1 " "$work/console.log" | head -n 1 | sed "s/^KATA-TEST: $1 //" | tr -d '\r'
}

# check_guest ASSETS ROOT_KIND: uname matches the assets' kernel-version; every module in the
# list is loaded; the root filesystem is the expected kind.
check_guest() {
  local assets=$1 root_kind=$2
  local want got modules ko name
  want=$(cat "$assets/kernel-version")
  got=$(report uname)
  [ "$got" = "$want" ] || fail "guest runs kernel '$got', expected '$want'"
  if grep -aq 'KATA-TEST: insmod-failed' "$work/console.log"; then
    grep -a 'insmod-failed' "$work/console.log" >&2
    fail "the guest could not load some modules"
  fi
  modules=" $(report modules) "
  while read -r ko _; do
    [ -n "$ko" ] || continue
    name=$(basename "$ko" .ko | tr - _)
    case $modules in
      *" $name "*) ;;
      *) fail "module $name from kata-modules.list is not loaded (loaded:$modules)" ;;
    esac
  done <"$assets/rootfs/lib/modules/kata-modules.list"
  local root
  root=$(report root)
  case $root_kind in
    initramfs) [[ $root == rootfs\ /\ * ]] || fail "root is '$root', expected the initramfs" ;;
    pmem)
      [[ $root == *\ /\ ext4\ ro,*dax* ]] || fail "root is '$root', expected ro ext4 with dax"
      [[ $(report rootdev) == *\ pmem0p1 ]] || fail "root device is '$(report rootdev)', expected pmem0p1"
      ;;
    blk)
      [[ $root == *\ /\ ext4\ ro,* ]] || fail "root is '$root', expected ro ext4"
      [[ $(report rootdev) == *\ vda1 ]] || fail "root device is '$(report rootdev)', expected vda1"
      ;;
  esac
  echo "ok: kernel $got, root '$root', $(grep -c . "$assets/rootfs/lib/modules/kata-modules.list") modules from the list loaded"
}

case $case_name in
  assets-debian)
    osb_make OUT="$assets_root/debian" all
    ;;

  assets-minimal)
    # First build of the kernel takes several minutes (progress is printed); later runs reuse
    # the cache in /var/cache/kata-cpp/kernel.
    osb_make OUT="$assets_root/minimal" KERNEL=minimal all
    ;;

  host-rootfs)
    # Libraries come from the binary: a dynamic binary must run inside the rootfs (chroot).
    out=$work/dyn
    osb_make OUT="$out" AGENT=/usr/bin/zstd DEBUG=no rootfs >/dev/null
    chroot "$out/rootfs" /usr/bin/kata-agent --version | grep -q Zstandard ||
      fail "the agent binary does not run inside its rootfs (missing libraries?)"
    [ ! -e "$out/rootfs/bin/sh" ] || fail "DEBUG=no rootfs contains a shell"
    [ -L "$out/rootfs/init" ] && [ "$(readlink -f "$out/rootfs/init")" = "$out/rootfs/usr/bin/kata-agent" ] ||
      fail "/init is not the agent (AGENT_INIT)"
    [ "$(chroot "$out/rootfs" /sbin/init --version 2>&1)" = "$(zstd --version)" ] ||
      fail "/sbin/init does not run the agent"
    for d in proc sys dev run tmp etc/passwd etc/group etc/hosts etc/resolv.conf lib/modules; do
      [ -e "$out/rootfs/$d" ] || fail "rootfs lacks /$d"
    done
    # Module list: absolute paths inside the rootfs, dependencies before dependants.
    list=$out/rootfs/lib/modules/kata-modules.list
    first_virtio=$(grep -n '/virtio\.ko' "$list" | cut -d: -f1)
    pci=$(grep -n '/virtio_pci\.ko' "$list" | cut -d: -f1)
    [ -n "$first_virtio" ] && [ -n "$pci" ] && [ "$first_virtio" -lt "$pci" ] ||
      fail "virtio.ko must precede virtio_pci.ko in $list"
    while read -r ko _; do
      [ -f "$out/rootfs$ko" ] || fail "listed module $ko is not in the rootfs"
    done <"$list"
    [ "$(sort "$list" | uniq -d)" = "" ] || fail "duplicate lines in $list"
    # Module parameters land on the module that was asked for.
    osb_make OUT="$work/par" AGENT=/usr/bin/zstd DEBUG=no MODULES="virtio_blk:queue_depth=64" rootfs >/dev/null
    grep -qx '/lib/modules/[^ ]*/virtio_blk.ko queue_depth=64' "$work/par/rootfs/lib/modules/kata-modules.list" ||
      fail "module parameter not recorded"

    # Incremental: a second run touches nothing; changing a variable rebuilds only what uses it.
    osb_make OUT="$out" AGENT=/usr/bin/zstd DEBUG=no all >/dev/null
    mtimes() { (cd "$out" && stat -c '%n %y' vmlinuz.container kata-containers-initrd.img kata-containers.img .rootfs.stamp); }
    before=$(mtimes)
    osb_make OUT="$out" AGENT=/usr/bin/zstd DEBUG=no all >/dev/null
    [ "$(mtimes)" = "$before" ] || fail "assets were rebuilt although nothing changed"
    osb_make OUT="$out" AGENT=/usr/bin/zstd DEBUG=no INITRD_COMPRESSION=gzip all >/dev/null
    [ "$(od -An -tx1 -N2 "$out/kata-containers-initrd.img" | tr -d ' ')" = 1f8b ] ||
      fail "changing INITRD_COMPRESSION did not rebuild the initrd"
    [ "$(mtimes | grep kata-containers.img)" = "$(echo "$before" | grep kata-containers.img)" ] ||
      fail "changing INITRD_COMPRESSION rebuilt the image"
    osb_make OUT="$out" AGENT=/usr/bin/zstd DEBUG=no all >/dev/null

    # Reproducible: rebuilding from scratch gives the same bytes.
    sums=$(cd "$out" && sha256sum kata-containers-initrd.img kata-containers.img)
    osb_make OUT="$out" AGENT=/usr/bin/zstd DEBUG=no clean >/dev/null
    osb_make OUT="$out" AGENT=/usr/bin/zstd DEBUG=no all >/dev/null
    [ "$(cd "$out" && sha256sum kata-containers-initrd.img kata-containers.img)" = "$sums" ] ||
      fail "rebuilding the same inputs gives different initrd/image bytes"

    # The image carries the pfn info block libnvdimm needs for DAX, and an MBR.
    [ "$(dd if="$out/kata-containers.img" bs=1 skip=4096 count=15 2>/dev/null)" = NVDIMM_PFN_INFO ] ||
      fail "image lacks the nvdimm pfn info block"
    [ "$(od -An -tx1 -j510 -N2 "$out/kata-containers.img" | tr -d ' ')" = 55aa ] ||
      fail "image lacks an MBR"
    [ $(( $(stat -c %s "$out/kata-containers.img") % (2 * 1024 * 1024) )) -eq 0 ] ||
      fail "image size is not a multiple of 2 MiB"
    echo "ok: rootfs, module list, incremental and reproducible builds"
    ;;

  agent-missing)
    out=$work/none
    if make -C "$src/osbuilder" BUILD="$work/nobuild" OUT="$out" all >"$work/err" 2>&1; then
      fail "make all succeeded without an agent binary"
    fi
    grep -q "agent binary '$work/nobuild/bin/kata-agent' not found" "$work/err" ||
      { cat "$work/err" >&2; fail "no clear error message for a missing agent"; }
    [ ! -e "$out/rootfs" ] && [ ! -e "$out/kata-containers-initrd.img" ] ||
      fail "a failed build left assets behind"
    echo "ok: $(grep -m1 'agent binary' "$work/err")"
    ;;

  boot-initrd-debian)
    a=$assets_root/debian
    boot "$a/vmlinuz.container" pc initrd "$a"
    check_guest "$a" initramfs
    ;;

  boot-microvm-debian)
    a=$assets_root/debian
    boot "$a/vmlinuz.container" microvm initrd "$a"
    check_guest "$a" initramfs
    ;;

  boot-initrd-minimal)
    a=$assets_root/minimal
    boot "$a/vmlinuz.container" q35 initrd "$a"
    check_guest "$a" initramfs
    ;;

  boot-microvm-minimal)
    a=$assets_root/minimal
    boot "$a/vmlinux.container" microvm initrd "$a"
    check_guest "$a" initramfs
    ;;

  boot-image-pmem)
    a=$assets_root/minimal
    boot "$a/vmlinuz.container" pc pmem "$a"
    check_guest "$a" pmem
    ;;

  boot-image-blk)
    a=$assets_root/minimal
    boot "$a/vmlinuz.container" pc blk "$a"
    check_guest "$a" blk
    ;;

  *)
    fail "unknown case $case_name"
    ;;
esac
