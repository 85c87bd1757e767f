# Shared helpers for the osbuilder scripts (sourced, not executed).
# shellcheck shell=bash

# All timestamps in generated trees and archives are pinned to this instant so that the same
# inputs give byte-identical outputs (reproducible-builds.org convention).
: "${SOURCE_DATE_EPOCH:=1700000000}"
export SOURCE_DATE_EPOCH

die() {
  echo "osbuilder: error: $*" >&2
  exit 1
}

info() {
  echo "osbuilder: $*" >&2
}

need_cmd() {
  local c
  for c in "$@"; do
    command -v "$c" >/dev/null 2>&1 || die "'$c' not found (run 'make deps')"
  done
}

# newest_debian_kernel: prints the version of the newest /boot/vmlinuz-* that has modules.
newest_debian_kernel() {
  local v best=""
  for f in /boot/vmlinuz-*; do
    [ -e "$f" ] || continue
    v=${f#/boot/vmlinuz-}
    [ -d "/lib/modules/$v" ] || continue
    best="$best$v"$'\n'
  done
  best=$(printf '%s' "$best" | sort -V | tail -n 1)
  [ -n "$best" ] || die "no /boot/vmlinuz-* with /lib/modules/<ver> found (install linux-image-amd64)"
  echo "$best"
}

# normalize_tree DIR: pin every mtime so archives and images are reproducible.
normalize_tree() {
  find "$1" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
}

# publish TMP DEST: replace DEST with TMP in one rename, so readers never see half an output.
publish() {
  local tmp=$1 dest=$2
  if [ -d "$dest" ] && [ ! -L "$dest" ]; then
    local old="$dest.old.$$"
    mv "$dest" "$old"
    mv "$tmp" "$dest"
    rm -rf "$old"
  else
    mv -f "$tmp" "$dest"
  fi
}

# file_is_elf PATH: true for an ELF binary (a test init may be a shell script).
file_is_elf() {
  [ "$(head -c 4 "$1" | od -An -c | tr -d ' ')" = "177ELF" ]
}
