#!/bin/bash
# kata-runtime's diagnostics and command-line handling, no VM needed: version, spec, kata-env
# (TOML and JSON), kata-check verdicts, usage errors.
# Usage: cli_test.sh <cmake build dir>
KATA_BUILD=$(cd "$1" && pwd)
. "$(dirname "$0")/../lib.sh"
trap 'rm -rf "$TEST_ROOT"' EXIT
mkdir -p "$TEST_ROOT"

test_version() {
  begin "version names the runtime, commit and OCI version"
  local out
  out=$(rt version) || { fail "exit status"; return; }
  expect_contains "version" "kata-runtime  : 1.12.0" "$out" || return
  expect_contains "oci" "OCI specs: 1.0.2" "$out" || return
  out=$(rt --version) || { fail "--version exit status"; return; }
  expect_contains "--version" "kata-runtime  : " "$out" || return
  pass
}

test_spec() {
  begin "spec writes a runc-like config.json once"
  local dir=$TEST_ROOT/spec out
  mkdir -p "$dir"
  rt spec --bundle "$dir" || { fail "spec failed"; return; }
  out=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["process"]["args"], d["process"]["terminal"], d["root"]["path"], sorted(n["type"] for n in d["linux"]["namespaces"]))' "$dir/config.json") || { fail "config.json is not JSON"; return; }
  expect_eq "default spec" "['sh'] True rootfs ['ipc', 'mount', 'network', 'pid', 'uts']" "$out" || return
  out=$(rt spec --bundle "$dir" 2>&1) && { fail "second spec overwrote config.json"; return; }
  expect_contains "exists" "exists" "$out" || return
  pass
}

test_kata_env() {
  begin "kata-env reports real values as TOML and JSON"
  local out
  out=$(rt kata-env) || { fail "kata-env exit status"; return; }
  for section in '[Meta]' '[Runtime]' '[Runtime.Version.Version]' '[Hypervisor]' '[Kernel]' \
                 '[Initrd]' '[Proxy]' '[Shim]' '[ShimV2]' '[Agent]' '[Host]' '[Host.Distro]' '[Host.CPU]' \
                 '[Netmon]'; do
    expect_contains "section $section" "$section" "$out" || return
  done
  expect_contains "qemu version" "QEMU emulator version" "$out" || return
  expect_contains "host kernel" "Kernel = \"$(uname -r)\"" "$out" || return
  expect_contains "config path" "Path = \"$KATA_CONFIG\"" "$out" || return
  expect_contains "shim v2 path" "Path = \"$KATA_BUILD/bin/containerd-shim-kata-v2\"" "$out" || return
  expect_contains "shim v2 version" "containerd-shim-kata-v2 version" "$out" || return
  out=$(rt kata-env --json | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["Hypervisor"]["Accelerator"], d["Hypervisor"]["ACPI"], d["Host"]["Distro"]["Name"] != "", d["Proxy"]["Path"].endswith("kata-proxy"))') \
    || { fail "kata-env --json is not JSON"; return; }
  local accel=tcg
  if grep -qwE 'vmx|svm' /proc/cpuinfo && [ -w /dev/kvm ]; then accel=kvm; fi
  expect_eq "json fields" "$accel False True True" "$out" || return
  pass
}

test_kata_check() {
  begin "kata-check gives a verdict and fails when an asset is missing"
  local out rc bad=$TEST_ROOT/bad.toml
  out=$(rt kata-check); rc=$?
  if [ -e "$KATA_ASSETS/vmlinux.container" ]; then
    expect_eq "verdict with assets ($out)" 0 "$rc" || return
    expect_contains "capable" "System is capable of running Kata Containers" "$out" || return
  else
    echo "note: no guest assets in $KATA_ASSETS (make assets): positive verdict not checked"
  fi
  expect_contains "accelerator line" "accelerator" "$out" || return
  sed "s#^kernel = .*#kernel = \"$TEST_ROOT/no-such-kernel\"#" "$KATA_CONFIG" > "$bad"
  out=$("$RUNTIME" --kata-config "$bad" kata-check); rc=$?
  expect_eq "exit status without a kernel" 1 "$rc" || return
  expect_contains "fail line" "[FAIL] guest kernel" "$out" || return
  expect_contains "verdict" "NOT capable" "$out" || return
  pass
}

test_usage_errors() {
  begin "unknown commands, flags and bad configuration fail with one clear line"
  local out rc bad=$TEST_ROOT/typo.toml
  out=$(rt frobnicate 2>&1); rc=$?
  expect_eq "unknown command status" 1 "$rc" || return
  expect_contains "unknown command" 'no such command "frobnicate"' "$out" || return
  out=$(rt state --frob x 2>&1); rc=$?
  expect_eq "unknown flag status" 1 "$rc" || return
  expect_contains "unknown flag" "flag provided but not defined: -frob" "$out" || return
  out=$("$RUNTIME" --log-format yaml version 2>&1); rc=$?
  expect_eq "bad log format status" 1 "$rc" || return
  sed 's/^default_vcpus = .*/default_vcpus = "two"/' "$KATA_CONFIG" > "$bad"
  out=$("$RUNTIME" --kata-config "$bad" kata-env 2>&1); rc=$?
  expect_eq "bad config status" 1 "$rc" || return
  expect_contains "bad config names the key" "hypervisor.qemu.default_vcpus" "$out" || return
  out=$(KATA_CONF_FILE=$bad "$RUNTIME" kata-env 2>&1); rc=$?
  expect_eq "KATA_CONF_FILE honoured" 1 "$rc" || return
  # The runtime attaches PCI devices: a machine type without PCI is refused before any VM.
  sed 's/^machine_type = .*/machine_type = "microvm"/' "$KATA_CONFIG" > "$bad"
  make_bundle "$TEST_ROOT/mt" false '{}' true
  out=$("$RUNTIME" --kata-config "$bad" --root "$TEST_ROOT/state" run --bundle "$TEST_ROOT/mt" \
    mt1 2>&1); rc=$?
  expect_eq "machine_type microvm status" 1 "$rc" || return
  expect_contains "machine_type microvm" 'machine_type: expected one of "pc", "q35"' "$out" || return
  expect_no_residue mt1 || return
  out=$("$RUNTIME" --kata-show-default-config-paths)
  expect_eq "default paths" "/etc/kata-containers/configuration.toml
/usr/share/defaults/kata-containers/configuration.toml" "$out" || return
  # Host fds cannot enter the VM: refused up front, before any state is written.
  out=$(rt exec --preserve-fds 2 nosuch true 2>&1); rc=$?
  expect_eq "exec --preserve-fds 2 status" 1 "$rc" || return
  expect_contains "exec --preserve-fds 2" "cannot be passed into the VM" "$out" || return
  out=$(rt run --preserve-fds x --bundle "$TEST_ROOT" c1 2>&1); rc=$?
  expect_eq "run --preserve-fds x status" 1 "$rc" || return
  expect_contains "run --preserve-fds x" '"x" is not a number' "$out" || return
  expect_eq "nothing left under --root" "" "$(ls -A "$TEST_ROOT/state" 2>/dev/null)" || return
  pass
}

test_number_flags() {
  begin "numbers and durations on the command line are parsed strictly, with one clear line"
  local out rc
  # A 20-digit interval once ended the runtime with an uncaught exception.
  out=$(rt events --interval 99999999999999999999s nosuch 2>&1); rc=$?
  expect_eq "events --interval 20 digits status" 1 "$rc" || return
  expect_eq "events --interval 20 digits" \
    'kata-runtime: --interval: "99999999999999999999s" is out of range' "$out" || return
  for bad in 5 5x -1s 1e3s ''; do
    out=$(rt events --interval "$bad" nosuch 2>&1); rc=$?
    expect_eq "events --interval '$bad' status" 1 "$rc" || return
    expect_contains "events --interval '$bad'" "is not a duration" "$out" || return
  done
  out=$(rt events --interval 0s nosuch 2>&1); rc=$?
  expect_contains "events --interval 0s" "must be above zero" "$out" || return
  out=$(rt update --cpu-share 99999999999999999999 nosuch 2>&1); rc=$?
  expect_eq "update --cpu-share status" 1 "$rc" || return
  expect_contains "update --cpu-share" '--cpu-share: "99999999999999999999" is out of range' "$out" || return
  for bad in 1e3 nan 0x10 -5 1.5x; do
    out=$(rt update --memory "$bad" nosuch 2>&1); rc=$?
    expect_eq "update --memory $bad status" 1 "$rc" || return
    expect_contains "update --memory $bad" "--memory: \"$bad\"" "$out" || return
  done
  # Control bytes in an error message are shown escaped, not sent to the terminal (the
  # messages that matter quote the guest; a path is the one a test can give).
  out=$("$RUNTIME" --kata-config "$TEST_ROOT/$(printf 'x\033]0;pwned\007')" kata-env 2>&1)
  case $out in *$'\033'*|*$'\007'*) fail "control bytes reached the terminal: $out"; return ;; esac
  expect_contains "escaped" '\x1b]0;pwned\x07' "$out" || return
  pass
}

test_version; test_spec; test_kata_env; test_kata_check; test_usage_errors; test_number_flags
finish
