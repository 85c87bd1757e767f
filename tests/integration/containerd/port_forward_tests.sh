# Port-forward as containerd's CRI plugin does it (docs/architecture.md "Port-forward (CRI)"),
# sourced by containerd_test.sh: the task runs in a network namespace of the test's own
# (`--with-ns network:`), its server listens on 127.0.0.1 only, and the host dials 127.0.0.1
# inside that namespace. With runc the server is there itself; with Kata it is in the guest and
# the shim v2's relay forwards.

test_port_forward_into_the_sandbox() {
  begin "127.0.0.1:<port> in the task's network namespace on the host reaches the task's server on its 127.0.0.1"
  local id ns=pf-ctr-$$ out i
  id=$(ctrd_id pf)
  ip netns add "$ns" || { fail "ip netns add"; return; }
  ip -n "$ns" link set lo up || { fail "lo up"; ip netns del "$ns"; return; }
  out=$(crun -d --with-ns "network:/var/run/netns/$ns" "$CTRD_IMAGE" "$id" \
    sh -c 'echo pf-page >/tmp/index.html; exec httpd -f -p 127.0.0.1:8080 -h /tmp' \
    </dev/null 2>&1) || { fail "run: $out"; ip netns del "$ns"; return; }
  wait_task_status "$id" RUNNING 1200 || { fail "task is $(ctrd_task_status "$id")"; ip netns del "$ns"; return; }
  for i in $(seq 60); do
    out=$(nsenter --net="/var/run/netns/$ns" timeout 20 /bin/busybox wget -q -O - \
      http://127.0.0.1:8080/index.html 2>/dev/null) && break
    sleep 0.5
  done
  expect_eq "the task's page through 127.0.0.1:8080 in its namespace" pf-page "$out" ||
    { ip netns del "$ns"; return; }
  if is_kata; then
    expect_contains "the redirect in the task's namespace" REDIRECT \
      "$(ip netns exec "$ns" iptables -t nat -S OUTPUT)" || { ip netns del "$ns"; return; }
  fi
  out=$(ctrd_cli tasks kill -s KILL "$id" 2>&1) || { fail "kill: $out"; ip netns del "$ns"; return; }
  wait_task_status "$id" STOPPED 300 || { fail "task is $(ctrd_task_status "$id")"; ip netns del "$ns"; return; }
  ctrd_cli tasks delete "$id" >/dev/null 2>&1
  ctrd_cli containers delete "$id" >/dev/null 2>&1
  # The shim (and with it the relay) is gone once the task is deleted.
  for i in $(seq 100); do
    out=$(ip netns exec "$ns" iptables -t nat -S OUTPUT)
    case $out in *REDIRECT*) sleep 0.1 ;; *) break ;; esac
  done
  ip netns del "$ns"
  case $out in *REDIRECT*) fail "the redirect stays after delete: $out"; return ;; esac
  pass
}
