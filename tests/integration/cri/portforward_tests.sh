# CRI port-forward (issue 22), sourced by cri_test.sh for each handler: containerd dials
# 127.0.0.1:PORT in the pod's network namespace on the host; the runtime's forwarder carries it
# to the guest (docs/architecture.md, "Port-forward (CRI)").
test_port_forward() {
  begin "crictl port-forward reaches a server in the guest [$HANDLER]"
  local pod c out fwd port
  pod=$(cri_runp pf 2>&1) || { fail "runp: $pod"; return; }
  wait_pod_state "$pod" SANDBOX_READY || { fail "pod not ready"; cri_rmp "$pod"; return; }
  c=$(cri_run pf "$pod" web \
    '["sh", "-c", "mkdir -p /www && echo forwarded-page > /www/index.html && exec httpd -f -p 127.0.0.1:80 -h /www"]') ||
    { fail "create/start web: $c"; cri_rmp "$pod"; return; }
  wait_ctr_state "$c" CONTAINER_RUNNING || { fail "container not running"; cri_rmp "$pod"; return; }
  # A local port per handler and run, so that two runs on the machine cannot collide.
  port=$((20000 + ($$ % 20000) + ${#HANDLER}))
  cri port-forward "$pod" "$port:80" >"$CRI_DIR/pf.out" 2>&1 &
  fwd=$!
  for _ in $(seq 100); do
    grep -q "Forwarding from" "$CRI_DIR/pf.out" && break
    sleep 0.1
  done
  out=$(timeout 20 busybox wget -q -O - "http://127.0.0.1:$port/" 2>&1)
  kill "$fwd" 2>/dev/null
  wait "$fwd" 2>/dev/null
  # The server listens on the guest's 127.0.0.1 only: the pod IP cannot have answered.
  expect_eq "the guest's page through port-forward" forwarded-page "$out" ||
    { echo "     crictl port-forward said: $(tr '\n' '|' <"$CRI_DIR/pf.out" | head -c 400)"
      cri_rmp "$pod"; return; }
  cri_rmp "$pod" || return
  pass
}
