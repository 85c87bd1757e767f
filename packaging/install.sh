#!/bin/sh
# Installs kata-cpp: binaries, the rendered configuration and the guest assets.
# Usage: install.sh DESTDIR PREFIX BUILD_DIR ASSETS_DIR
set -eu
DESTDIR=$1 PREFIX=$2 BUILD=$3 ASSETS=$4

install -d "$DESTDIR$PREFIX/bin" "$DESTDIR$PREFIX/libexec/kata-containers" \
  "$DESTDIR$PREFIX/share/kata-containers" "$DESTDIR$PREFIX/share/defaults/kata-containers"
install -m 0755 "$BUILD/bin/kata-runtime" "$DESTDIR$PREFIX/bin/kata-runtime"
install -m 0755 "$(dirname "$0")/kata-docker-setup" "$DESTDIR$PREFIX/bin/kata-docker-setup"
for b in kata-proxy kata-shim kata-netmon; do
  [ -x "$BUILD/bin/$b" ] && install -m 0755 "$BUILD/bin/$b" "$DESTDIR$PREFIX/libexec/kata-containers/$b"
done
[ -x "$BUILD/bin/containerd-shim-kata-v2" ] &&
  install -m 0755 "$BUILD/bin/containerd-shim-kata-v2" "$DESTDIR$PREFIX/bin/containerd-shim-kata-v2"
install -m 0644 "$BUILD/configuration.toml" \
  "$DESTDIR$PREFIX/share/defaults/kata-containers/configuration.toml"
for a in vmlinux.container vmlinuz.container kata-containers-initrd.img kata-containers.img kernel-version; do
  [ -e "$ASSETS/$a" ] && install -m 0644 "$ASSETS/$a" "$DESTDIR$PREFIX/share/kata-containers/$a"
done
echo "installed kata-runtime to $DESTDIR$PREFIX/bin; configuration in" \
  "$DESTDIR$PREFIX/share/defaults/kata-containers/configuration.toml"
