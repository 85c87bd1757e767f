#!/bin/bash
# Packs the rootfs into a compressed newc cpio: the kernel unpacks it into its initramfs and
# runs /init, which is the agent (AGENT_INIT=yes).
#
#   initrd.sh ROOTFS OUT COMPRESSION      COMPRESSION: lz4 | zstd | gzip | none
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

rootfs=${1:?usage: initrd.sh ROOTFS OUT COMPRESSION}
out=${2:?usage: initrd.sh ROOTFS OUT COMPRESSION}
compression=${3:-zstd}

[ -L "$rootfs/init" ] || [ -x "$rootfs/init" ] || die "$rootfs has no /init"
case $compression in
  # The kernel only understands the legacy LZ4 frame (-l).
  lz4) compress=(lz4 -l -9 -q -c) ;;
  # Level 19 without --long: the kernel decompresses with a bounded window.
  zstd) compress=(zstd -19 -q -c) ;;
  gzip) compress=(gzip -9 -n -c) ;;
  none) compress=(cat) ;;
  *) die "unknown initrd compression '$compression' (lz4, zstd, gzip or none)" ;;
esac
need_cmd cpio "${compress[0]}"

tmp=$out.tmp.$$
trap 'rm -f "$tmp"' EXIT
# Sorted names, owner root and pinned mtimes (lib.sh): the same rootfs gives the same bytes.
(cd "$rootfs" && find . -mindepth 1 -printf '%P\n' | LC_ALL=C sort |
  cpio --quiet -o -H newc -R 0:0 --reproducible) | "${compress[@]}" >"$tmp"
mv -f "$tmp" "$out"
trap - EXIT
info "initrd $out: $(du -h --apparent-size "$out" | cut -f1) ($compression)"
