#!/bin/bash
# Builds the guest root filesystem directory.
#
#   rootfs.sh OUT_DIR AGENT KVER MODULES_DIR "MODULES" DEBUG
#
#   OUT_DIR      directory to create (replaced atomically)
#   AGENT        the init binary (kata-agent, or a test init); installed as /usr/bin/kata-agent,
#                /init (initrd, AGENT_INIT=yes) and /sbin/init (image)
#   KVER         kernel release the modules belong to; "none" for a kernel without modules
#   MODULES_DIR  that kernel's module tree, e.g. /lib/modules/<KVER>
#   MODULES      space-separated module names to carry (dependencies are added by modprobe);
#                a name may carry parameters as name:param=value:param2=value
#   DEBUG        yes: link every busybox applet (shell for the debug console); busybox
#                itself is always installed for `ps`
#
# Shared libraries come from the agent binary itself (ldd), not from a hand list.
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

usage="usage: rootfs.sh OUT_DIR AGENT KVER MODULES_DIR MODULES DEBUG"
out=${1:?$usage}
agent=${2:?$usage}
kver=${3:?$usage}
moddir=${4?$usage}  # empty when KVER is none
modules=${5-}
debug=${6:-no}

[ -f "$agent" ] && [ -x "$agent" ] || die "agent binary $agent is missing or not executable"
need_cmd ldd modprobe find cp ln

tmp=$out.tmp.$$
trap 'rm -rf "$tmp"' EXIT
rm -rf "$tmp"
mkdir -p "$tmp"

# Merged /usr layout like Debian's, so library paths from ldd resolve the same way in the guest.
mkdir -p "$tmp"/usr/{bin,sbin,lib,lib64} "$tmp"/{proc,sys,dev,run,tmp,etc,root,mnt}
ln -s usr/bin "$tmp/bin"
ln -s usr/sbin "$tmp/sbin"
ln -s usr/lib "$tmp/lib"
ln -s usr/lib64 "$tmp/lib64"
chmod 1777 "$tmp/tmp"
chmod 0700 "$tmp/root"

install -m 0755 "$agent" "$tmp/usr/bin/kata-agent"
# Debug info is for the host (gdb on the build tree): in the guest it only costs initrd
# unpacking time, which is slow under TCG.
if file_is_elf "$tmp/usr/bin/kata-agent"; then strip --strip-unneeded "$tmp/usr/bin/kata-agent"; fi
ln -s usr/bin/kata-agent "$tmp/init"
ln -s ../bin/kata-agent "$tmp/usr/sbin/init"

# copy_host_file PATH: copies the file PATH names (following symlinks) to the same path in the
# rootfs, with directory symlinks resolved the host's way (/lib/x -> /usr/lib/x).
copy_host_file() {
  local src=$1 dir
  dir=$(realpath "$(dirname "$src")")
  mkdir -p "$tmp$dir"
  cp -L --preserve=mode "$src" "$tmp$dir/$(basename "$src")"
}

# Libraries: ldd lists the complete closure (NEEDED entries, recursively, plus the ELF
# interpreter). A static binary or a script has none.
if ldd_out=$(ldd "$tmp/usr/bin/kata-agent" 2>/dev/null); then
  while read -r line; do
    case $line in
      *"=> not found"*) die "agent needs ${line%% *}, which is not on this host" ;;
      *"=> /"*) lib=${line#*=> } ;;
      /*) lib=$line ;;
      *) continue ;;  # linux-vdso.so.1 is provided by the kernel
    esac
    copy_host_file "${lib%% (*}"
  done <<<"$ldd_out"
fi

# Minimal /etc: what libc and the agent read; the agent rewrites hosts/resolv.conf per sandbox.
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' \
  >"$tmp/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$tmp/etc/group"
printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$tmp/etc/hosts"
: >"$tmp/etc/resolv.conf"
echo kata-guest >"$tmp/etc/hostname"
echo 'hosts: files dns' >"$tmp/etc/nsswitch.conf"
: >"$tmp/etc/machine-id"

# /dev/console must exist before devtmpfs is mounted, or init starts without stdio.
mknod -m 0600 "$tmp/dev/console" c 5 1 2>/dev/null || info "warning: cannot mknod dev/console (not root?)"
mknod -m 0666 "$tmp/dev/null" c 1 3 2>/dev/null || true

# busybox (static) is always there for `ps`, which the agent runs for ListProcesses
# (`kata-runtime ps`, `docker top`); the debug rootfs links every applet, for the console shell.
busybox=/bin/busybox
[ -x "$busybox" ] && ! ldd "$busybox" >/dev/null 2>&1 ||
  die "the rootfs needs a static /bin/busybox (apt-get install busybox-static)"
install -m 0755 "$busybox" "$tmp/usr/bin/busybox"
ln -s busybox "$tmp/usr/bin/ps"
if [ "$debug" = yes ]; then
  # One relative symlink per applet; the shell for the debug console is /bin/sh.
  while read -r applet; do
    case $applet in
      usr/bin/busybox | */init | init | linuxrc) continue ;;
    esac
    applet_dir=$(dirname "$applet")
    case $applet_dir in
      bin) applet_dir=usr/bin ;;
      sbin) applet_dir=usr/sbin ;;
    esac
    [ -e "$tmp/$applet_dir/$(basename "$applet")" ] && continue
    mkdir -p "$tmp/$applet_dir"
    ln -s "$(realpath -m --relative-to="/$applet_dir" /usr/bin/busybox)" \
      "$tmp/$applet_dir/$(basename "$applet")"
  done < <("$busybox" --list-full)
fi

# Kernel modules: copy each module and its dependencies, and write the load order the agent
# follows. Lines are "<path in rootfs> [param=value ...]", dependencies first, no duplicates.
mkdir -p "$tmp/lib/modules"
list=$tmp/usr/lib/modules/kata-modules.list
: >"$list"
if [ "$kver" != none ] && [ -n "$modules" ]; then
  [ -d "$moddir" ] || die "module directory $moddir not found"
  [ "$(basename "$moddir")" = "$kver" ] || die "module directory $moddir is not for $kver"
  declare -A seen=()
  # modprobe wants the root that holds lib/modules/<kver>; "/" for the host's own tree.
  modroot=${moddir%/lib/modules/"$kver"}
  for spec in $modules; do
    name=${spec%%:*}
    params=""
    [ "$spec" != "$name" ] && params=$(echo "${spec#*:}" | tr ':' ' ')
    deps=$(modprobe -d "${modroot:-/}" -S "$kver" --show-depends "$name" 2>&1) ||
      die "module $name: $deps"
    while read -r kind path _; do
      case $kind in
        insmod) ;;
        builtin) continue ;;
        *) die "module $name: unexpected modprobe output '$kind $path'" ;;
      esac
      [ -n "${seen[$path]:-}" ] && continue
      seen[$path]=1
      dest=/usr/lib/modules/$kver/${path#*/lib/modules/"$kver"/}
      mkdir -p "$tmp$(dirname "$dest")"
      # finit_module() of a compressed file needs kernel support we cannot assume: unpack.
      case $path in
        *.ko.xz) dest=${dest%.xz}; xz -dc "$path" >"$tmp$dest" ;;
        *.ko.zst) dest=${dest%.zst}; zstd -qdc "$path" >"$tmp$dest" ;;
        *.ko.gz) dest=${dest%.gz}; gzip -dc "$path" >"$tmp$dest" ;;
        *) cp "$path" "$tmp$dest" ;;
      esac
      # Parameters belong to the module that was asked for, not to its dependencies.
      if [ "$(basename "${dest%.ko}" | tr - _)" = "$(echo "$name" | tr - _)" ] && [ -n "$params" ]; then
        echo "${dest#/usr} $params" >>"$list"
      else
        echo "${dest#/usr}" >>"$list"
      fi
    done <<<"$deps"
  done
fi

normalize_tree "$tmp"
trap - EXIT
publish "$tmp" "$out"
info "rootfs $out: $(du -sh "$out" | cut -f1), $(wc -l <"$out/lib/modules/kata-modules.list") modules, debug=$debug"
