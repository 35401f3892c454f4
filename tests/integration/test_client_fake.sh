#!/bin/bash
# rebound probe/publish/play against tests/fixtures/fake_rtmp_server: every
# refusal is reported with its code (quickly, not as a timeout), hostile peers
# end within the deadline with exit 1 and a one-line reason, usage errors exit 2.
set -euo pipefail

: "${REBOUND:?path of the rebound binary}"
: "${FIXTURES:?folder of the built test fixtures}"
FAKE=$FIXTURES/fake_rtmp_server

dir=$(mktemp -d /tmp/rb-client-fake.XXXXXX)
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  { wait; } 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# Start the fake with the given switches; sets $port.
start_fake() {
  local out=$dir/fake.$#.$RANDOM i
  "$FAKE" --lifetime 60s "$@" >"$out" &
  pids+=($!)
  for ((i = 0; i < 250; i++)); do
    port=$(head -n1 "$out" 2>/dev/null || true)
    [ -n "$port" ] && return 0
    sleep 0.02
  done
  fail "fake_rtmp_server $* did not start"
}

# expect EXIT MAX_MS PATTERN -- command...: exit code, wall time and the stderr
# line (which must be empty on success).
expect() {
  local want=$1 max_ms=$2 pattern=$3 t0 rc ms
  shift 4
  t0=$(now_ms)
  set +e
  timeout 20 "$@" >"$dir/out" 2>"$dir/err"
  rc=$?
  set -e
  ms=$(( $(now_ms) - t0 ))
  [ "$rc" = "$want" ] || fail "$*: exit $rc, want $want; stderr: $(cat "$dir/err")"
  [ "$ms" -lt "$max_ms" ] || fail "$*: took ${ms} ms (limit $max_ms)"
  if [ "$want" = 0 ]; then
    [ ! -s "$dir/err" ] || fail "$*: unexpected stderr: $(cat "$dir/err")"
    return 0
  fi
  grep -Eq -- "$pattern" "$dir/err" || fail "$*: stderr '$(cat "$dir/err")' lacks /$pattern/"
  if [ "$want" = 1 ]; then
    [ "$(wc -l <"$dir/err")" = 1 ] || fail "$*: reason is not one line: $(cat "$dir/err")"
  fi
}

# Refusals with their codes, well before the 5 s step timeout.
for code in NetStream.Publish.BadName NetStream.Publish.Rejected NetStream.Publish.Denied; do
  start_fake --reject "$code"
  expect 1 2000 "rejected: $code \(fake rejection\)" -- \
    "$REBOUND" publish "rtmp://127.0.0.1:$port/live/s" --duration 1s --timeout 5s
done
start_fake --reject NetConnection.Connect.Rejected
expect 1 2000 "rejected: NetConnection.Connect.Rejected" -- \
  "$REBOUND" probe "rtmp://127.0.0.1:$port/live" --timeout 5s
start_fake --reject NetStream.Play.StreamNotFound
expect 1 2000 "rejected: NetStream.Play.StreamNotFound" -- \
  "$REBOUND" play "rtmp://127.0.0.1:$port/live/s" --duration 1s --timeout 5s

# Hostile peers: --timeout 1s ends well under 3 s.
start_fake --silent
expect 1 3000 "timed out after 1s" -- "$REBOUND" probe "rtmp://127.0.0.1:$port/live" --timeout 1s
start_fake --trickle
expect 1 3000 "timed out after 1s" -- "$REBOUND" probe "rtmp://127.0.0.1:$port/live" --timeout 1s
start_fake --garbage
expect 1 3000 "protocol|timed out" -- "$REBOUND" probe "rtmp://127.0.0.1:$port/live" --timeout 1s
start_fake --garbage
expect 1 3000 "protocol|timed out" -- "$REBOUND" play "rtmp://127.0.0.1:$port/live/s" --timeout 1s

# Nothing listening: refused, at once. The port is held (bound, not listening)
# by a helper so nobody else can take it meanwhile.
python3 -c '
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1], flush=True)
time.sleep(30)' >"$dir/held" &
pids+=($!)
for ((i = 0; i < 250; i++)); do held=$(head -n1 "$dir/held" 2>/dev/null || true); [ -n "$held" ] && break; sleep 0.02; done
[ -n "$held" ] || fail "no held port"
expect 1 1000 "connection refused" -- "$REBOUND" probe "rtmp://127.0.0.1:$held/live" --timeout 5s
expect 1 1000 "connection refused" -- "$REBOUND" publish "rtmp://127.0.0.1:$held/live/s" --timeout 5s

# A working fake: publish succeeds; play gets its ten frames, then the stream ends.
start_fake
expect 0 5000 "" -- "$REBOUND" publish "rtmp://127.0.0.1:$port/live/s" --duration 1s
grep -Eq "^published rtmp://127.0.0.1:$port/live/s: [1-9][0-9]* frames" "$dir/out" \
  || fail "publish summary: $(cat "$dir/out")"
start_fake
expect 1 5000 "stream ended early: stream ended: NetStream.Play.UnpublishNotify" -- \
  "$REBOUND" play "rtmp://127.0.0.1:$port/live/s" --duration 10s --verify
grep -q "received 10, gaps 0, duplicates 0" "$dir/out" || fail "play summary: $(cat "$dir/out")"

# Usage errors.
expect 2 1000 "missing URL" -- "$REBOUND" probe
expect 2 1000 "unknown option '--bogus'" -- "$REBOUND" play rtmp://127.0.0.1:1/live/s --bogus
expect 2 1000 "bad duration 'soon'" -- "$REBOUND" publish rtmp://127.0.0.1:1/live/s --duration soon
expect 2 1000 "bad duration" -- "$REBOUND" probe rtmp://127.0.0.1:1/live --timeout -1s
expect 2 1000 "no stream name" -- "$REBOUND" play rtmp://127.0.0.1:1/live --verify
echo "PASS"
