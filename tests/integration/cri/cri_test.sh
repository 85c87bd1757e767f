#!/bin/bash
# Kubernetes CRI suite (issue 22): a private containerd 1.6 with its CRI plugin
# (containerd_lib.sh's --cri), driven by crictl as the kubelet would drive it, runs pods in real
# VMs through both of kata-cpp's runtime handlers:
#   kata         runtime_type io.containerd.kata.v2 (containerd-shim-kata-v2 from the build)
#   kata-legacy  io.containerd.runtime.v1.linux: containerd-shim (v1) calling our kata-runtime
# Pods get their network from CNI (bridge cri-br<pid>, host-local 10.231.0.0/24, loopback,
# portmap; plugins from /usr/lib/cni); the sandbox image is a local busybox "pause" image and
# the busybox image is imported into the k8s.io namespace: no registry is needed.
# The tests are the test_* functions of the *_tests.sh files here, in file order; each runs
# once per handler (CRI_HANDLERS, default "kata kata-legacy"), and after each run the host
# must hold nothing that it did not hold before it (VMs, shims, mounts, /run/vc, netns, links,
# the pods' cgroups, CRI pods and containers).
# Usage: cri_test.sh <cmake build dir> [test_function...]   (boots VMs: run it under
# `flock /tmp/kata-vm.lock`). CRICTL overrides the client (default: ../shared/bin/crictl beside
# the source tree).
KATA_BUILD=$(cd "$1" && pwd)
shift
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../lib.sh"
. "$HERE/../containerd_lib.sh"
SRC_ROOT=$(cd "$HERE/../../.." && pwd)
CRICTL=${CRICTL:-$(cd "$SRC_ROOT/.." && pwd)/shared/bin/crictl}
PTY_DRIVE="$HERE/../tools/pty_drive.py"
CNI_BIN=/usr/lib/cni
CRI_HANDLERS=${CRI_HANDLERS:-kata kata-legacy}

missing=""
[ -x "$CRICTL" ] || missing="$CRICTL (crictl, cri-tools)"
[ -x "$CNI_BIN/bridge" ] || missing="$missing $CNI_BIN/bridge (containernetworking-plugins: make deps)"
[ -x "$KATA_BUILD/bin/containerd-shim-kata-v2" ] || missing="$missing containerd-shim-kata-v2"
if [ -n "$missing" ]; then
  echo "cannot run the CRI suite, missing: $missing" >&2
  echo "0 passed, 1 failed"
  exit 1
fi
require_assets

# CRI's namespace is always k8s.io; root, state and sockets are the suite's own.
CTRD_NS=k8s.io
CTRD_DIR=$TEST_ROOT/containerd
CRI_DIR=$TEST_ROOT/cri
CRI_BRIDGE=cri-br$$
CRI_SUBNET_PREFIX=10.231.0
# The pods' cgroup parent (the kubelet's /kubepods): its children are the pods' cgroups.
CRI_CGROUP=cri-$$
CRI_PAUSE_IMAGE=docker.io/library/cri-pause:latest
CRI_LEGACY_ROOT=$CTRD_DIR/kata-legacy-root

cleanup() {
  if [ -n "$CTRD_PID" ]; then
    cri_remove_all
    ctrd_remove_all
  fi
  stop_containerd
  local d
  for d in $(find /sys/fs/cgroup/*/"$CRI_CGROUP" -depth -type d 2>/dev/null); do rmdir "$d"; done
  ip link del "$CRI_BRIDGE" 2>/dev/null
  cleanup_all
}
trap cleanup EXIT
mkdir -p "$TEST_ROOT" "$CRI_DIR/cni" "$CRI_DIR/logs"

# cri ARG...: crictl against the suite's containerd, bounded.
cri() {
  timeout -k 10 "${CRI_TIMEOUT:-180}" "$CRICTL" --config "$CRI_DIR/crictl.yaml" \
    --runtime-endpoint "unix://$CTRD_DIR/containerd.sock" "$@"
}

# jget PATH: the value at PATH (dot-separated keys and list indexes) of the JSON on stdin;
# nothing when a key is missing.
jget() {
  python3 -c '
import json, sys
v = json.load(sys.stdin)
for k in sys.argv[1].split("."):
    try:
        v = v[int(k)] if isinstance(v, list) else v[k]
    except (KeyError, IndexError, ValueError, TypeError):
        sys.exit(0)
print(v if not isinstance(v, (dict, list)) else json.dumps(v))' "$1"
}

write_cri_config() {
  cat >"$CRI_DIR/crictl.yaml" <<EOF
runtime-endpoint: unix://$CTRD_DIR/containerd.sock
image-endpoint: unix://$CTRD_DIR/containerd.sock
timeout: 120
pull-image-on-create: false
EOF
  cat >"$CRI_DIR/cni/10-cri-kata.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "cri-kata-net",
  "plugins": [
    {"type": "bridge", "bridge": "$CRI_BRIDGE", "isGateway": true, "ipMasq": false,
     "ipam": {"type": "host-local", "ranges": [[{"subnet": "$CRI_SUBNET_PREFIX.0/24"}]],
              "dataDir": "$CRI_DIR/ipam"}},
    {"type": "portmap", "capabilities": {"portMappings": true}},
    {"type": "loopback"}
  ]
}
EOF
  CTRD_CRI_KEYS="  sandbox_image = \"$CRI_PAUSE_IMAGE\""
  # kata-legacy: containerd's v1 runtime, whose containerd-shim runs our kata-runtime as it
  # would run runc (CRI turns the options into runctypes.RuncOptions: Runtime, RuntimeRoot).
  CTRD_CRI_TABLES="[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.kata-legacy]
  runtime_type = \"io.containerd.runtime.v1.linux\"
  privileged_without_host_devices = true
[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.kata-legacy.options]
  Runtime = \"$KATA_BUILD/bin/kata-runtime\"
  RuntimeRoot = \"$CRI_LEGACY_ROOT\"
[plugins.\"io.containerd.grpc.v1.cri\".cni]
  bin_dir = \"$CNI_BIN\"
  conf_dir = \"$CRI_DIR/cni\"
  max_conf_num = 1"
}

# cri_pod_json NAME [EXTRA_LINUX_JSON]: a pod sandbox config (its logs under $CRI_DIR/logs),
# its cgroup a child of $CRI_CGROUP, the PID namespace shared by its containers.
cri_pod_json() {
  local name=$1 extra=${2:-}
  mkdir -p "$CRI_DIR/logs/$name"
  cat >"$CRI_DIR/$name-pod.json" <<EOF
{
  "metadata": {"name": "cri-$name", "namespace": "cri-test", "uid": "cri-$name-$$", "attempt": 1},
  "hostname": "cri-$name",
  "log_directory": "$CRI_DIR/logs/$name",
  "linux": {"cgroup_parent": "/$CRI_CGROUP/$name",
            "security_context": {"namespace_options": {"pid": 0}${extra:+, $extra}}}
}
EOF
  echo "$CRI_DIR/$name-pod.json"
}

# cri_runp NAME [EXTRA_SECURITY_CONTEXT_JSON]: runs the pod with the current handler, prints
# its id.
cri_runp() {
  local cfg
  cfg=$(cri_pod_json "$@")
  cri runp --runtime "$HANDLER" "$cfg"
}

# cri_ctr_json POD NAME CMD_JSON [EXTRA_JSON]: a busybox container config; EXTRA_JSON adds
# top-level fields (e.g. "linux": {...}, "mounts": [...], "stdin": true).
cri_ctr_json() {
  local pod=$1 name=$2 cmd=$3 extra=${4:-}
  cat >"$CRI_DIR/$pod-$name.json" <<EOF
{
  "metadata": {"name": "$name", "attempt": ${CRI_ATTEMPT:-0}},
  "image": {"image": "$CTRD_IMAGE"},
  "command": $cmd,
  "log_path": "$name.log"${extra:+, $extra}
}
EOF
  echo "$CRI_DIR/$pod-$name.json"
}

# cri_run POD_NAME POD_ID NAME CMD_JSON [EXTRA_JSON]: creates and starts a container in the
# pod, prints its id.
cri_run() {
  local cfg id
  cfg=$(cri_ctr_json "$1" "$3" "$4" "${5:-}")
  id=$(cri create --no-pull "$2" "$cfg" "$CRI_DIR/$1-pod.json") || return 1
  cri start "$id" >/dev/null || return 1
  echo "$id"
}

# cri_field OBJECT_KIND ID PATH: a field of `crictl inspect`/`inspectp` (OBJECT_KIND inspect or
# inspectp) in JSON.
cri_field() { cri "$1" -o json "$2" 2>/dev/null | jget "$3"; }

# wait_ctr_state ID STATE [TRIES of 0.1 s]: CONTAINER_RUNNING, CONTAINER_EXITED, ...
wait_ctr_state() {
  local tries=${3:-300}
  while [ "$tries" -gt 0 ]; do
    [ "$(cri_field inspect "$1" status.state)" = "$2" ] && return 0
    sleep 0.1
    tries=$((tries - 1))
  done
  return 1
}

# wait_pod_state ID STATE [TRIES of 0.1 s]: SANDBOX_READY or SANDBOX_NOTREADY.
wait_pod_state() {
  local tries=${3:-300}
  while [ "$tries" -gt 0 ]; do
    [ "$(cri_field inspectp "$1" status.state)" = "$2" ] && return 0
    sleep 0.1
    tries=$((tries - 1))
  done
  return 1
}

# cri_rmp ID: stops and removes the pod (and its containers).
cri_rmp() {
  local out
  out=$(cri stopp "$1" 2>&1) || { fail "stopp: $out"; return 1; }
  out=$(cri rmp "$1" 2>&1) || { fail "rmp: $out"; return 1; }
}

# Removes every pod of the suite's containerd (a failed test's leftovers).
cri_remove_all() {
  local id
  for id in $(CRI_TIMEOUT=60 cri pods -q 2>/dev/null); do
    CRI_TIMEOUT=60 cri stopp "$id" >/dev/null 2>&1
    CRI_TIMEOUT=60 cri rmp -f "$id" >/dev/null 2>&1
  done
}

# vmm_count ID: how many QEMU processes name ID (a pod's sandbox id) on their command line.
vmm_count() { pgrep -fc "qemu-system.*$1"; }

# What this suite may leave beside containerd_lib.sh's snapshot: the pods' cgroups (children
# of the pod cgroups, which the "kubelet", this suite, owns), the legacy runtime's state dirs
# and containerd's shim sockets.
cri_host_snapshot() {
  {
    ctrd_host_snapshot
    local d
    for d in /sys/fs/cgroup/*/"$CRI_CGROUP"/*/*/; do [ -d "$d" ] && echo "cgroup $d"; done
    for d in "$CRI_LEGACY_ROOT"/*/* /run/containerd/s/*; do [ -e "$d" ] && echo "state $d"; done
    # ctr lists only containerd's records; CRI's own view too.
    cri pods -q 2>/dev/null | sed 's/^/pod /'
  } | sort
}

expect_cri_clean() {
  local tries=${2:-100} left
  while :; do
    left=$(comm -13 "$1" <(cri_host_snapshot))
    [ -z "$left" ] && return 0
    tries=$((tries - 1))
    [ "$tries" -gt 0 ] || break
    sleep 0.1
  done
  fail "left behind: $(tr '\n' ';' <<<"$left")"
  return 1
}

for f in "$HERE"/*_tests.sh; do [ -e "$f" ] && . "$f"; done
if [ $# -gt 0 ]; then
  tests=("$@")
else
  mapfile -t tests < <(sed -n 's/^\(test_[a-z0-9_]*\)() {$/\1/p' "$HERE"/*_tests.sh 2>/dev/null)
fi

begin "a private containerd with CRI starts; pause and busybox images imported into k8s.io"
# The pause image: sleeps until SIGTERM or SIGINT (the shell as PID 1 gets them through its
# trap), as Kubernetes' pause does.
pause_cmd='["/bin/sh", "-c", "trap \"exit 0\" TERM INT; while :; do sleep 3600 & wait $!; done"]'
write_cri_config
# The bridge exists before the first pod so that it is not a new link after each test.
if ip link add "$CRI_BRIDGE" type bridge && start_containerd --cri && ctrd_import_busybox &&
  ctrd_import_busybox "$CRI_PAUSE_IMAGE" "$pause_cmd" &&
  out=$(cri images 2>&1) && expect_contains "crictl images" cri-pause "$out"; then
  pass
  for t in "${tests[@]}"; do
    for HANDLER in $CRI_HANDLERS; do
      cri_host_snapshot >"$TEST_ROOT/before"
      "$t"
      CURRENT="$t [$HANDLER]: nothing left behind"
      expect_cri_clean "$TEST_ROOT/before" || { cri_remove_all; ctrd_remove_all; }
    done
  done
else
  fail "$(tail -n 3 "$CTRD_DIR/containerd.log" 2>/dev/null)"
fi
finish
