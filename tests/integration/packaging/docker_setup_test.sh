#!/bin/bash
# packaging/kata-docker-setup: registers kata-runtime in a daemon.json, keeps every other key,
# sets and unsets the default runtime, refuses what it cannot merge and then changes nothing.
# Usage: docker_setup_test.sh <source dir>
SETUP="$1/packaging/kata-docker-setup"
DIR=$(mktemp -d)
trap 'rm -rf "$DIR"' EXIT
PASSED=0 FAILED=0
check() {  # check WHAT PYTHON-EXPRESSION-ON-c (the parsed file)
  if python3 -c "import json,sys; c=json.load(open('$DIR/daemon.json')); sys.exit(0 if ($2) else 1)"; then
    PASSED=$((PASSED + 1)); echo "ok   - $1"
  else
    FAILED=$((FAILED + 1)); echo "FAIL - $1: $(cat "$DIR/daemon.json")"
  fi
}
refused() {  # refused WHAT ARGS...: non-zero exit, one line on stderr, the file unchanged
  local what=$1 before after err rc
  shift
  before=$(cat "$DIR/daemon.json" 2>/dev/null)
  err=$("$SETUP" --config "$DIR/daemon.json" "$@" 2>&1 >/dev/null); rc=$?
  after=$(cat "$DIR/daemon.json" 2>/dev/null)
  if [ $rc -ne 0 ] && [ "$before" = "$after" ] && [ "$(printf '%s\n' "$err" | wc -l)" -eq 1 ]; then
    PASSED=$((PASSED + 1)); echo "ok   - $what refused: $err"
  else
    FAILED=$((FAILED + 1)); echo "FAIL - $what: rc=$rc err=[$err]"
  fi
}
run() { "$SETUP" --config "$DIR/daemon.json" "$@" >/dev/null; }

run
check "a new daemon.json has the runtime" \
  "c == {'runtimes': {'kata-runtime': {'path': '/usr/bin/kata-runtime'}}}"
printf '{"log-level": "debug", "runtimes": {"other": {"path": "/x"}}, "storage-driver": "overlay2"}' \
  > "$DIR/daemon.json"
chmod 600 "$DIR/daemon.json"
run --path /opt/kata/bin/kata-runtime
check "other keys and runtimes are kept" \
  "c['log-level'] == 'debug' and c['storage-driver'] == 'overlay2' and c['runtimes']['other'] == {'path': '/x'} and c['runtimes']['kata-runtime'] == {'path': '/opt/kata/bin/kata-runtime'}"
[ "$(stat -c %a "$DIR/daemon.json")" = 600 ] && { PASSED=$((PASSED + 1)); echo "ok   - mode kept"; } ||
  { FAILED=$((FAILED + 1)); echo "FAIL - mode not kept: $(stat -c %a "$DIR/daemon.json")"; }
run --path /opt/kata/bin/kata-runtime --default
run --path /opt/kata/bin/kata-runtime --default
check "--default, twice" \
  "c['default-runtime'] == 'kata-runtime' and list(c['runtimes']) == ['other', 'kata-runtime']"
run --remove
check "--remove unsets the default and keeps the rest" \
  "c == {'log-level': 'debug', 'runtimes': {'other': {'path': '/x'}}, 'storage-driver': 'overlay2'}"
run --name kata --remove
printf '{"runtimes": {"kata-runtime": {"path": "/y", "runtimeArgs": ["--debug"]}}}' > "$DIR/daemon.json"
run
check "runtimeArgs of an existing entry are kept" \
  "c['runtimes']['kata-runtime'] == {'path': '/usr/bin/kata-runtime', 'runtimeArgs': ['--debug']}"
run --remove
check "removing the last runtime removes 'runtimes'" "c == {}"
printf '{"runtimes": ' > "$DIR/daemon.json"
refused "invalid JSON"
printf '{"runtimes": []}' > "$DIR/daemon.json"
refused "runtimes not an object"
printf '[]' > "$DIR/daemon.json"
refused "not an object"
printf '{}' > "$DIR/daemon.json"
refused "a reserved name" --name runc
refused "a relative path" --path kata-runtime
refused "--default with --remove" --default --remove
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
