#!/bin/bash
# Builds the minimal guest kernel from Debian's linux-source package, or reuses the cached one.
#
#   kernel.sh FRAGMENT CACHE_ROOT [JOBS]
#
# The result lives in CACHE_ROOT/<key>/ (bzImage, vmlinux, config, kernel-version) where <key>
# hashes the config fragment, our patches (the *.patch files in the fragment's directory's
# patches/, applied in name order), the source package version, the compiler version and this
# recipe's version: nothing else can change the output, so an existing directory is reused
# as is. Prints that directory on stdout; progress goes to stderr.
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

# Bump when the recipe below changes in a way that changes the built kernel.
readonly RECIPE_VERSION=1

fragment=${1:?usage: kernel.sh FRAGMENT CACHE_ROOT [JOBS]}
cache_root=${2:?usage: kernel.sh FRAGMENT CACHE_ROOT [JOBS]}
jobs=${3:-2}
src_pkg=${KERNEL_SOURCE_PKG:-linux-source-6.1}
tarball=/usr/src/$src_pkg.tar.xz

[ -f "$fragment" ] || die "kernel config fragment $fragment not found"
src_version=$(dpkg-query -W -f='${Version}' "$src_pkg" 2>/dev/null) ||
  die "$src_pkg is not installed (apt-get install $src_pkg, or run 'make deps')"
[ -f "$tarball" ] || die "$tarball missing although $src_pkg is installed"
need_cmd gcc make flex bison bc tar xz nice flock patch
[ -e /usr/include/libelf.h ] || die "libelf-dev is missing (needed by objtool; run 'make deps')"

patches=()
for p in "$(dirname "$fragment")"/patches/*.patch; do
  [ -f "$p" ] && patches+=("$p")
done
patch_key=""
[ ${#patches[@]} -eq 0 ] || patch_key=$(cat "${patches[@]}" | sha256sum | cut -c1-8)
key=$( { cat "$fragment"; echo "$src_pkg $src_version"; gcc -dumpfullversion;
         echo "recipe $RECIPE_VERSION patches $patch_key"; } | sha256sum | cut -c1-16)
out=$cache_root/$key
# Caches from before --no-print-directory may hold make's directory lines around the release.
if [ -f "$out/kernel-version" ] && [ "$(wc -l <"$out/kernel-version")" -ne 1 ]; then
  grep -v '^make' "$out/kernel-version" | head -n 1 >"$out/kernel-version.tmp"
  mv "$out/kernel-version.tmp" "$out/kernel-version"
fi
if [ -f "$out/bzImage" ] && [ -f "$out/vmlinux" ] && [ -f "$out/kernel-version" ]; then
  info "minimal kernel $(cat "$out/kernel-version") is cached in $out"
  echo "$out"
  exit 0
fi

mkdir -p "$cache_root"
# Two test suites may ask for the kernel at once: the second waits and then reuses the result.
exec 9>"$cache_root/.lock"
if ! flock -n 9; then
  info "another kernel build holds $cache_root/.lock; waiting"
  flock 9
fi
if [ -f "$out/bzImage" ] && [ -f "$out/vmlinux" ]; then
  echo "$out"
  exit 0
fi

# The source tree depends only on the package version and our patches; extract (and patch)
# it once and share it.
src=$cache_root/src-$src_version${patch_key:+-$patch_key}
if [ ! -f "$src/.extracted" ]; then
  info "extracting $tarball (about 30 s)"
  rm -rf "$src" "$src.tmp"
  mkdir -p "$src.tmp"
  tar -xf "$tarball" -C "$src.tmp" --strip-components=1
  for p in "${patches[@]}"; do
    info "applying $(basename "$p")"
    patch -s -p1 -N -d "$src.tmp" <"$p" || die "patch $p does not apply to $src_pkg $src_version"
  done
  touch "$src.tmp/.extracted"
  mv "$src.tmp" "$src"
fi

obj=$cache_root/obj-$key
mkdir -p "$obj"
kmake() {
  # Pinned build metadata: the kernel embeds user, host and date in its version banner.
  # --no-print-directory: under a parent make (make assets), "Entering directory" lines would
  # otherwise land in the output of kernelrelease.
  make --no-print-directory -C "$src" O="$obj" ARCH=x86_64 KBUILD_BUILD_USER=kata-cpp \
    KBUILD_BUILD_HOST=osbuilder \
    KBUILD_BUILD_TIMESTAMP="@$SOURCE_DATE_EPOCH" "$@"
}

info "configuring: tinyconfig + $(basename "$fragment")"
kmake -s tinyconfig >/dev/null
"$src/scripts/kconfig/merge_config.sh" -m -O "$obj" "$obj/.config" "$fragment" >/dev/null
kmake -s olddefconfig >/dev/null

# A fragment line whose dependencies are not met is silently dropped by Kconfig: refuse that,
# naming the lines, rather than ship a kernel without something the agent relies on.
missing=""
while IFS= read -r line; do
  name=${line%%=*}
  value=${line#*=}
  if [ "$value" = n ]; then
    grep -q "^$name=" "$obj/.config" && missing="$missing $line"
  else
    grep -qxF "$line" "$obj/.config" || missing="$missing $line"
  fi
done < <(grep -E '^CONFIG_[A-Za-z0-9_]+=' "$fragment")
[ -z "$missing" ] || die "kernel config lost (unmet dependencies?):$missing"

total_file=$cache_root/.objects-estimate
estimate=$(cat "$total_file" 2>/dev/null || echo 1720)
info "building $src_pkg $src_version with -j$jobs (about 12 min on 2 idle cores); log: $obj/build.log"
start=$(date +%s)
count=0
# One progress line per 100 compiled objects keeps CI logs readable yet shows it is alive.
set +e
nice -n 10 make -C "$src" O="$obj" ARCH=x86_64 KBUILD_BUILD_USER=kata-cpp \
  KBUILD_BUILD_HOST=osbuilder KBUILD_BUILD_TIMESTAMP="@$SOURCE_DATE_EPOCH" \
  -j"$jobs" bzImage 2>&1 | tee "$obj/build.log" | while IFS= read -r line; do
    case $line in
      *" CC "*|*" AS "*)
        count=$((count + 1))
        if [ $((count % 100)) -eq 0 ]; then
          info "kernel: $count/~$estimate objects, $(( $(date +%s) - start ))s"
        fi
        ;;
    esac
  done
rc=${PIPESTATUS[0]}
set -e
if [ "$rc" -ne 0 ]; then
  tail -n 30 "$obj/build.log" >&2
  die "kernel build failed (full log: $obj/build.log)"
fi
grep -cE ' (CC|AS) ' "$obj/build.log" >"$total_file" || true

tmp=$out.tmp.$$
rm -rf "$tmp"
mkdir -p "$tmp"
cp "$obj/arch/x86/boot/bzImage" "$tmp/bzImage"
# vmlinux is what QEMU boots through PVH (microvm, and faster on pc); symbols are not needed.
strip -o "$tmp/vmlinux" "$obj/vmlinux"
cp "$obj/.config" "$tmp/config"
cp "$obj/build.log" "$tmp/build.log"
kmake -s kernelrelease >"$tmp/kernel-version"
rm -rf "$out"
mv "$tmp" "$out"
# The object tree is ~1 GB and keyed like the output: nothing will build in it again.
rm -rf "$obj"
info "minimal kernel $(cat "$out/kernel-version") built in $(( $(date +%s) - start ))s: $out"
echo "$out"
