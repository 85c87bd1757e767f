#!/bin/bash
# Guest boot matrix: QEMU start to kata-agent answering grpc.Health/Check through kata-proxy,
# for Debian's kernel and the minimal one, initrd and image, machine types pc / q35 / microvm.
# Prints one markdown row per combination (medians of RUNS boots); docs/performance.md records
# the output. pc and q35 boot without ACPI, as kata-runtime does by default (image on
# virtio-pmem); one row boots the default with ACPI (enable_acpi = true: image on an nvdimm).
# Usage: boot_bench.sh <cmake build dir> <assets dir (minimal kernel)> [runs]
set -euo pipefail
BUILD=$(cd "$1" && pwd)
ASSETS=$(cd "$2" && pwd)
RUNS=${3:-3}
src=$(cd "$(dirname "$0")/../.." && pwd)
measure=$src/osbuilder/measure-boot.sh

# The same agent with Debian's kernel and its modules (initrd only: Debian's ext4 and pmem
# drivers are modules, so its kernel cannot mount the image as root).
DEBIAN=$BUILD/assets-debian
make -s -C "$src/osbuilder" BUILD="$BUILD" OUT="$DEBIAN" KERNEL=debian all >&2

row() {  # label kernel-file root-args machine
  local label=$1 kernel=$2 root=$3 machine=$4
  # shellcheck disable=SC2086  # root holds two to six words by design
  "$measure" --until check --build "$BUILD" --runs "$RUNS" --machine "$machine" \
    --kernel "$kernel" $root --label "$label" 2>/dev/null | tail -n 1
}

initrd_debian="--initrd $DEBIAN/kata-containers-initrd.img"
initrd="--initrd $ASSETS/kata-containers-initrd.img"
pmem="--image $ASSETS/kata-containers.img --root pmem"
blk="--image $ASSETS/kata-containers.img --root blk"

echo "| kernel | root | machine | until | wall median | QEMU CPU median | samples (s) |"
echo "|---|---|---|---|---|---|---|"
row "Debian bzImage" "$DEBIAN/vmlinuz.container" "$initrd_debian" pc
row "Debian bzImage" "$DEBIAN/vmlinuz.container" "$initrd_debian" q35
row "Debian bzImage" "$DEBIAN/vmlinuz.container" "$initrd_debian" microvm
row "minimal bzImage" "$ASSETS/vmlinuz.container" "$initrd" pc
row "minimal bzImage" "$ASSETS/vmlinuz.container" "$pmem" pc
row "minimal vmlinux (PVH)" "$ASSETS/vmlinux.container" "$initrd" pc
row "minimal vmlinux (PVH), the default" "$ASSETS/vmlinux.container" "$pmem" pc
row "minimal vmlinux (PVH), ACPI + nvdimm" "$ASSETS/vmlinux.container" "$pmem --acpi on" pc
row "minimal vmlinux (PVH)" "$ASSETS/vmlinux.container" "$blk" pc
row "minimal vmlinux (PVH)" "$ASSETS/vmlinux.container" "$pmem" q35
row "minimal vmlinux (PVH)" "$ASSETS/vmlinux.container" "$initrd" microvm
