# A private dockerd for the suites that drive kata-runtime through Docker (bash). Source it
# after lib.sh; it expects DOCKER_DIR (a scratch dir under $TEST_ROOT) and CGROUP_PARENT.
# The daemon has its own data and exec roots, socket, pid file and daemon.json, so that it
# never touches a dockerd the host runs. kata-runtime is registered as the runtime
# "kata-runtime" with the suite's configuration; runc stays available as "runc".
#
# With DOCKER_NETNS set (a name unique to the suite), the daemon runs in that network
# namespace, which start_dockerd makes (loopback up) and stop_dockerd deletes: its bridge
# docker0, its iptables rules and docker-proxy live there and never touch the host's (dockerd
# leaves its DOCKER* chains behind when it stops; they go with the namespace). Only the network
# namespace differs (nsenter --net, not `ip netns exec`, which also makes a mount namespace):
# mounts and /run/vc are the host's. That namespace is "the host" of the -p tests: reach it
# with in_docker_netns CMD.

DOCKERD_PID=""
DOCKER_CREATED_RUN_DIRS=""
DOCKER_NETNS=${DOCKER_NETNS:-}
DOCKER_NETNS_MADE=""

# Debian's docker.io client (20.10), whatever else is first on PATH.
docker_cli() { /usr/bin/docker -H "unix://$DOCKER_DIR/docker.sock" "$@"; }

# Runs CMD in the daemon's network namespace (the host's when DOCKER_NETNS is not set).
in_docker_netns() {
  if [ -n "$DOCKER_NETNS" ]; then nsenter --net="/run/netns/$DOCKER_NETNS" "$@"; else "$@"; fi
}

# start_dockerd [DOCKERD_ARG...]: without arguments the daemon has no bridge and no iptables
# rules (--network none only) unless DOCKER_NETNS is set (then Docker's default bridge and
# iptables, inside that namespace); a suite may pass its own options.
# Extra runtimes: DOCKER_EXTRA_RUNTIMES="name=path ..." (added with --add-runtime).
start_dockerd() {
  local d r args=("$@") netns=()
  if [ -n "$DOCKER_NETNS" ]; then
    ip netns add "$DOCKER_NETNS" || { echo "ip netns add $DOCKER_NETNS failed" >&2; return 1; }
    DOCKER_NETNS_MADE=$DOCKER_NETNS
    ip -n "$DOCKER_NETNS" link set lo up || return 1
    netns=(nsenter --net="/run/netns/$DOCKER_NETNS")
  elif [ ${#args[@]} -eq 0 ]; then
    args=(--bridge none --iptables=false --ip6tables=false --ip-masq=false)
  fi
  for d in /run/containerd /run/docker; do
    [ -e "$d" ] || DOCKER_CREATED_RUN_DIRS="$DOCKER_CREATED_RUN_DIRS $d"
  done
  mkdir -p "$DOCKER_DIR"
  cat > "$DOCKER_DIR/daemon.json" <<JSON
{
  "runtimes": {
    "kata-runtime": {"path": "$RUNTIME", "runtimeArgs": ["--kata-config", "$KATA_CONFIG"]}
  }
}
JSON
  for r in ${DOCKER_EXTRA_RUNTIMES:-}; do args+=(--add-runtime "$r"); done
  "${netns[@]}" dockerd --config-file "$DOCKER_DIR/daemon.json" \
    --data-root "$DOCKER_DIR/data" --exec-root "$DOCKER_DIR/exec" \
    --pidfile "$DOCKER_DIR/dockerd.pid" -H "unix://$DOCKER_DIR/docker.sock" \
    --cgroup-parent "$CGROUP_PARENT" "${args[@]}" >"$DOCKER_DIR/dockerd.log" 2>&1 &
  DOCKERD_PID=$!
  local tries=150
  while [ $tries -gt 0 ]; do
    docker_cli version >/dev/null 2>&1 && return 0
    kill -0 "$DOCKERD_PID" 2>/dev/null || break
    sleep 0.2
    tries=$((tries - 1))
  done
  echo "dockerd did not start: $(tail -n 5 "$DOCKER_DIR/dockerd.log")" >&2
  return 1
}

# Stops the daemon this suite started (only it), then removes its roots and the run dirs it
# made.
stop_dockerd() {
  [ -n "$DOCKERD_PID" ] || { remove_docker_netns; return 0; }
  kill -TERM "$DOCKERD_PID" 2>/dev/null
  local tries=150
  while [ $tries -gt 0 ] && kill -0 "$DOCKERD_PID" 2>/dev/null; do
    sleep 0.2
    tries=$((tries - 1))
  done
  kill -KILL "$DOCKERD_PID" 2>/dev/null
  wait "$DOCKERD_PID" 2>/dev/null
  DOCKERD_PID=""
  findmnt -rn -o TARGET | grep "^$DOCKER_DIR/" | sort -r | xargs -r -n 1 umount -l 2>/dev/null
  local d
  for d in $DOCKER_CREATED_RUN_DIRS; do
    rmdir "$d"/* "$d" 2>/dev/null
  done
  rm -rf "$DOCKER_DIR/data" "$DOCKER_DIR/exec"
  remove_docker_netns
}

# The daemon's bridge, veths and iptables rules go with its namespace.
remove_docker_netns() {
  [ -n "$DOCKER_NETNS_MADE" ] || return 0
  ip netns del "$DOCKER_NETNS_MADE" 2>/dev/null
  DOCKER_NETNS_MADE=""
}

# import_busybox TAG: a busybox-static image built locally (no registry is reachable).
import_busybox() {
  local img=$DOCKER_DIR/busybox-rootfs
  rm -rf "$img"
  make_rootfs "$img"
  tar -C "$img" -c . | docker_cli import -c 'CMD ["/bin/sh"]' - "$1" >/dev/null || return 1
  rm -rf "$img"
}
