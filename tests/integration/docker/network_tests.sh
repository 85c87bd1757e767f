# Docker's networking with kata-runtime (sourced by docker_test.sh): the suite's dockerd runs in
# its own network namespace ($DOCKER_NETNS, "the host" here) with its default bridge, iptables
# rules and docker-proxy. Each test boots as few VMs as it can: one container checks several
# things.

NET_PORT=18080

# kd_web NAME ARG...: a detached kata container serving /www/index.html ("hello from NAME") and
# /www/big (4 MiB) with busybox httpd on port 80.
kd_web() {
  local name=$1
  shift
  docker_cli run -d --runtime kata-runtime --name "$name" "$@" "$IMAGE" sh -c \
    "mkdir -p /www && echo 'hello from $name' > /www/index.html &&
     head -c 4194304 /dev/urandom > /www/big && md5sum /www/big | cut -d' ' -f1 > /www/big.md5 &&
     exec httpd -f -p 80 -h /www" >/dev/null
}

# kd_sleeper NAME ARG...: a detached kata container that waits.
kd_sleeper() {
  local name=$1
  shift
  docker_cli run -d --runtime kata-runtime --name "$name" "$@" "$IMAGE" sleep 100000 >/dev/null
}

# kd_exec NAME CMD: runs CMD with sh -c in the container.
kd_exec() { docker_cli exec "$1" sh -c "$2" 2>&1; }

kd_ip() { docker_cli inspect -f "{{(index .NetworkSettings.Networks \"$2\").IPAddress}}" "$1"; }

# Waits until URL answers from inside container NAME (httpd starts after the VM boots).
wait_http_from() {
  local name=$1 url=$2 tries=100
  while [ $tries -gt 0 ]; do
    docker_cli exec "$name" timeout 5 wget -q -O /dev/null "$url" 2>/dev/null && return 0
    sleep 0.3
    tries=$((tries - 1))
  done
  return 1
}

# Nothing of the containers' networking is left: no sandbox netns, no tap anywhere, no veth in
# the daemon's namespace (the bridge stays).
expect_network_clean() {
  local left
  left=$( (ip -o link show | grep -oE 'tap[0-9]+_kata'
    in_docker_netns ip -o link show | grep -oE '(tap[0-9]+_kata|veth[0-9a-f]+)') | sort -u | tr '\n' ' ')
  [ -z "$left" ] || { fail "interfaces left behind: $left"; return 1; }
  expect_docker_clean
}

# A failed test leaves nothing to the next one: its containers and networks go.
net_leftovers_rm() {
  docker_cli rm -f "$TAG-web" "$TAG-cli" "$TAG-owner" "$TAG-web2" "$TAG-multi" >/dev/null 2>&1
  docker_cli network rm "$TAG-neta" "$TAG-netb" >/dev/null 2>&1
  return 0
}

test_net_default_bridge() {
  begin "default bridge: the guest has the container's IP, reaches the gateway, another container (4 MiB over TCP) and -p from the host and a container; --dns/--add-host/--hostname"
  net_default_bridge
  net_leftovers_rm
}

net_default_bridge() {
  local web=$TAG-web cli=$TAG-cli out ip gw
  kd_web "$web" -p "$NET_PORT:80" || { fail "docker run $web"; return; }
  kd_sleeper "$cli" --dns 10.1.2.3 --add-host "kdk-extra:10.9.8.7" --hostname kdk-guest ||
    { fail "docker run $cli"; return; }
  ip=$(kd_ip "$web" bridge)
  gw=$(docker_cli inspect -f '{{.NetworkSettings.Gateway}}' "$web")
  out=$(kd_exec "$web" 'ip -4 -o addr show eth0 | sed "s/.* inet \([0-9.]*\).*/\1/"; ip route | grep ^default')
  expect_eq "guest address and default route" "$ip"$'\n'"default via $gw dev eth0 " "$out" || return
  # The guest's own traffic leaves through the tap and the veth (the first bug: it did not).
  out=$(kd_exec "$cli" "ping -c 2 -W 5 $gw") || { fail "the guest pings the gateway: $out"; return; }
  wait_http_from "$cli" "http://$ip/" || { fail "container to container: http://$ip/ unreachable"; return; }
  out=$(kd_exec "$cli" "wget -q -O - http://$ip/") || { fail "wget: $out"; return; }
  expect_eq "page from another container" "hello from $web" "$out" || return
  # A large transfer: checksum and segmentation offloads bite here.
  out=$(kd_exec "$cli" "wget -q -O /tmp/big http://$ip/big && wget -q -O - http://$ip/big.md5 && md5sum /tmp/big | cut -d' ' -f1")
  expect_eq "4 MiB over TCP, same md5 both ends" "$(echo "$out" | head -n 1)" "$(echo "$out" | sed -n 2p)" || return
  [ "$(echo "$out" | wc -l)" -eq 2 ] || { fail "4 MiB transfer: $out"; return; }
  # -p HOST:CONTAINER from "the host" (the daemon's namespace: docker-proxy, DNAT) and from a
  # container (through the gateway's address, as runc containers do).
  out=$(in_docker_netns timeout 20 busybox wget -q -O - "http://127.0.0.1:$NET_PORT/" 2>&1)
  expect_eq "-p from the host (127.0.0.1:$NET_PORT)" "hello from $web" "$out" || return
  out=$(in_docker_netns timeout 20 busybox wget -q -O - "http://$gw:$NET_PORT/" 2>&1)
  expect_eq "-p from the host ($gw:$NET_PORT)" "hello from $web" "$out" || return
  out=$(kd_exec "$cli" "timeout 20 wget -q -O - http://$gw:$NET_PORT/")
  expect_eq "-p from another container" "hello from $web" "$out" || return
  # --dns, --add-host, --hostname.
  out=$(kd_exec "$cli" 'grep ^nameserver /etc/resolv.conf; grep kdk-extra /etc/hosts | tr -s " \t" " "; hostname; cat /proc/sys/kernel/hostname')
  expect_eq "resolv.conf, hosts and hostname inside" \
    "nameserver 10.1.2.3"$'\n'"10.9.8.7 kdk-extra"$'\n'"kdk-guest"$'\n'"kdk-guest" "$out" || return
  docker_cli rm -f "$web" "$cli" >/dev/null
  expect_network_clean || return
  pass
}

test_net_none() {
  begin "--network none: loopback only"
  local out
  out=$(kdrun --network none "$IMAGE" sh -c 'ls /sys/class/net; ip -4 -o addr show lo | grep -c 127.0.0.1' 2>&1)
  expect_eq "interfaces" "lo"$'\n'"1" "$out" || return
  expect_network_clean && pass
}

test_net_refused_modes() {
  begin "--network host, --pid host, --ipc host, --network container:<kata container>, the daemon's own namespace: one-line errors at create, nothing left"
  net_refused_modes
  net_leftovers_rm
}

net_refused_modes() {
  local out rc opt web=$TAG-owner
  for opt in network pid ipc; do
    # Docker's client may add its own "error waiting for container: context canceled" line.
    out=$(kdrun "--$opt" host "$IMAGE" true 2>&1)
    rc=$?
    out=$(echo "$out" | grep -v 'error waiting for container')
    [ $rc -ne 0 ] || { fail "--$opt host succeeded"; return; }
    # Docker 20.10 names its own namespace for --network host (the runtime's: "the host's"),
    # and leaves the pid and ipc ones out.
    expect_contains "--$opt host error" "cannot be" "$out" || return
    expect_contains "--$opt host error" "a VM (docker --$opt host)" "$out" || return
    [ "$(echo "$out" | wc -l)" -eq 1 ] || { fail "--$opt host: more than one line: $out"; return; }
  done
  # kata-runtime runs in the daemon's namespace here: that one, its own, is "the host's" and
  # refused before anything is wired (init's is, in the runtime suite).
  local ns
  make_bundle "$TEST_ROOT/hostns" false '{}' true
  for ns in "/run/netns/$DOCKER_NETNS"; do
    python3 - "$TEST_ROOT/hostns/config.json" "$ns" <<'PY'
import json, sys
spec = json.load(open(sys.argv[1]))
for n in spec["linux"]["namespaces"]:
    if n["type"] == "network":
        n["path"] = sys.argv[2]
json.dump(spec, open(sys.argv[1], "w"))
PY
    out=$(in_docker_netns "$RUNTIME" --kata-config "$KATA_CONFIG" --root "$TEST_ROOT/state" \
      run --bundle "$TEST_ROOT/hostns" "$TAG-hostns" </dev/null 2>&1)
    rc=$?
    [ $rc -ne 0 ] || { fail "a bundle in $ns ran"; return; }
    expect_contains "$ns refused" "is the host's" "$out" || return
  done
  expect_network_clean || return
  # Another kata container's namespace already has its taps: its VM owns the interfaces.
  kd_sleeper "$web" || { fail "docker run $web"; return; }
  out=$(kdrun --network "container:$web" "$IMAGE" true 2>&1)
  rc=$?
  out=$(echo "$out" | grep -v 'error waiting for container')
  docker_cli rm -f "$web" >/dev/null
  [ $rc -ne 0 ] || { fail "--network container:$web succeeded"; return; }
  expect_contains "--network container: error" "already belongs to another sandbox's VM" "$out" || return
  [ "$(echo "$out" | wc -l)" -eq 1 ] || { fail "--network container: more than one line: $out"; return; }
  expect_network_clean && pass
}

test_net_user_defined_dns() {
  begin "user-defined networks: two interfaces in one guest, names resolved by Docker's DNS through the relay (nslookup, wget by name, --alias)"
  net_user_defined_dns
  net_leftovers_rm
}

net_user_defined_dns() {
  local a=$TAG-neta b=$TAG-netb web=$TAG-web2 multi=$TAG-multi out ipa ipb webip
  docker_cli network create "$a" >/dev/null && docker_cli network create "$b" >/dev/null ||
    { fail "docker network create"; return; }
  kd_web "$web" --network "$a" || { fail "docker run $web"; return; }
  docker_cli network connect --alias kdk-alias "$b" "$web" ||
    { fail "docker network connect $b $web"; return; }
  docker_cli create --runtime kata-runtime --name "$multi" --network "$a" "$IMAGE" sleep 100000 >/dev/null &&
    docker_cli network connect "$b" "$multi" && docker_cli start "$multi" >/dev/null ||
    { fail "create, connect and start $multi"; return; }
  ipa=$(kd_ip "$multi" "$a")
  ipb=$(kd_ip "$multi" "$b")
  out=$(kd_exec "$multi" 'ip -4 -o addr show | grep -v " lo " | sed "s/.* inet \([0-9.]*\).*/\1/" | sort')
  expect_eq "both networks' addresses in the guest" "$(printf '%s\n%s\n' "$ipa" "$ipb" | sort)" "$out" || return
  expect_eq "resolv.conf" "nameserver 127.0.0.11" "$(kd_exec "$multi" 'grep ^nameserver /etc/resolv.conf')" || return
  webip=$(kd_ip "$web" "$a")
  out=$(kd_exec "$multi" "nslookup $web")
  expect_contains "nslookup $web" "Address: $webip" "$out" || return
  out=$(kd_exec "$multi" "nslookup kdk-alias")
  expect_contains "nslookup kdk-alias (an alias on the second network)" "Address: $(kd_ip "$web" "$b")" "$out" || return
  wait_http_from "$multi" "http://$web/" || { fail "http://$web/ unreachable by name"; return; }
  out=$(kd_exec "$multi" "wget -q -O - http://$web/")
  expect_eq "wget by name" "hello from $web" "$out" || return
  # And the other way round: both share two networks, Docker answers with either address.
  out=$(kd_exec "$web" "nslookup $multi")
  case $out in
    *"Address: $ipa"* | *"Address: $ipb"*) ;;
    *) fail "nslookup $multi from $web: $out"; return ;;
  esac
  out=$(kd_exec "$multi" "nslookup no-such-name-$TAG")
  case $out in *"$webip"* | "") fail "an unknown name resolved: $out"; return ;; esac
  docker_cli rm -f "$web" "$multi" >/dev/null
  docker_cli network rm "$a" "$b" >/dev/null || { fail "docker network rm"; return; }
  expect_network_clean && pass
}
