# ctr task: exec, ps, metrics, pause/resume, kill, and a killed shim (issue 21), sourced by
# containerd_test.sh. One long-running container serves the checks that leave it running.

# started_in FILE [TRIES of 0.1 s]: until FILE (a background client's output) says "started".
started_in() {
  local tries=${2:-600}
  until grep -q started "$1" 2>/dev/null; do
    tries=$((tries - 1))
    [ "$tries" -gt 0 ] || return 1
    sleep 0.1
  done
}

test_task_exec_ps_metrics_pause_kill() {
  begin "ctr task exec (no tty): stdout, stderr, exit code, in the container's pid namespace"
  local id out rc tpid runpid execpid
  id=$(ctrd_id ops)
  CTRD_TIMEOUT=900 crun --rm "$CTRD_IMAGE" "$id" sh -c 'echo started; while :; do sleep 1; done' \
    </dev/null >"$TEST_ROOT/ops.out" 2>&1 &
  runpid=$!
  started_in "$TEST_ROOT/ops.out" 1200 || { fail "no start: $(tail -c 400 "$TEST_ROOT/ops.out")"; return; }
  out=$(ctrd_cli tasks exec --exec-id x1 "$id" \
    sh -c 'tr "\0" " " </proc/1/cmdline; echo; echo err >&2; exit 4' </dev/null 2>"$TEST_ROOT/err")
  rc=$?
  expect_eq "exit code (stderr: $(tail -c 400 "$TEST_ROOT/err"))" 4 "$rc" || return
  expect_contains "pid 1 seen by exec" "while :; do sleep 1; done" "$out" || return
  expect_contains "stderr" err "$(cat "$TEST_ROOT/err")" || return
  pass

  begin "ctr task exec -t: tty is /dev/pts/N of the client's size, the exit code"
  out=$(python3 "$PTY_DRIVE" 25 90 'expect:END' -- "${CTRD_CTR[@]}" tasks exec -t --exec-id x2 \
    "$id" sh -c "$WAIT_FOR_TTY_SIZE; tty; stty size; echo END; exit 2" 2>&1)
  expect_eq "pty session" ok "$(head -n 1 <<<"$out")" || { echo "$out" | tail -n 20; return; }
  expect_contains "exit code" "exit=2 " "$out" || return
  expect_contains "stty size" "25 90" "$out" || return
  grep -q '^/dev/pts/[0-9][0-9]*$' <<<"$out" || { fail "no /dev/pts/N from tty: $out"; return; }
  pass

  begin "ctr task ps lists the task's pid"
  tpid=$(ctrd_cli tasks ls | awk -v id="$id" '$1 == id {print $2}')
  out=$(ctrd_cli tasks ps "$id" 2>&1) || { fail "ctr task ps: $out"; return; }
  [ -n "$tpid" ] && awk 'NR > 1 {print $1}' <<<"$out" | grep -qx "$tpid" ||
    { fail "task pid [$tpid] not in: $out"; return; }
  pass

  begin "ctr task metrics reports the memory in use"
  out=$(ctrd_cli tasks metrics "$id" 2>&1) || { fail "ctr task metrics: $out"; return; }
  grep -Eq '^memory\.usage(_in_bytes)? +[1-9][0-9]* *$' <<<"$out" ||
    { fail "no non-zero memory.usage(_in_bytes) in: $out"; return; }
  pass

  begin "ctr task pause and resume: ctr task ls shows PAUSED, then RUNNING, and exec works again"
  out=$(ctrd_cli tasks pause "$id" 2>&1) || { fail "pause: $out"; return; }
  expect_eq "status after pause" PAUSED "$(ctrd_task_status "$id")" || return
  out=$(ctrd_cli tasks resume "$id" 2>&1) || { fail "resume: $out"; return; }
  expect_eq "status after resume" RUNNING "$(ctrd_task_status "$id")" || return
  expect_eq "exec after resume" alive "$(ctrd_cli tasks exec --exec-id x3 "$id" echo alive </dev/null 2>&1)" ||
    return
  pass

  begin "ctr task kill --exec-id: SIGTERM ends that process only (143)"
  ctrd_cli tasks exec --exec-id x4 "$id" sh -c 'echo started; exec sleep 1000' </dev/null \
    >"$TEST_ROOT/x4.out" 2>&1 &
  execpid=$!
  started_in "$TEST_ROOT/x4.out" || { fail "exec x4 did not start: $(cat "$TEST_ROOT/x4.out")"; return; }
  out=$(ctrd_cli tasks kill --exec-id x4 "$id" 2>&1) || { fail "kill --exec-id: $out"; return; }
  wait "$execpid"
  expect_eq "exec's exit code" 143 "$?" || return
  expect_eq "task status" RUNNING "$(ctrd_task_status "$id")" || return
  pass

  begin "ctr task kill --all -s KILL ends every process: ctr run --rm returns 137 and removes it"
  ctrd_cli tasks exec --exec-id x5 "$id" sh -c 'echo started; exec sleep 1000' </dev/null \
    >"$TEST_ROOT/x5.out" 2>&1 &
  execpid=$!
  started_in "$TEST_ROOT/x5.out" || { fail "exec x5 did not start: $(cat "$TEST_ROOT/x5.out")"; return; }
  out=$(ctrd_cli tasks kill --all -s KILL "$id" 2>&1) || { fail "kill --all: $out"; return; }
  wait "$runpid"
  rc=$?
  expect_eq "ctr run's exit code ($(tail -c 300 "$TEST_ROOT/ops.out"))" 137 "$rc" || return
  wait "$execpid"
  rc=$?
  expect_eq "the exec's exit code ($(tail -c 300 "$TEST_ROOT/x5.out"))" 137 "$rc" || return
  ctrd_cli containers ls -q | grep -qx "$id" && { fail "--rm left the container"; return; }
  pass
}

test_shim_killed() {
  begin "kill -9 of the shim: containerd notices, ctr task ls answers, delete cleans up"
  local id out rc pid cpid status tries=100
  id=$(ctrd_id shimkill)
  out=$(crun -d "$CTRD_IMAGE" "$id" sh -c 'while :; do sleep 1; done' </dev/null 2>&1) ||
    { fail "ctr run -d: $out"; return; }
  wait_task_status "$id" RUNNING 1200 || { fail "task is $(ctrd_task_status "$id")"; return; }
  pid=$(ctrd_shim_pid "$id")
  cpid=$(ctrd_cli tasks ls | awk -v id="$id" '$1 == id {print $2}')
  [ -n "$pid" ] || { fail "no shim process names $id"; return; }
  if is_kata; then
    expect_eq "QEMU processes of $id" 1 "$(vmm_count "$id")" || return
  fi
  kill -KILL "$pid"
  while :; do
    out=$(CTRD_TIMEOUT=10 ctrd_cli tasks ls 2>&1)
    rc=$?
    [ $rc -eq 0 ] || { fail "ctr task ls after the kill: rc $rc: $out"; return; }
    status=$(awk -v id="$id" '$1 == id {print $3}' <<<"$out")
    [ "${status:-gone}" = STOPPED ] || [ "${status:-gone}" = gone ] && break
    tries=$((tries - 1))
    [ "$tries" -gt 0 ] || { fail "task still $status 10 s after its shim was killed"; return; }
    sleep 0.1
  done
  # The task may already be gone (containerd cleaned up after the dead shim): not found is fine.
  out=$(ctrd_cli tasks delete "$id" 2>&1) || expect_contains "ctr task delete" "not found" "$out" ||
    return
  out=$(ctrd_cli containers delete "$id" 2>&1) || { fail "ctr container delete: $out"; return; }
  if is_kata; then
    tries=100
    while [ "$(vmm_count "$id")" -gt 0 ]; do
      tries=$((tries - 1))
      [ "$tries" -gt 0 ] || { fail "QEMU of $id still runs"; return; }
      sleep 0.1
    done
  else
    ! proc_running "$cpid" || { fail "the container's process $cpid still runs"; return; }
  fi
  # containerd 1.6 leaves the socket of a shim that died (with runc's shim too): not the
  # runtime's to remove.
  rm -f "$(ctrd_shim_socket "$id")"
  pass
}

# What runs the container killed under it: QEMU with kata, the container's process with runc.
test_vm_killed() {
  begin "kill -9 of QEMU (runc: of the process) under a running task: it exits at once, delete cleans up"
  local id out victim tries=100
  id=$(ctrd_id vmkill)
  out=$(crun -d "$CTRD_IMAGE" "$id" sh -c 'while :; do sleep 1; done' </dev/null 2>&1) ||
    { fail "ctr run -d: $out"; return; }
  wait_task_status "$id" RUNNING 1200 || { fail "task is $(ctrd_task_status "$id")"; return; }
  if is_kata; then
    victim=$(pgrep -f "qemu-system.*$id" | head -1)
  else
    victim=$(ctrd_cli tasks ls | awk -v id="$id" '$1 == id {print $2}')
  fi
  [ -n "$victim" ] || { fail "no process to kill for $id"; return; }
  kill -KILL "$victim"
  # The kata relays hold QEMU's pidfd: the exit is reported without waiting for the agent.
  wait_task_status "$id" STOPPED 50 ||
    { fail "task still $(ctrd_task_status "$id") 5 s after the kill"; return; }
  out=$(ctrd_cli tasks delete "$id" 2>&1) || { fail "ctr task delete: $out"; return; }
  out=$(ctrd_cli containers delete "$id" 2>&1) || { fail "ctr container delete: $out"; return; }
  while [ -n "$(ctrd_shim_pid "$id")" ]; do
    tries=$((tries - 1))
    [ "$tries" -gt 0 ] || { fail "the shim of $id still runs"; return; }
    sleep 0.1
  done
  pass
}
