#!/bin/bash
# OCI conformance suite: the specs that real tools write (runc spec, runc spec --rootless,
# crun spec, containerd's ctr oci spec, and what a real dockerd 20.10 gives runc) each run a
# probe under runc and under kata-runtime; compare.py compares stdout, stderr, exit status and
# the process's view of itself, section by section, and names every known difference with its
# reason. One VM per spec.
# Usage: conformance_test.sh <cmake build dir> [spec name...]
KATA_BUILD=$(cd "$1" && pwd)
shift
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../lib.sh"
. "$HERE/../docker_lib.sh"
require_assets
TAG=oci-conf-$$
CGROUP_PARENT=/$TAG
RUNC_ROOT=$TEST_ROOT/runc
DOCKER_DIR=$TEST_ROOT/docker
CORPUS=$TEST_ROOT/corpus

cleanup() {
  local id d
  for id in $(runc --root "$RUNC_ROOT" list -q 2>/dev/null); do
    runc --root "$RUNC_ROOT" delete -f "$id" >/dev/null 2>&1
  done
  stop_dockerd
  for d in /sys/fs/cgroup/*/"$TAG"; do [ -d "$d" ] && rmdir "$d" 2>/dev/null; done
  cleanup_all
}
trap cleanup EXIT
mkdir -p "$TEST_ROOT" "$CORPUS"

# ---- the corpus, written by the real tools at test time --------------------------------------

gen_tool_specs() {
  (cd "$CORPUS" && mkdir -p t && cd t &&
    runc spec && mv config.json ../runc.json &&
    runc spec --rootless && mv config.json ../runc-rootless.json &&
    crun spec && mv config.json ../crun.json) || return 1
  ctr oci spec > "$CORPUS/ctr.json" || return 1
}

# A private dockerd (docker_lib.sh; no bridge, no iptables) with a "capture" runtime: a script
# that keeps the bundle's config.json, then runs runc.
write_capture_runtime() {
  mkdir -p "$DOCKER_DIR"
  cat > "$DOCKER_DIR/capture-runtime" <<SH
#!/bin/sh
prev=""
for a in "\$@"; do
  [ "\$prev" = --bundle ] && cp "\$a/config.json" "$DOCKER_DIR/captured.json"
  prev=\$a
done
exec runc "\$@"
SH
  chmod +x "$DOCKER_DIR/capture-runtime"
}
DOCKER_EXTRA_RUNTIMES="capture=$DOCKER_DIR/capture-runtime"

gen_docker_spec() {
  write_capture_runtime
  start_dockerd || return 1
  import_busybox "$TAG:busybox" || return 1
  docker_cli run --runtime capture --network none --name "$TAG" "$TAG:busybox" true ||
    return 1
  cp "$DOCKER_DIR/captured.json" "$CORPUS/docker.json" || return 1
  python3 "$HERE/bundle.py" keep-bind-sources "$CORPUS/docker.json" "$CORPUS/docker-files"
  docker_cli rm "$TAG" >/dev/null
  stop_dockerd
}

# ---- one spec under both runtimes -----------------------------------------------------------

# run_pair NAME SOURCE_SPEC [KEPT_DIR] [VARIANT]
run_pair() {
  local name=$1 src=$2 kept=${3:-} variant=${4:-}
  begin "$name: kata-runtime and runc give the probe the same view"
  local b=$TEST_ROOT/bundles/$name id="$TAG-$name"
  make_rootfs "$b/rootfs"
  cp "$HERE/probe.sh" "$b/rootfs/probe.sh"
  python3 "$HERE/bundle.py" prepare "$src" "$b" "$name" "$CGROUP_PARENT" "$kept" "$variant" ||
    { fail "bundle"; return; }
  (cd "$b" && runc --root "$RUNC_ROOT" run "$id" </dev/null >"$b/runc.out" 2>"$b/runc.err")
  echo $? > "$b/runc.rc"
  (cd "$b" && rt run "$id" </dev/null >"$b/kata.out" 2>"$b/kata.err")
  echo $? > "$b/kata.rc"
  if python3 "$HERE/compare.py" "$name" "$b"; then
    expect_no_residue "$id" && pass
  else
    fail "the probe's views differ (above)"
  fi
}

# Fields a VM cannot honour (and runc would not ignore): create fails at once with one line
# naming the field, before any VM starts, and leaves nothing behind.
test_refusals() {
  begin "create refuses what a VM cannot honour, naming the field, and leaves nothing"
  local variant field b id out rc
  for variant in intelrdt:linux.intelRdt hook:hooks.createContainer; do
    field=${variant#*:}
    variant=${variant%%:*}
    b=$TEST_ROOT/bundles/refuse-$variant
    id=$TAG-refuse-$variant
    make_rootfs "$b/rootfs"
    python3 "$HERE/bundle.py" prepare "$CORPUS/runc.json" "$b" "refuse-$variant" \
      "$CGROUP_PARENT" "" "$variant" >/dev/null || { fail "bundle $variant"; return; }
    out=$(cd "$b" && rt create "$id" 2>&1 </dev/null); rc=$?
    [ $rc -ne 0 ] || { fail "$variant: create succeeded"; rt delete --force "$id"; return; }
    expect_contains "$variant: error names the field" "$field" "$out" || return
    expect_eq "$variant: one-line error" 1 "$(printf '%s\n' "$out" | wc -l)" || return
    expect_no_residue "$id" || return
  done
  pass
}

# Host security labels (AppArmor, SELinux) mean nothing to the guest's kernel: create goes on,
# with one warning per field in the log, as upstream Kata; the container runs.
test_lsm_labels_ignored() {
  begin "AppArmor and SELinux labels are ignored with a warning naming each field"
  local b=$TEST_ROOT/bundles/lsm id=$TAG-lsm out rc field
  make_rootfs "$b/rootfs"
  cp "$HERE/probe.sh" "$b/rootfs/probe.sh"
  python3 "$HERE/bundle.py" prepare "$CORPUS/runc.json" "$b" lsm "$CGROUP_PARENT" "" lsm \
    >/dev/null || { fail "bundle"; return; }
  (cd "$b" && "$RUNTIME" --kata-config "$KATA_CONFIG" --root "$TEST_ROOT/state" \
     --log "$b/log.json" --log-format json run "$id" </dev/null >"$b/out" 2>&1); rc=$?
  expect_eq "run with LSM labels ($(tail -c 300 "$b/out"))" 3 "$rc" || return
  for field in process.apparmorProfile process.selinuxLabel linux.mountLabel; do
    grep '"level":"warning"' "$b/log.json" | grep -q "$field is ignored" ||
      { fail "no warning for $field in the log"; return; }
  done
  expect_no_residue "$id" || return
  pass
}

if [ $# -gt 0 ]; then WANT=" $* "; else WANT=""; fi
wanted() { [ -z "$WANT" ] || [[ "$WANT" == *" $1 "* ]]; }

begin "the tools write their default specs"
if gen_tool_specs; then pass; else fail "runc/crun/ctr spec failed"; fi
if wanted docker; then
  begin "a private dockerd 20.10 runs a container through the capturing runtime"
  if gen_docker_spec; then pass; else fail "$(tail -n 3 "$DOCKER_DIR/dockerd.log" 2>/dev/null)"; fi
fi
for name in runc runc-rootless crun ctr; do
  wanted "$name" && [ -s "$CORPUS/$name.json" ] && run_pair "$name" "$CORPUS/$name.json"
done
wanted docker && [ -s "$CORPUS/docker.json" ] &&
  run_pair docker "$CORPUS/docker.json" "$CORPUS/docker-files"
wanted runc-user && run_pair runc-user "$CORPUS/runc.json" "" user
wanted refusals && test_refusals
wanted lsm && test_lsm_labels_ignored
finish
