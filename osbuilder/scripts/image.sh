#!/bin/bash
# Builds the root disk image from the rootfs: ext4 (4 KiB blocks, no journal: the guest mounts
# it read-only) wrapped by pmem-layout.py so it boots over nvdimm with DAX (root=/dev/pmem0p1)
# and over virtio-blk (root=/dev/vda1). The agent is /sbin/init there.
#
#   image.sh ROOTFS OUT
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

rootfs=${1:?usage: image.sh ROOTFS OUT}
out=${2:?usage: image.sh ROOTFS OUT}
[ -e "$rootfs/sbin/init" ] || [ -L "$rootfs/sbin/init" ] || die "$rootfs has no /sbin/init"
need_cmd mke2fs debugfs python3 du

# Room for metadata and inodes, plus a little slack; the guest never writes to it.
used_kib=$(du -s --apparent-size --block-size=1K "$rootfs" | cut -f1)
inodes=$(find "$rootfs" | wc -l)
fs_kib=$(( (used_kib * 12 / 10 + inodes * 4 + 4096 + 2047) / 2048 * 2048 ))

fs=$out.fs.$$
tmp=$out.tmp.$$
trap 'rm -f "$fs" "$tmp"' EXIT
rm -f "$fs"
# Fixed UUID and hash seed, fake time: reproducible bytes for the same rootfs.
E2FSPROGS_FAKE_TIME=$SOURCE_DATE_EPOCH mke2fs -q -F -t ext4 -b 4096 -m 0 -L kata-rootfs \
  -O ^has_journal,^metadata_csum_seed -U 6b617461-2d63-7070-2d72-6f6f74667300 \
  -E root_owner=0:0,hash_seed=6b617461-2d63-7070-2d68-617368736565 \
  -N $((inodes + 64)) -d "$rootfs" "$fs" "${fs_kib}K" >/dev/null ||
  die "mke2fs failed for $rootfs"
# mke2fs copies each file's ctime, which no tool can pin on the host: pin it in the image.
stamp=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y%m%d%H%M%S)
(cd "$rootfs" && find . -printf '%P\n') | while IFS= read -r path; do
  printf 'sif "/%s" %s %s\n' "$path" ctime "$stamp" "$path" atime "$stamp" "$path" crtime "$stamp"
done | E2FSPROGS_FAKE_TIME=$SOURCE_DATE_EPOCH debugfs -w -f - "$fs" >/dev/null 2>&1 || die "debugfs could not pin timestamps in $fs"
python3 "$(dirname "$0")/pmem-layout.py" "$fs" "$tmp"
rm -f "$fs"
mv -f "$tmp" "$out"
trap - EXIT
info "image $out: $(du -h --apparent-size "$out" | cut -f1)"
