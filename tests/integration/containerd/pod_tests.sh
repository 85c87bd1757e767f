# Two containers in one pod through CRI's annotations (issue 21), sourced by containerd_test.sh:
# one shim (containerd 1.6 groups a pod's containers by io.kubernetes.cri.sandbox-id, as runc's
# shim does too) and, with Kata, one VM.

test_pod_two_containers_one_vm() {
  begin "a sandbox and a container with CRI's annotations share one shim and one VM"
  local sid cid out
  sid=$(ctrd_id pod)
  cid=$(ctrd_id podc)
  out=$(crun -d --annotation io.kubernetes.cri.container-type=sandbox \
    --annotation "io.kubernetes.cri.sandbox-id=$sid" "$CTRD_IMAGE" "$sid" \
    sh -c 'while :; do sleep 1; done' </dev/null 2>&1) || { fail "sandbox: $out"; return; }
  wait_task_status "$sid" RUNNING 1200 || { fail "sandbox is $(ctrd_task_status "$sid")"; return; }
  out=$(crun -d --annotation io.kubernetes.cri.container-type=container \
    --annotation "io.kubernetes.cri.sandbox-id=$sid" "$CTRD_IMAGE" "$cid" \
    sh -c 'trap "exit 42" TERM; while :; do sleep 1; done' </dev/null 2>&1) ||
    { fail "container: $out"; return; }
  wait_task_status "$cid" RUNNING 600 || { fail "container is $(ctrd_task_status "$cid")"; return; }
  expect_eq "shim processes of the daemon" 1 "$(ctrd_shim_pids | wc -l)" || return
  [ -n "$(ctrd_shim_pid "$sid")" ] || { fail "the shim is not the sandbox's ($sid)"; return; }
  if is_kata; then
    expect_eq "QEMU processes of the pod" 1 "$(pgrep -fc "qemu-system.*$CTRD_NS-pod")" || return
    expect_eq "QEMU processes naming the container" 0 "$(vmm_count "$cid")" || return
  fi
  # SIGTERM (ctr's default) reaches the container's trap; its exit code comes back at delete.
  out=$(ctrd_cli tasks kill "$cid" 2>&1) || { fail "kill: $out"; return; }
  wait_task_status "$cid" STOPPED 300 || { fail "container is $(ctrd_task_status "$cid")"; return; }
  out=$(ctrd_cli tasks delete "$cid" 2>&1)
  expect_contains "ctr task delete of the container" "exit code 42" "$out" || return
  out=$(ctrd_cli containers delete "$cid" 2>&1) || { fail "container delete: $out"; return; }
  expect_eq "the sandbox after its container went" RUNNING "$(ctrd_task_status "$sid")" || return
  if is_kata; then
    expect_eq "QEMU processes of the pod" 1 "$(vmm_count "$sid")" || return
  fi
  out=$(ctrd_cli tasks kill -s KILL "$sid" 2>&1) || { fail "kill sandbox: $out"; return; }
  wait_task_status "$sid" STOPPED 300 || { fail "sandbox is $(ctrd_task_status "$sid")"; return; }
  out=$(ctrd_cli tasks delete "$sid" 2>&1)
  expect_contains "ctr task delete of the sandbox" "exit code 137" "$out" || return
  out=$(ctrd_cli containers delete "$sid" 2>&1) || { fail "sandbox delete: $out"; return; }
  pass
}
