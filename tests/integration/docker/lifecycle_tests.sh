# Process and lifecycle parity with runc (issue 20, "What must work"), sourced by docker_test.sh.
# Each test boots as few VMs as it can: one long-running container serves several checks.
PTY_DRIVE="$HERE/../tools/pty_drive.py"

# inspect_field CONTAINER GO_TEMPLATE
inspect_field() { docker_cli inspect -f "$2" "$1" 2>&1; }

# wait_inspect CONTAINER GO_TEMPLATE VALUE [TRIES of 0.2 s]: until the field has VALUE.
wait_inspect() {
  local tries=${4:-150}
  while [ "$tries" -gt 0 ]; do
    [ "$(inspect_field "$1" "$2")" = "$3" ] && return 0
    sleep 0.2
    tries=$((tries - 1))
  done
  return 1
}

# wait_log CONTAINER TEXT [TRIES of 0.2 s]: until `docker logs` contains TEXT.
wait_log() {
  local tries=${3:-150}
  while [ "$tries" -gt 0 ]; do
    docker_cli logs "$1" 2>&1 | grep -qF -- "$2" && return 0
    sleep 0.2
    tries=$((tries - 1))
  done
  return 1
}

# The counter the long-running container below keeps in /tmp/count.
read_count() { docker_cli exec "$1" cat /tmp/count 2>/dev/null | tr -dc 0-9; }

test_run_output_stdin_exit() {
  begin "docker run --rm: stdout and stderr apart, -i piped stdin, the exit code"
  local out err rc
  out=$(printf 'hi\nthere\n' | kdrun -i --network none "$IMAGE" \
    sh -c 'cat; echo to-stderr >&2; exit 7' 2>"$TEST_ROOT/stderr")
  rc=$?
  err=$(cat "$TEST_ROOT/stderr")
  expect_eq "exit code" 7 "$rc" || return
  expect_eq "stdout" "$(printf 'hi\nthere')" "$out" || return
  expect_eq "stderr" "to-stderr" "$err" || return
  expect_docker_clean && pass
}

test_run_tty() {
  begin "docker run -it: raw mode, stty size is the client's, a resize reaches the guest"
  local out c=kdl-$$-tty
  out=$(python3 "$PTY_DRIVE" 30 100 \
    'expectany:# ;;raw;;send:stty size\r;;expect:30 100;;resize:42:132;;sleep:1;;send:stty size\r;;expect:42 132;;send:exit 5\r' \
    -- /usr/bin/docker -H "unix://$DOCKER_DIR/docker.sock" run --runtime kata-runtime --rm -it \
    --name "$c" --network none "$IMAGE" sh 2>&1)
  # A failed session leaves its client killed and the container running.
  docker_cli rm -f "$c" >/dev/null 2>&1
  expect_eq "pty session" ok "$(head -n 1 <<<"$out")" || { echo "$out" | tail -n 20; return; }
  expect_contains "exit code" "exit=5 " "$out" || return
  pass
  # Docker 20.10 sizes the terminal just after start (no consoleSize in the spec), with runc
  # too: the process waits a moment before it asks.
  begin "docker run -t (no -i): the process has a terminal of the client's size"
  out=$(python3 "$PTY_DRIVE" 25 90 '' -- /usr/bin/docker -H "unix://$DOCKER_DIR/docker.sock" \
    run --runtime kata-runtime --rm -t --name "$c" --network none "$IMAGE" \
    sh -c 'tty; sleep 1; stty size; exit 4' 2>&1)
  docker_cli rm -f "$c" >/dev/null 2>&1
  expect_eq "pty session" ok "$(head -n 1 <<<"$out")" || { echo "$out" | tail -n 20; return; }
  expect_contains "exit code" "exit=4 " "$out" || return
  expect_contains "tty" "/dev/pts/" "$out" || return
  expect_contains "size" "25 90" "$out" || return
  local tries=50
  while pgrep -x kata-shim >/dev/null && [ $tries -gt 0 ]; do sleep 0.2; tries=$((tries - 1)); done
  pgrep -ax kata-shim | sed 's/^/     still running: /'
  expect_docker_clean && pass
}

# One detached container for logs, ps, inspect, exec, kill, pause, cp, top, restart and stop.
test_detached_container() {
  local c=kdl-$$-d out rc pid t0 t1 c0 c1 d_run d_paused
  begin "docker run -d: logs, ps, inspect"
  docker_cli run -d --runtime kata-runtime --name "$c" --network none "$IMAGE" sh -c \
    'trap "echo got USR1" USR1; trap "echo got TERM" TERM; echo started; i=0;
     while true; do i=$((i+1)); echo $i > /tmp/count; sleep 0.2; done' >/dev/null ||
    { fail "docker run -d failed"; return; }
  wait_log "$c" started || { fail "no 'started' in docker logs: $(docker_cli logs "$c" 2>&1)"; return; }
  expect_contains "docker ps" "$c" "$(docker_cli ps --format '{{.Names}} {{.Status}}')" || return
  expect_eq "State.Running" true "$(inspect_field "$c" '{{.State.Running}}')" || return
  pid=$(inspect_field "$c" '{{.State.Pid}}')
  [ "$pid" -gt 0 ] 2>/dev/null || { fail "State.Pid is [$pid]"; return; }
  pass

  begin "docker exec: plain, -u 1000 -w /tmp -e X=1, -t"
  out=$(docker_cli exec "$c" sh -c 'echo plain; exit 3')
  rc=$?
  expect_eq "exec exit code" 3 "$rc" || return
  expect_eq "exec output" plain "$out" || return
  out=$(docker_cli exec -u 1000 -w /tmp -e X=1 "$c" sh -c 'echo "$(id -u) $(pwd) $X"')
  expect_eq "exec -u -w -e" "1000 /tmp 1" "$out" || return
  out=$(docker_cli exec -t "$c" sh -c 'tty' | tr -d '\r')
  expect_contains "exec -t" /dev/pts/ "$out" || return
  pass

  begin "docker exec -it: the session's exit returns at once"
  out=$(python3 "$PTY_DRIVE" 24 80 'expectany:# ;;send:echo in-exec\r;;expect:in-exec;;send:exit 6\r' \
    -- /usr/bin/docker -H "unix://$DOCKER_DIR/docker.sock" exec -it "$c" sh 2>&1)
  expect_eq "pty session" ok "$(head -n 1 <<<"$out")" || { echo "$out" | tail -n 20; return; }
  expect_contains "exit code" "exit=6 " "$out" || return
  t1=$(sed -n 's/.*seconds_after_last_send=\([0-9.]*\).*/\1/p' <<<"$out")
  awk -v t="$t1" 'BEGIN { exit !(t < 5) }' || { fail "exec -it took ${t1} s to return after exit"; return; }
  echo "     (exit returned after ${t1} s)"
  pass

  begin "docker kill -s USR1 reaches the process"
  docker_cli kill -s USR1 "$c" >/dev/null || { fail "docker kill -s USR1 failed"; return; }
  wait_log "$c" "got USR1" || { fail "the trap did not print: $(docker_cli logs "$c" 2>&1 | tail -n 3)"; return; }
  expect_eq "still running" true "$(inspect_field "$c" '{{.State.Running}}')" && pass

  begin "docker top lists the container's processes"
  out=$(docker_cli top "$c" 2>&1)
  rc=$?
  expect_eq "docker top exit code" 0 "$rc" || { echo "$out"; return; }
  expect_contains "docker top" "PID" "$out" || return
  # Docker runs the host's ps on the pids the runtime gives: they must be this container's
  # (its shims on the host), never unrelated host processes such as the host's init.
  if grep -Eq '(^|[[:space:]])(/sbin/init|systemd)([[:space:]]|$)' <<<"$out"; then
    fail "docker top shows host processes: $out"; return
  fi
  expect_contains "docker top" "kata-shim" "$out" && pass

  begin "docker pause/unpause: the state and the process stop"
  c0=$(read_count "$c"); sleep 4; c1=$(read_count "$c")
  d_run=$((c1 - c0))
  docker_cli pause "$c" >/dev/null || { fail "docker pause failed"; return; }
  expect_eq "State.Status" paused "$(inspect_field "$c" '{{.State.Status}}')" || return
  sleep 4
  docker_cli unpause "$c" >/dev/null || { fail "docker unpause failed"; return; }
  c0=$c1; c1=$(read_count "$c")
  d_paused=$((c1 - c0))
  # The paused window is 4 s plus two docker calls: far fewer ticks than 4 s running.
  [ "$d_paused" -lt $((d_run / 2 + 3)) ] && [ "$d_run" -ge 4 ] ||
    { fail "counter advanced $d_paused while paused, $d_run in 4 s running"; return; }
  expect_eq "State.Status" running "$(inspect_field "$c" '{{.State.Status}}')" || return
  echo "     (counter: +$d_run in 4 s running, +$d_paused across 4 s paused)"
  pass

  begin "docker cp into and out of the running container"
  echo "from-the-host-$$" >"$TEST_ROOT/cp-in"
  docker_cli cp "$TEST_ROOT/cp-in" "$c:/tmp/cp-in" || { fail "docker cp in failed"; return; }
  expect_eq "copied in" "from-the-host-$$" "$(docker_cli exec "$c" cat /tmp/cp-in)" || return
  docker_cli exec "$c" sh -c 'echo from-the-guest > /tmp/cp-out' || { fail "exec failed"; return; }
  docker_cli cp "$c:/tmp/cp-out" "$TEST_ROOT/cp-out" || { fail "docker cp out failed"; return; }
  expect_eq "copied out" from-the-guest "$(cat "$TEST_ROOT/cp-out")" && pass

  begin "docker restart: a new VM, the same container, logs kept"
  docker_cli restart -t 1 "$c" >/dev/null || { fail "docker restart failed"; return; }
  expect_eq "State.Running" true "$(inspect_field "$c" '{{.State.Running}}')" || return
  wait_inspect "$c" '{{.State.Running}}' true || { fail "not running after restart"; return; }
  local tries=100
  while [ "$(docker_cli logs "$c" 2>&1 | grep -c '^started$')" -lt 2 ] && [ $tries -gt 0 ]; do
    sleep 0.2; tries=$((tries - 1))
  done
  expect_eq "'started' lines in the logs" 2 "$(docker_cli logs "$c" 2>&1 | grep -c '^started$')" || return
  pass

  begin "docker stop -t 3 on a process that ignores SIGTERM: SIGTERM, SIGKILL 3 s later, 137"
  t0=$(date +%s.%N)
  docker_cli stop -t 3 "$c" >/dev/null || { fail "docker stop failed"; return; }
  t1=$(date +%s.%N)
  local took
  took=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
  echo "     (docker stop took $took s)"
  awk -v t="$took" 'BEGIN { exit !(t >= 2.9 && t < 15) }' || { fail "stop took $took s"; return; }
  expect_eq "ExitCode" 137 "$(inspect_field "$c" '{{.State.ExitCode}}')" || return
  expect_contains "the process saw SIGTERM" "got TERM" "$(docker_cli logs "$c" 2>&1)" || return
  expect_eq "docker wait on the stopped container" 137 "$(timeout 20 /usr/bin/docker -H "unix://$DOCKER_DIR/docker.sock" wait "$c")" || return
  docker_cli rm "$c" >/dev/null || { fail "docker rm failed"; return; }
  expect_docker_clean && pass
}

# One container for --init, a health check, docker wait and docker rm -f.
test_init_health_rm_force() {
  local c=kdl-$$-i out waitpid rc
  begin "--init: docker-init is pid 1 in the guest; --health-cmd turns healthy"
  docker_cli run -d --runtime kata-runtime --name "$c" --network none --init \
    --health-cmd 'test -e /tmp/ok' --health-interval 1s --health-retries 1 \
    "$IMAGE" sleep 1000 >/dev/null || { fail "docker run -d --init failed"; return; }
  wait_inspect "$c" '{{.State.Running}}' true || { fail "not running"; return; }
  out=$(docker_cli exec "$c" sh -c 'tr "\0" " " < /proc/1/cmdline; echo; uname -r')
  expect_contains "pid 1" "docker-init" "$(head -n 1 <<<"$out")" || return
  [ "$(tail -n 1 <<<"$out")" != "$(uname -r)" ] || { fail "exec ran on the host kernel"; return; }
  wait_inspect "$c" '{{.State.Health.Status}}' unhealthy 100 ||
    { fail "health: $(inspect_field "$c" '{{.State.Health.Status}}') before /tmp/ok exists"; return; }
  docker_cli exec "$c" touch /tmp/ok
  wait_inspect "$c" '{{.State.Health.Status}}' healthy 100 ||
    { fail "health: $(inspect_field "$c" '{{json .State.Health}}')"; return; }
  pass

  begin "docker wait returns when docker rm -f kills the container; nothing left"
  timeout 60 /usr/bin/docker -H "unix://$DOCKER_DIR/docker.sock" wait "$c" >"$TEST_ROOT/wait.out" 2>&1 &
  waitpid=$!
  sleep 0.5
  docker_cli rm -f "$c" >/dev/null || { fail "docker rm -f failed"; return; }
  wait "$waitpid"
  rc=$?
  # docker wait prints the exit code, or an error when rm -f removed the container first.
  [ "$rc" -eq 0 ] || [ "$rc" -eq 1 ] || { fail "docker wait: rc $rc $(cat "$TEST_ROOT/wait.out")"; return; }
  docker_cli inspect "$c" >/dev/null 2>&1 && { fail "still there after rm -f"; return; }
  expect_docker_clean && pass
}

test_restart_on_failure() {
  local c=kdl-$$-r
  begin "--restart on-failure:2: two restarts, then exited with RestartCount 2"
  docker_cli run -d --runtime kata-runtime --name "$c" --network none --restart on-failure:2 \
    "$IMAGE" sh -c 'echo run; exit 3' >/dev/null || { fail "docker run failed"; return; }
  local tries=300
  while [ $tries -gt 0 ]; do
    [ "$(inspect_field "$c" '{{.State.Status}} {{.RestartCount}}')" = "exited 2" ] && break
    sleep 0.2
    tries=$((tries - 1))
  done
  expect_eq "status, RestartCount" "exited 2" "$(inspect_field "$c" '{{.State.Status}} {{.RestartCount}}')" || return
  expect_eq "ExitCode" 3 "$(inspect_field "$c" '{{.State.ExitCode}}')" || return
  expect_eq "runs in the logs" 3 "$(docker_cli logs "$c" 2>&1 | grep -c '^run$')" || return
  docker_cli rm "$c" >/dev/null || { fail "docker rm failed"; return; }
  expect_docker_clean && pass
}
