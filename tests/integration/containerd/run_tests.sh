# ctr run: output, exit code, the kernel, a terminal, stdin, a large stdout (issue 21), sourced
# by containerd_test.sh. One VM per test.

# Guest shell: waits (5 s at most) until the terminal has a size: ctr sets it just after the
# process starts (with runc too), and until then busybox's `stty size` prints nothing.
WAIT_FOR_TTY_SIZE='i=0; until s=$(stty size 2>/dev/null); [ -n "$s" ] && [ "$s" != "0 0" ] || [ $i -ge 50 ]; do sleep 0.1; i=$((i+1)); done'

test_run_output_exit_kernel() {
  begin "ctr run --rm: stdout and stderr apart, the exit code, uname -r is the guest kernel"
  local id out rc kernel
  id=$(ctrd_id run)
  out=$(crun --rm "$CTRD_IMAGE" "$id" sh -c 'echo hi; echo to-stderr >&2; uname -r; exit 3' \
    </dev/null 2>"$TEST_ROOT/err")
  rc=$?
  expect_eq "exit code (stderr: $(tail -c 400 "$TEST_ROOT/err"))" 3 "$rc" || return
  expect_eq "stdout's first line" hi "$(head -n 1 <<<"$out")" || return
  expect_contains "stderr" to-stderr "$(cat "$TEST_ROOT/err")" || return
  kernel=$(sed -n 2p <<<"$out")
  if is_kata; then
    expect_eq "uname -r in the container" "$GUEST_KERNEL" "$kernel" || return
    [ "$kernel" != "$(uname -r)" ] || { fail "the container runs on the host's kernel"; return; }
  else
    expect_eq "uname -r under runc is the host's" "$(uname -r)" "$kernel" || return
  fi
  ctrd_cli containers ls -q | grep -qx "$id" && { fail "--rm left the container"; return; }
  pass
}

test_run_tty() {
  begin "ctr run -t: raw mode, tty is /dev/pts/N, stty size is the client's, a resize arrives"
  local id out
  id=$(ctrd_id tty)
  out=$(python3 "$PTY_DRIVE" 30 100 \
    "expectany:# ;;raw;;send:$WAIT_FOR_TTY_SIZE; tty; stty size\\r;;expect:30 100;;resize:42:132;;sleep:1;;send:stty size\\r;;expect:42 132;;send:exit 5\\r" \
    -- "${CTRD_CTR[@]}" run --runtime "$CTRD_RUNTIME" --rm -t "$CTRD_IMAGE" "$id" sh 2>&1)
  expect_eq "pty session" ok "$(head -n 1 <<<"$out")" || { echo "$out" | tail -n 20; return; }
  expect_contains "exit code" "exit=5 " "$out" || return
  grep -q '^/dev/pts/[0-9][0-9]*$' <<<"$out" || { fail "no /dev/pts/N from tty: $out"; return; }
  pass
}

test_run_stdin() {
  begin "ctr run with piped stdin: the process reads it"
  local id out rc
  id=$(ctrd_id stdin)
  # ctr 1.6's run never closes the task's stdin (no CloseIO at the pipe's end, with runc's shim
  # too): the process reads the lines it expects instead of waiting for the end.
  out=$(printf 'data\nmore data\n' | crun --rm "$CTRD_IMAGE" "$id" \
    sh -c 'read a; read b; echo "[$a][$b]"' 2>"$TEST_ROOT/err")
  rc=$?
  expect_eq "exit code (stderr: $(tail -c 400 "$TEST_ROOT/err"))" 0 "$rc" || return
  expect_eq "stdout" "[data][more data]" "$out" || return
  pass
}

test_run_10mib_stdout() {
  begin "ctr run --rm: 10 MiB of stdout arrive whole"
  local id n
  id=$(ctrd_id big)
  n=$(crun --rm "$CTRD_IMAGE" "$id" head -c 10485760 /dev/zero </dev/null 2>"$TEST_ROOT/err" |
    wc -c)
  expect_eq "ctr run's exit code (stderr: $(tail -c 400 "$TEST_ROOT/err"))" 0 "${PIPESTATUS[0]}" ||
    return
  expect_eq "bytes received" 10485760 "$n" || return
  pass
}

test_detached_log_file_delete() {
  begin "ctr run -d --log-uri file://: 10 MiB in the log, the exit code at task delete, delete cleans up"
  local id log out
  id=$(ctrd_id logged)
  log=$TEST_ROOT/$id.log
  crun -d --log-uri "file://$log" "$CTRD_IMAGE" "$id" \
    sh -c 'head -c 10485760 /dev/zero; exit 6' </dev/null >"$TEST_ROOT/err" 2>&1 ||
    { fail "ctr run -d failed: $(tail -c 400 "$TEST_ROOT/err")"; return; }
  wait_task_status "$id" STOPPED 1200 || { fail "task is $(ctrd_task_status "$id"), not STOPPED"; return; }
  expect_eq "log file size" 10485760 "$(stat -c %s "$log" 2>&1)" || return
  # ctr prints the exit code that the shim's Delete returns.
  out=$(ctrd_cli tasks delete "$id" 2>&1)
  expect_contains "ctr task delete" "exit code 6" "$out" || return
  [ -z "$(ctrd_task_status "$id")" ] || { fail "the task is still listed after delete"; return; }
  out=$(ctrd_cli containers delete "$id" 2>&1) || { fail "ctr container delete: $out"; return; }
  ctrd_cli containers ls -q | grep -qx "$id" && { fail "container still listed"; return; }
  pass
}
