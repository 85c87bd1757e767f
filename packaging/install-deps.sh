#!/bin/sh
# Installs the Debian packages that building, the guest assets and every test suite need.
# Idempotent and quiet when everything is already there.
set -eu

PACKAGES="build-essential cmake pkg-config git
protobuf-compiler libprotobuf-dev libgrpc++-dev protobuf-compiler-grpc
libuv1-dev libjsoncpp-dev libtomlplusplus-dev libnl-3-dev libnl-route-3-dev
libseccomp-dev libcap-dev cpputest libssl-dev
clang libclang-rt-14-dev
qemu-system-x86 linux-image-amd64 busybox-static cpio zstd lz4 gzip e2fsprogs kmod
iproute2 iptables procps util-linux socat python3 python3-grpcio
flex bison bc libelf-dev linux-source-6.1 patch runc crun containerd docker.io
golang-go golang-github-hashicorp-yamux-dev golang-github-containerd-ttrpc-dev
containernetworking-plugins"

missing=""
for p in $PACKAGES; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing="$missing $p"
  fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: need root to install:$missing" >&2
  exit 1
fi
echo "install-deps: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
