#!/usr/bin/env bash
# rebound probe/publish/play against hostile servers (tests/fixtures/fake_rtmp_server
# in its hostile modes): each ends within its deadline with exit 1 and a one-line
# reason naming what was wrong — never a crash, a hang or a sanitizer report.
source "$(dirname "$0")/lib.sh"
: "${FIXTURES:?set by ctest}"
FAKE=$FIXTURES/fake_rtmp_server

# Start the fake with the given switches (its command line names $T, so the
# cleanup of lib.sh finds it); sets $port.
start_fake() {
  local out=$T/fake.$RANDOM
  "$FAKE" --lifetime 120s --log "$T/fake.log" "$@" >"$out" &
  fake_pid=$!
  wait_port_line "$out" || fail "fake_rtmp_server $* did not start"
}

# check COMMAND MODE PATTERN: exit 1, one line on stderr matching PATTERN, within
# the 1 s step timeout plus slack for a sanitized build.
check() {
  local cmd=$1 mode=$2 pattern=$3 t0 ms rc
  t0=$(now_ms)
  set +e
  timeout -s KILL 20 "$REBOUND" "$cmd" "rtmp://127.0.0.1:$port/live/s" --timeout 1s \
    >"$T/out" 2>"$T/err"
  rc=$?
  set -e
  ms=$(( $(now_ms) - t0 ))
  [ "$rc" -ne 137 ] || fail "$cmd against $mode hung (killed after 20 s)"
  [ "$rc" -eq 1 ] || fail "$cmd against $mode: exit $rc, want 1; stderr: $(cat "$T/err")"
  [ "$ms" -lt 4000 ] || fail "$cmd against $mode took $ms ms (step timeout 1 s)"
  [ "$(wc -l <"$T/err")" -eq 1 ] || fail "$cmd against $mode: reason is not one line: $(cat "$T/err")"
  grep -Eq -- "^rebound $cmd: rtmp://127.0.0.1:$port/live/s: ($pattern)" "$T/err" \
    || fail "$cmd against $mode: '$(cat "$T/err")' lacks /$pattern/"
  ! grep -q "Sanitizer\|runtime error" "$T/err" || fail "$cmd against $mode: sanitizer report"
}

# mode switches | expected reason (all three commands)
cases=(
  "--garbage|protocol error|timed out"
  "--bad-version|protocol error: the server answered the handshake with RTMP version 6"
  "--silent|handshake timed out after 1s"
  "--trickle|handshake timed out after 1s"
  "--huge-message|protocol error: message of 16777215 bytes is too large"
  "--partial-message|connect timed out"
  "--amf-bomb|protocol error: malformed command message"
  "--bad-chunk|protocol error: new message on chunk stream 6 before the last one was complete"
  "--chunk-size 0x7fffffff|protocol error: bad chunk size from the server"
  "--chunk-size 0xffffffff|protocol error: bad chunk size from the server"
  "--chunk-size 0|protocol error: bad chunk size from the server"
  "--stream-id -1|protocol error: createStream returned stream id -1"
  "--stream-id nan|protocol error: createStream returned stream id nan"
  "--stream-id 1e300|protocol error: createStream returned stream id 1e\+300"
  "--stream-id 4294967296|protocol error: createStream returned stream id 4.29497e\+09"
  "--ext-timestamp|createStream timed out"
  "--window|createStream timed out"
  "--odd-headers|protocol error: chunk stream id 65599 out of range"
)
for c in "${cases[@]}"; do
  mode=${c%%|*}
  pattern=${c#*|}
  # shellcheck disable=SC2086 # a mode may be a switch and its value
  start_fake $mode
  for cmd in probe publish play; do
    check "$cmd" "$mode" "$pattern"
  done
  kill "$fake_pid"
  wait "$fake_pid" 2>/dev/null || true
done

# A refusal whose description holds quotes, markup, control bytes, invalid UTF-8
# and printf conversions: printed once, made printable, conversions left as text.
start_fake --nasty-status
check publish --nasty-status "rejected: NetStream.Publish.BadName"
check play --nasty-status "rejected: NetStream.Play.BadName"
grep -qF '%s%n%x%p %%' "$T/err" || fail "printf conversions in a description were not kept as text: $(cat "$T/err")"
! LC_ALL=C grep -q $'[\x01-\x08\x0b-\x1f\x7f-\xff]' "$T/err" || fail "control or non-ASCII bytes reached stderr"

pass "${#cases[@]} hostile server modes x probe/publish/play end with exit 1 and a reason"
