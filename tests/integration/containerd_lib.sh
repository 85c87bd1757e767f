# A private containerd for the suites that drive a runtime through containerd (bash). Source it
# after lib.sh; it expects CTRD_DIR (a scratch dir under $TEST_ROOT) and CTRD_NS (the suite's
# containerd namespace, unique to the suite: ctr's default cgroup path is /$CTRD_NS/<id>).
# The daemon has its own config.toml, root, state, gRPC and ttrpc sockets, so that it never
# touches a containerd the host runs. Two things containerd 1.6 puts outside them: shim sockets
# in /run/containerd/s (named by a hash of address, namespace and id: ctrd_shim_socket) and
# runc's state in /run/containerd/runc/$CTRD_NS. The daemon's PATH starts with $KATA_BUILD/bin
# (where containerd-shim-kata-v2 is built) and KATA_CONF_FILE is the suites' configuration.

CTRD_PID=""
CTRD_CREATED_RUN_DIRS=""
CTRD_IMAGE=docker.io/library/ctrd-busybox:latest

# Debian's ctr (1.6), bounded: a hung shim fails the caller instead of hanging the suite.
# --foreground keeps ctr in the caller's process group (a terminal's stdin stays readable); -k
# because ctr run forwards the SIGTERM to the container's process, which may ignore it.
ctrd_cli() {
  timeout --foreground -k 10 "${CTRD_TIMEOUT:-180}" /usr/bin/ctr -a "$CTRD_DIR/containerd.sock" \
    -n "$CTRD_NS" "$@"
}

# start_containerd [--cri] [NAME=VALUE...]: starts the daemon over CTRD_DIR's root and state
# (kept from an earlier start: a restart keeps the imported images). --cri enables the CRI
# plugin (restrict_oom_score_adj, for a daemon that may not lower the OOM score, and the
# runtimes "runc" and "kata" = io.containerd.kata.v2); without it the plugin is disabled. With
# --cri, the lines of CTRD_CRI_KEYS go into the plugin's own table (e.g. sandbox_image) and
# those of CTRD_CRI_TABLES after it (more runtimes, cni, ...). NAME=VALUE pairs go into the
# daemon's environment last (e.g. KATA_CONF_FILE=/nonexistent).
start_containerd() {
  local cri=false d
  if [ "${1:-}" = --cri ]; then
    cri=true
    shift
  fi
  for d in /run/containerd /run/containerd/runc "/run/containerd/runc/$CTRD_NS"; do
    [ -e "$d" ] || CTRD_CREATED_RUN_DIRS="$d $CTRD_CREATED_RUN_DIRS"
  done
  mkdir -p "$CTRD_DIR"
  {
    echo 'version = 2'
    echo "root = \"$CTRD_DIR/root\""
    echo "state = \"$CTRD_DIR/state\""
    $cri || echo 'disabled_plugins = ["io.containerd.grpc.v1.cri"]'
    echo '[grpc]'
    echo "  address = \"$CTRD_DIR/containerd.sock\""
    echo '[ttrpc]'
    echo "  address = \"$CTRD_DIR/containerd.sock.ttrpc\""
    echo '[debug]'
    echo "  address = \"$CTRD_DIR/debug.sock\""
    echo '[plugins."io.containerd.internal.v1.opt"]'
    echo "  path = \"$CTRD_DIR/opt\""
    if $cri; then
      echo '[plugins."io.containerd.grpc.v1.cri"]'
      echo '  restrict_oom_score_adj = true'
      [ -n "${CTRD_CRI_KEYS:-}" ] && echo "$CTRD_CRI_KEYS"
      # Naming one runtime replaces the default table: runc (the default runtime) stays.
      echo '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]'
      echo '  runtime_type = "io.containerd.runc.v2"'
      echo '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.kata]'
      echo '  runtime_type = "io.containerd.kata.v2"'
      # A privileged pod gets the guest's devices, never the host's (a VM cannot take them).
      echo '  privileged_without_host_devices = true'
      [ -n "${CTRD_CRI_TABLES:-}" ] && echo "$CTRD_CRI_TABLES"
    fi
  } >"$CTRD_DIR/config.toml"
  env PATH="$KATA_BUILD/bin:$PATH" KATA_CONF_FILE="$KATA_CONFIG" "$@" \
    /usr/bin/containerd --config "$CTRD_DIR/config.toml" >>"$CTRD_DIR/containerd.log" 2>&1 &
  CTRD_PID=$!
  # ctr unbounded, for a client driven through a pty (pty_drive.py has its own deadlines).
  CTRD_CTR=(/usr/bin/ctr -a "$CTRD_DIR/containerd.sock" -n "$CTRD_NS")
  local tries=150
  while [ $tries -gt 0 ]; do
    ctrd_cli version >/dev/null 2>&1 && return 0
    kill -0 "$CTRD_PID" 2>/dev/null || break
    sleep 0.2
    tries=$((tries - 1))
  done
  echo "containerd did not start: $(tail -n 5 "$CTRD_DIR/containerd.log")" >&2
  return 1
}

# Stops the daemon this suite started (only it); its root and state stay for a restart.
stop_containerd_daemon() {
  [ -n "$CTRD_PID" ] || return 0
  kill -TERM "$CTRD_PID" 2>/dev/null
  local tries=150
  while [ $tries -gt 0 ] && kill -0 "$CTRD_PID" 2>/dev/null; do
    sleep 0.2
    tries=$((tries - 1))
  done
  kill -KILL "$CTRD_PID" 2>/dev/null
  wait "$CTRD_PID" 2>/dev/null
  CTRD_PID=""
}

# Stops the daemon, then removes its root and state, the shim sockets of the ids it ran
# (ctrd_id), the run dirs and the namespace's cgroups it made.
stop_containerd() {
  stop_containerd_daemon
  [ -n "${CTRD_DIR:-}" ] || return 0
  findmnt -rn -o TARGET | grep "^$CTRD_DIR/" | sort -r | xargs -r -n 1 umount -l 2>/dev/null
  local d
  # A killed shim's socket outlives it (containerd 1.6 leaves it).
  for d in $(sort -u "$CTRD_DIR/ids" 2>/dev/null); do rm -f "$(ctrd_shim_socket "$d")"; done
  rm -rf "$CTRD_DIR"
  for d in $CTRD_CREATED_RUN_DIRS; do rmdir "$d" 2>/dev/null; done
  CTRD_CREATED_RUN_DIRS=""
  for d in /sys/fs/cgroup/*/"$CTRD_NS" /sys/fs/cgroup/"$CTRD_NS"; do
    [ -d "$d" ] && rmdir "$d" 2>/dev/null
  done
}

# ctrd_import_busybox [NAME [CMD_JSON]]: imports a busybox-static image (make_rootfs) as NAME
# (default $CTRD_IMAGE) whose Cmd is CMD_JSON (default ["/bin/sh"]): an OCI image layout
# tarball written by oci_image.py, no registry and no dockerd.
ctrd_import_busybox() {
  local img=$CTRD_DIR/busybox-rootfs
  rm -rf "$img"
  make_rootfs "$img"
  python3 "$(dirname "${BASH_SOURCE[0]}")/containerd/oci_image.py" "$img" "${1:-$CTRD_IMAGE}" \
    "$CTRD_DIR/busybox.tar" ${2:+"$2"} || return 1
  ctrd_cli images import "$CTRD_DIR/busybox.tar" >/dev/null || return 1
  rm -rf "$img" "$CTRD_DIR/busybox.tar"
}

# The socket containerd 1.6 names for the shim of ID (the pod's id for a grouped container).
ctrd_shim_socket() {
  local h
  h=$(printf '%s' "$CTRD_DIR/containerd.sock/$CTRD_NS/$1" | sha256sum)
  echo "/run/containerd/s/${h%% *}"
}

# The pids of the shims this daemon started (their command lines name its address).
ctrd_shim_pids() { pgrep -f -- "-address $CTRD_DIR/containerd.sock( |\$)"; }

# ctrd_shim_pid ID: the shim this daemon started for ID (a pod's shim: the pod's id).
ctrd_shim_pid() {
  pgrep -f -- "-id $1 .*-address $CTRD_DIR/containerd.sock|-address $CTRD_DIR/containerd.sock.* -id $1( |\$)"
}

# vmm_count ID: how many QEMU processes name ID on their command line (the sandbox's VM).
vmm_count() { pgrep -fc "qemu-system.*$1"; }

# ctrd_task_status ID: RUNNING, PAUSED, STOPPED, ... or nothing when containerd has no task.
ctrd_task_status() { ctrd_cli tasks ls 2>/dev/null | awk -v id="$1" '$1 == id {print $3}'; }

# wait_task_status ID STATUS [TRIES of 0.1 s]: STATUS "gone" waits for the task to go away.
wait_task_status() {
  local tries=${3:-300} s
  while [ "$tries" -gt 0 ]; do
    s=$(ctrd_task_status "$1")
    [ "${s:-gone}" = "$2" ] && return 0
    sleep 0.1
    tries=$((tries - 1))
  done
  return 1
}

# What a runtime may leave on the host, one "kind name" a line, sorted: VMM and shim
# processes, kata and containerd mounts, kata's sandbox dirs, network namespaces and links,
# cgroups under the namespace's, this daemon's containers and tasks, and the shim sockets of
# the ids in $CTRD_DIR/ids (ctrd_id). Compared before and after a test, so that what other
# engineers run on the machine meanwhile (their own VMs) is not ours.
ctrd_host_snapshot() {
  {
    ps -eo pid=,comm= | awk '$2 ~ /^qemu-system/ || $2 == "virtiofsd" {print "process " $2 " " $1}'
    ctrd_shim_pids | sed 's/^/shim pid /'
    awk '{print $5}' /proc/self/mountinfo |
      grep -E "^(/run/kata-containers|/run/vc|$CTRD_DIR/)" | sed 's/^/mount /'
    local d e
    for d in /run/vc/sbs /run/vc/vm /run/vc/netns /run/kata-containers/shared/sandboxes; do
      for e in "$d"/*; do [ -e "$e" ] && echo "dir $e"; done
    done
    ip netns list 2>/dev/null | awk '{print "netns " $1}'
    ip -o link show | awk -F': ' '{sub(/@.*/, "", $2); print "link " $2}'
    for d in /sys/fs/cgroup/*/"$CTRD_NS"/*/; do [ -d "$d" ] && echo "cgroup $d"; done
    ctrd_cli containers ls -q 2>/dev/null | sed 's/^/container /'
    ctrd_cli tasks ls -q 2>/dev/null | sed 's/^/task /'
    for e in $(sort -u "$CTRD_DIR/ids" 2>/dev/null); do
      d=$(ctrd_shim_socket "$e")
      [ -e "$d" ] && echo "shim-socket $e $d"
    done
  } | sort
}

# ctrd_id NAME: a container id unique to the suite, recorded for the shim-socket check.
ctrd_id() {
  echo "$CTRD_NS-$1" >>"$CTRD_DIR/ids"
  echo "$CTRD_NS-$1"
}

# expect_ctrd_clean BEFORE_FILE [TRIES of 0.1 s]: nothing on the host that was not in the
# snapshot BEFORE_FILE (ctrd_host_snapshot), waiting a little for VMs and shims to go.
expect_ctrd_clean() {
  local tries=${2:-100} left
  while :; do
    left=$(comm -13 "$1" <(ctrd_host_snapshot))
    [ -z "$left" ] && return 0
    tries=$((tries - 1))
    [ "$tries" -gt 0 ] || break
    sleep 0.1
  done
  fail "left behind: $(tr '\n' ';' <<<"$left")"
  return 1
}

# Removes everything this daemon runs: tasks, containers, then (a shim that did not answer)
# its shims and the VMs whose command lines name the suite's ids.
ctrd_remove_all() {
  local id pid
  for id in $(ctrd_cli tasks ls -q 2>/dev/null); do
    CTRD_TIMEOUT=30 ctrd_cli tasks kill -a -s KILL "$id" >/dev/null 2>&1
    CTRD_TIMEOUT=30 ctrd_cli tasks delete -f "$id" >/dev/null 2>&1
  done
  for id in $(ctrd_cli containers ls -q 2>/dev/null); do
    CTRD_TIMEOUT=30 ctrd_cli containers delete "$id" >/dev/null 2>&1
  done
  for pid in $(ctrd_shim_pids) $(pgrep -f "qemu-system.*$CTRD_NS-"); do
    kill -KILL "$pid" 2>/dev/null
  done
}

# ctrd_private PREFIX: this run's namespace and daemon dir, removed (with every container the
# run made) on exit. Call before start_containerd.
ctrd_private() {
  CTRD_NS=$1-$$
  CTRD_DIR=$TEST_ROOT/containerd
  trap ctrd_cleanup EXIT
  mkdir -p "$TEST_ROOT"
}
ctrd_cleanup() {
  [ -n "${CTRD_PID:-}" ] && ctrd_remove_all
  stop_containerd
  cleanup_all
}
