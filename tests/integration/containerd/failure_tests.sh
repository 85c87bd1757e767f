# Bad runtime options and a missing configuration (issue 21), sourced by containerd_test.sh:
# ctr run fails with one line naming the cause and leaves nothing behind.

# expect_one_line_failure WHAT NEEDLE ID ARG...: `ctr run --rm ARG... IMAGE ID true` fails
# with a single line of output containing NEEDLE, and containerd keeps no container ID.
expect_one_line_failure() {
  local what=$1 needle=$2 id=$3 out rc
  shift 3
  out=$(crun --rm "$@" "$CTRD_IMAGE" "$id" true </dev/null 2>&1)
  rc=$?
  [ $rc -ne 0 ] || { fail "$what: ctr run succeeded"; return 1; }
  expect_eq "$what: lines of output [$out]" 1 "$(wc -l <<<"$out")" || return 1
  expect_contains "$what" "$needle" "$out" || return 1
  ctrd_cli containers ls -q | grep -qx "$id" && { fail "$what: container $id left"; return 1; }
  return 0
}

test_bad_runtime_config() {
  begin "a bad runtime option fails ctr run with a one-line error"
  local id
  id=$(ctrd_id badopt)
  if is_kata; then
    expect_one_line_failure "--runtime-config-path of a missing file" /nonexistent.toml "$id" \
      --runtime-config-path /nonexistent.toml || return
    printf '[hypervisor.qemu\npath = \n' >"$TEST_ROOT/broken.toml"
    expect_one_line_failure "--runtime-config-path of an invalid file" "$TEST_ROOT/broken.toml" \
      "$id" --runtime-config-path "$TEST_ROOT/broken.toml" || return
  else
    # runc's shim has no configuration file: its own bad option is a missing runc binary.
    expect_one_line_failure "--runc-binary of a missing file" /nonexistent-runc "$id" \
      --runc-binary /nonexistent-runc || return
  fi
  pass
}

test_missing_configuration() {
  begin "containerd with KATA_CONF_FILE of a missing file: ctr run fails with a one-line error"
  local id ok=true out
  id=$(ctrd_id noconf)
  # The same root and state: the image stays.
  stop_containerd_daemon
  start_containerd KATA_CONF_FILE=/nonexistent-kata.toml || { fail "containerd did not restart"; return; }
  if is_kata; then
    expect_one_line_failure "KATA_CONF_FILE=/nonexistent-kata.toml" /nonexistent-kata.toml "$id" ||
      ok=false
  else
    # runc's shim ignores KATA_CONF_FILE: the restarted daemon runs the image.
    out=$(crun --rm "$CTRD_IMAGE" "$id" echo restarted </dev/null 2>&1)
    expect_eq "ctr run after the restart" restarted "$out" || ok=false
  fi
  stop_containerd_daemon
  start_containerd || { fail "containerd did not restart"; return; }
  $ok && pass
}
