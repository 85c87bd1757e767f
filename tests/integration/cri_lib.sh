# CRI through a private containerd (containerd_lib.sh's --cri) for the CRI suite and bench
# (bash). Source it after lib.sh and containerd_lib.sh; it sets CTRD_NS=k8s.io (CRI's namespace)
# and expects CTRD_DIR. Handlers: "kata" (io.containerd.kata.v2, the shim v2 from the build),
# "kata-legacy" (io.containerd.runtime.v1.linux: containerd-shim calling our kata-runtime) and
# "runc". Pods get their network from CNI (bridge cri-br<pid>, host-local 10.231.0.0/24,
# portmap, loopback; plugins in /usr/lib/cni); the sandbox image is a local busybox "pause"
# image and $CTRD_IMAGE is imported into k8s.io: no registry is needed. The client is crictl
# ($CRICTL, default ../shared/bin/crictl beside the source tree).

CTRD_NS=k8s.io
CRI_DIR=$TEST_ROOT/cri
CRICTL=${CRICTL:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)/shared/bin/crictl}
CNI_BIN=/usr/lib/cni
CRI_BRIDGE=cri-br$$
CRI_SUBNET_PREFIX=10.231.0
# The pods' cgroup parent (the kubelet's /kubepods): its children are the pods' cgroups.
CRI_CGROUP=cri-$$
CRI_PAUSE_IMAGE=docker.io/library/cri-pause:latest
CRI_LEGACY_ROOT=$CTRD_DIR/kata-legacy-root

# cri_missing: what the CRI set-up lacks on this machine (nothing when all is there).
cri_missing() {
  [ -x "$CRICTL" ] || echo "$CRICTL (crictl, cri-tools)"
  [ -x "$CNI_BIN/bridge" ] || echo "$CNI_BIN/bridge (containernetworking-plugins: make deps)"
  [ -x "$KATA_BUILD/bin/containerd-shim-kata-v2" ] || echo "containerd-shim-kata-v2"
}

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

cri_write_config() {
  mkdir -p "$CRI_DIR/cni" "$CRI_DIR/logs"
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

# wait_cri_state inspect|inspectp ID STATE [TRIES of 0.1 s]: a container's or a pod's state.
wait_cri_state() {
  local tries=${4:-300}
  while [ "$tries" -gt 0 ]; do
    [ "$(cri_field "$1" "$2" status.state)" = "$3" ] && return 0
    sleep 0.1
    tries=$((tries - 1))
  done
  return 1
}
# wait_ctr_state ID STATE [TRIES]: CONTAINER_RUNNING, CONTAINER_EXITED, ...
wait_ctr_state() { wait_cri_state inspect "$@"; }
# wait_pod_state ID STATE [TRIES]: SANDBOX_READY or SANDBOX_NOTREADY.
wait_pod_state() { wait_cri_state inspectp "$@"; }

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

# cri_start: the bridge (before the first pod, so that it is no new link after a test), a
# containerd with CRI, the pause and busybox images.
cri_start() {
  # The pause image: sleeps until SIGTERM or SIGINT (the shell as PID 1 gets them through its
  # trap), as Kubernetes' pause does.
  local pause_cmd='["/bin/sh", "-c", "trap \"exit 0\" TERM INT; while :; do sleep 3600 & wait $!; done"]'
  cri_write_config
  ip link add "$CRI_BRIDGE" type bridge && start_containerd --cri && ctrd_import_busybox &&
    ctrd_import_busybox "$CRI_PAUSE_IMAGE" "$pause_cmd"
}

# cri_stop: removes every pod, stops containerd, removes the pods' cgroups and the bridge.
cri_stop() {
  if [ -n "$CTRD_PID" ]; then
    cri_remove_all
    ctrd_remove_all
  fi
  stop_containerd
  local d
  for d in $(find /sys/fs/cgroup/*/"$CRI_CGROUP" -depth -type d 2>/dev/null); do rmdir "$d"; done
  ip link del "$CRI_BRIDGE" 2>/dev/null
}

# cri_private: this run's dirs, removed with everything the run started on exit. Call before
# cri_start.
cri_private() {
  trap cri_cleanup EXIT
  mkdir -p "$TEST_ROOT"
}
cri_cleanup() {
  cri_stop
  cleanup_all
}
