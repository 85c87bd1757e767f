# Kata 1.x's known Docker failures that must not happen here (issue 20), sourced by
# docker_test.sh: output lost at exit, leftovers of failed runs, a dead QEMU, proxy or shim,
# a volume's host directory deleted under a running container.

# expect_no_cgroup_left: the suite's cgroup parent has no container cgroups left.
expect_no_cgroup_left() {
  local left
  left=$(find /sys/fs/cgroup -mindepth 1 -path "*/$TAG/*" -type d 2>/dev/null | head -n 3)
  [ -z "$left" ] && return 0
  fail "cgroups left: $left"
  return 1
}

test_stdout_at_exit() {
  begin "10 MiB written to stdout just before exit all arrive: docker run | wc -c"
  local n c=kdf-$$-out
  n=$(kdrun --network none "$IMAGE" sh -c 'head -c 10485760 /dev/zero | tr "\0" x' | wc -c)
  expect_eq "bytes" 10485760 "$n" || return
  begin "... and in docker logs of a -d container"
  docker_cli run -d --runtime kata-runtime --name "$c" --network none "$IMAGE" \
    sh -c 'head -c 10485760 /dev/zero | tr "\0" x' >/dev/null || { fail "docker run -d failed"; return; }
  expect_eq "exit code" 0 "$(timeout 120 /usr/bin/docker -H "unix://$DOCKER_DIR/docker.sock" wait "$c")" || return
  n=$(docker_cli logs "$c" 2>/dev/null | wc -c)
  expect_eq "bytes in docker logs" 10485760 "$n" || return
  docker_cli rm "$c" >/dev/null
  expect_docker_clean && pass
}

test_bad_entrypoint() {
  begin "a bad entrypoint: Docker's usual error and exit code, as with runc"
  local runc_out runc_rc out rc i left=0
  runc_out=$(docker_cli run --runtime runc --rm --network none "$IMAGE" /nonexistent 2>&1)
  runc_rc=$?
  out=$(kdrun --network none "$IMAGE" /nonexistent 2>&1)
  rc=$?
  echo "     runc ($runc_rc): $runc_out"
  echo "     kata ($rc): $out"
  expect_eq "exit code (runc's)" "$runc_rc" "$rc" || return
  expect_eq "exit code" 127 "$rc" || return
  expect_contains "error" "/nonexistent" "$out" || return
  expect_contains "error" "no such file or directory" "$out" || return
  [ "$(wc -l <<<"$out")" -eq 1 ] || { fail "the error is not one line"; return; }
  pass
  begin "20 failed runs in a row leave nothing behind"
  for i in $(seq 20); do
    kdrun --network none "$IMAGE" /nonexistent >/dev/null 2>&1
    [ $? -eq 127 ] || left=$((left + 1))
  done
  expect_eq "runs not ending with 127" 0 "$left" || return
  expect_eq "containers Docker still has" "" "$(docker_cli ps -aq)" || return
  expect_docker_clean && expect_no_cgroup_left && pass
}

# kill_under_container WHAT PATTERN: a running container whose WHAT (the process matched by
# PATTERN, where @ID@ stands for the container's id) is killed with SIGKILL; Docker must see
# the container exit within seconds and remove it without leaving anything.
kill_under_container() {
  local what=$1 pattern=$2 c=kdf-$$-$1 id victim t0 t1 code
  begin "kill -9 of $what under a running container: docker wait returns, rm leaves nothing"
  docker_cli run -d --runtime kata-runtime --name "$c" --network none "$IMAGE" sleep 1000 \
    >/dev/null || { fail "docker run -d failed"; return; }
  id=$(docker_cli inspect -f '{{.Id}}' "$c")
  victim=$(pgrep -f "${pattern//@ID@/$id}" | head -n 1)
  [ -n "$victim" ] || { fail "no $what found for $id"; docker_cli rm -f "$c" >/dev/null; return; }
  t0=$(date +%s.%N)
  kill -9 "$victim"
  code=$(timeout 60 /usr/bin/docker -H "unix://$DOCKER_DIR/docker.sock" wait "$c" 2>&1)
  t1=$(date +%s.%N)
  echo "     ($what killed: docker wait returned [$code] after $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s)"
  [ -n "$code" ] && [ "$code" != 0 ] || { fail "docker wait gave [$code]"; docker_cli rm -f "$c" >/dev/null; return; }
  awk -v a="$t0" -v b="$t1" 'BEGIN { exit !(b - a < 20) }' || { fail "docker wait took too long"; return; }
  expect_eq "State.Running" false "$(docker_cli inspect -f '{{.State.Running}}' "$c")" || return
  out=$(docker_cli rm "$c" 2>&1) || { fail "docker rm: $out"; return; }
  expect_docker_clean && expect_no_cgroup_left && pass
}

test_killed_qemu() { kill_under_container qemu "qemu.*sandbox-@ID@"; }
test_killed_proxy() { kill_under_container proxy "kata-proxy.*-sandbox @ID@"; }
test_killed_shim() { kill_under_container shim "kata-shim .*-container @ID@"; }

test_volume_dir_deleted() {
  local c=kdf-$$-vol dir=$TEST_ROOT/kdf-vol out
  begin "a volume's host directory deleted while the container runs: Docker stays usable"
  mkdir -p "$dir" && echo hello >"$dir/f"
  docker_cli run -d --runtime kata-runtime --name "$c" --network none -v "$dir:/data" "$IMAGE" \
    sleep 1000 >/dev/null || { fail "docker run -d failed"; return; }
  expect_eq "volume content" hello "$(docker_cli exec "$c" cat /data/f 2>&1)" || return
  rm -rf "$dir"
  docker_cli exec "$c" ls /data >/dev/null 2>&1  # may fail; must not hang or break the rest
  out=$(timeout 30 /usr/bin/docker -H "unix://$DOCKER_DIR/docker.sock" exec "$c" echo alive 2>&1)
  expect_eq "exec after the deletion" alive "$out" || return
  docker_cli ps --format '{{.Names}}' | grep -qx "$c" || { fail "docker ps lost the container"; return; }
  out=$(timeout 60 /usr/bin/docker -H "unix://$DOCKER_DIR/docker.sock" rm -f "$c" 2>&1) ||
    { fail "docker rm -f: $out"; return; }
  expect_docker_clean && expect_no_cgroup_left && pass
}
