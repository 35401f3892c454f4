# Shared helpers of the integration tests (sourced). Every test gets a private folder
# $T; at exit every process whose command line mentions $T is killed, so a failing
# test cannot leave a server behind, and the test fails if one had to be killed
# after it declared success.
set -euo pipefail
: "${REBOUND:?set by ctest}" "${SRC:?set by ctest}"
T=$(mktemp -d /tmp/rebound-it-XXXXXX)
TEST_NAME=$(basename "$0" .sh)
# rebound's own temporary artifact folders (runs without --artifacts) land in $T too,
# so a test that expects a failure does not leave them behind in /tmp.
export TMPDIR="$T"

cleanup() {
  local code=$?
  pkill -KILL -f -- "$T" 2>/dev/null || true
  if [ $code -eq 0 ]; then rm -rf "$T"; else echo "$TEST_NAME: artifacts kept in $T" >&2; fi
  exit $code
}
trap cleanup EXIT

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# Wait (at most 5 s) until FILE has a first line -- a started server's port -- and put
# it in $port.
wait_port_line() {
  local i
  for ((i = 0; i < 250; i++)); do
    port=$(head -n1 "$1" 2>/dev/null || true)
    [ -n "$port" ] && return 0
    sleep 0.02
  done
  return 1
}

# A free loopback port outside the kernel's ephemeral range (as rebound's own
# `port = auto` chooses): a port from bind(0) may be handed to another test's
# outgoing connection before the server binds it.
free_port() {
  python3 - <<'PY'
import random, socket
lo, hi = map(int, open("/proc/sys/net/ipv4/ip_local_port_range").read().split())
first, last = (10000, lo - 1) if lo > 16384 else (hi + 1, 65535)
for _ in range(200):
    p = random.randint(first, last)
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
    except OSError:
        continue
    finally:
        s.close()
    print(p)
    break
else:
    raise SystemExit("free_port: no free port found")
PY
}

fail() {
  echo "FAIL $TEST_NAME: $*" >&2
  exit 1
}

pass() {
  echo "PASS $TEST_NAME: $*"
}

# No process of the target may outlive the harness.
assert_no_leftovers() {
  local left
  left=$(pgrep -a -f -- "${1:-$T}" | grep -v -e pgrep -e "$TEST_NAME" || true)
  [ -z "$left" ] || fail "processes left running: $left"
}

# Run rebound with a hard bound; sets CODE, stdout in $T/out, stderr in $T/err.
run_rebound() {
  local limit=$1; shift
  set +e
  timeout -s KILL "$limit" "$REBOUND" "$@" >"$T/out" 2>"$T/err"
  CODE=$?
  set -e
  if [ "$CODE" -eq 137 ]; then cat "$T/out" "$T/err" >&2; fail "rebound $1 did not finish within $limit"; fi
}

expect_code() {
  [ "$CODE" -eq "$1" ] || { cat "$T/out" "$T/err" >&2; fail "exit code $CODE, expected $1 ($2)"; }
}

expect_in() {
  grep -qF -- "$2" "$1" || { cat "$1" >&2; fail "'$2' not in $(basename "$1")"; }
}

json() {
  jq -e "$1" "$T/r.json" >/dev/null || { jq . "$T/r.json" >&2; fail "JSON check failed: $1"; }
}
