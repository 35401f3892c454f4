#!/usr/bin/env bash
# rebound-refserver end to end, on loopback, with ffmpeg/ffprobe as independent
# RTMP clients: publish + play, and each fault switch doing what it models.
# Every wait is a bounded poll; every process started is killed on exit.
set -euo pipefail

: "${REFSERVER:?set REFSERVER to the rebound-refserver binary}"
: "${FIXTURES:?set FIXTURES to the folder of the test fixtures}"
CLIENTS="$FIXTURES/refserver_clients"
for tool in ffmpeg ffprobe ss timeout; do
  command -v "$tool" >/dev/null || { echo "FAIL: $tool is required" >&2; exit 1; }
done
[ -x "$CLIENTS" ] || { echo "FAIL: $CLIENTS not built" >&2; exit 1; }

work=$(mktemp -d)
pids=()
holder_fd=
cleanup() {
  local p
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  if [ -n "$holder_fd" ]; then exec {holder_fd}>&- || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
ulimit -c 0 # --crash-after aborts on purpose

fail() {
  echo "FAIL: $*" >&2
  local f
  for f in "$work"/*.err "$work"/*.log; do
    [ -s "$f" ] && { echo "--- $f" >&2; tail -n 20 "$f" >&2; }
  done
  exit 1
}

# wait_until SECONDS COMMAND...: poll every 50 ms until COMMAND succeeds.
wait_until() {
  local limit=$(( $1 * 20 )) i
  shift
  for (( i = 0; i < limit; i++ )); do
    "$@" && return 0
    sleep 0.05
  done
  return 1
}

# at_least N COMMAND...: COMMAND's output (a count) is >= N; re-run at each poll.
at_least() {
  local want=$1 got
  shift
  got=$("$@")
  [ "$got" -ge "$want" ]
}
# none COMMAND...: COMMAND's output (a count) is 0.
none() { [ "$("$@")" -eq 0 ]; }

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# start_server NAME ARGS...: start in the background, wait for the listening line.
# Sets SERVER_PID and SERVER_PORT; returns 1 if the server exited first.
start_server() {
  local name=$1
  shift
  rm -f "$work/$name.out" "$work/$name.err" # names are reused: never see an old line
  "$REFSERVER" "$@" >"$work/$name.out" 2>"$work/$name.err" &
  SERVER_PID=$!
  pids+=("$SERVER_PID")
  wait_until 10 server_announced "$name" || return 1
  SERVER_PORT=$(sed -n 's/^listening on .*:\([0-9]*\) monotonic_ns=[0-9]*$/\1/p' "$work/$name.out")
  [ -n "$SERVER_PORT" ] || fail "$name: malformed listening line: $(cat "$work/$name.out")"
}
server_announced() {
  [ -s "$work/$1.out" ] && return 0
  kill -0 "$SERVER_PID" 2>/dev/null || return 2
  return 1
}

stop_server() { # graceful: SIGTERM, then the exit status must be 0
  local rc=0
  kill -TERM "$SERVER_PID"
  wait "$SERVER_PID" || rc=$?
  [ "$rc" -eq 0 ] || fail "server exited with $rc after SIGTERM"
}

log_has() { grep -q -- "$2" "$work/$1.err"; }
log_count() { grep -c -- "$2" "$work/$1.err" || true; }

publish() { # URL SECONDS [LOG]: publish synthetic H.264 + AAC; exit status of ffmpeg
  timeout 20 ffmpeg -nostdin -v error -re -f lavfi -i testsrc=size=160x90:rate=25 \
    -f lavfi -i sine -t "$2" -c:v libx264 -preset ultrafast -tune zerolatency -g 25 \
    -c:a aac -f flv "$1" 2>>"$work/${3:-ffmpeg}.log"
}

# publish_bg URL SECONDS LOG: like publish, in the background; $! is ffmpeg itself
# (so a SIGKILL reaches it), bounded by -t and by the cleanup trap.
publish_bg() {
  ( exec ffmpeg -nostdin -v error -re -f lavfi -i testsrc=size=160x90:rate=25 \
      -f lavfi -i sine -t "$2" -c:v libx264 -preset ultrafast -tune zerolatency -g 25 \
      -c:a aac -f flv "$1" 2>>"$work/$3.log" ) &
}

listeners() { ss -Htln "sport = :$1" | grep -c LISTEN || true; }

# --- arguments ---------------------------------------------------------------
"$REFSERVER" --help | grep -- '--stale-stream' >/dev/null || fail "--help does not describe the switches"
for bad in "--port abc" "--port 70000" "--bogus" "--workers 0" "--stale-stream x" \
           "--crash-after 0" "--host not-an-ip" "--start-delay"; do
  rc=0
  # shellcheck disable=SC2086
  err=$("$REFSERVER" $bad 2>&1 >/dev/null) || rc=$?
  [ "$rc" -eq 2 ] || fail "'$bad' exited with $rc, expected 2"
  [ "$(printf '%s\n' "$err" | wc -l)" -eq 1 ] || fail "'$bad' printed more than one line: $err"
done
echo "ok: --help and bad arguments"

# --- publish, play, graceful unpublish ---------------------------------------
start_server relay --port 0 || fail "relay server did not start"
grep -Eq '^listening on 127\.0\.0\.1:[0-9]+ monotonic_ns=[0-9]+$' "$work/relay.out" \
  || fail "listening line: $(cat "$work/relay.out")"
url="rtmp://127.0.0.1:$SERVER_PORT/live/s"
publish_bg "$url" 8 relay-pub
pub=$!
pids+=("$pub")
wait_until 10 log_has relay "publish live/s" || fail "publisher never published"
probe=$(timeout 20 ffprobe -v error -show_entries stream=codec_name -of csv=p=0 "$url") \
  || fail "ffprobe could not play the stream"
grep -qx h264 <<<"$probe" || fail "player saw no h264 stream: $probe"
grep -qx aac <<<"$probe" || fail "player saw no aac stream: $probe"
timeout 20 ffmpeg -nostdin -v error -i "$url" -t 1 -f null - 2>>"$work/relay-play.log" \
  || fail "ffmpeg could not decode a second of the stream"
wait "$pub" || fail "publisher failed"
wait_until 5 log_has relay "unpublish live/s (graceful)" || fail "no graceful unpublish logged"
stop_server
echo "ok: publish + play (h264 + aac), graceful unpublish, SIGTERM exits 0"

# --- --reject-publish --------------------------------------------------------
start_server reject --port 0 --reject-publish || fail "server did not start"
rc=0; publish "rtmp://127.0.0.1:$SERVER_PORT/live/s" 2 reject-pub || rc=$?
[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] || fail "publish with --reject-publish: ffmpeg exit $rc"
log_has reject "rejected (NetStream.Publish.BadName)" || fail "no rejection logged"
grep -q "Server error" "$work/reject-pub.log" || fail "ffmpeg did not see the error status"
stop_server
start_server reject2 --port 0 --reject-publish NetStream.Publish.Rejected --quiet || fail "start"
rc=0; publish "rtmp://127.0.0.1:$SERVER_PORT/live/s" 2 reject2-pub || rc=$?
[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] || fail "publish with a custom code: ffmpeg exit $rc"
[ ! -s "$work/reject2.err" ] || fail "--quiet still logged: $(cat "$work/reject2.err")"
stop_server
echo "ok: --reject-publish [CODE]"

# --- --stale-stream ----------------------------------------------------------
# publish_until_ok URL DEADLINE_S: retry short publishes; prints attempts made.
publish_until_ok() {
  local end=$(( $(now_ms) + $2 * 1000 )) n=0
  while [ "$(now_ms)" -lt "$end" ]; do
    n=$((n + 1))
    if publish "$1" 1 stale-pub; then echo "$n"; return 0; fi
    sleep 0.1
  done
  return 1
}
start_server stale --port 0 --stale-stream 3s || fail "server did not start"
t_listen=$(now_ms)
url="rtmp://127.0.0.1:$SERVER_PORT/live/s"
rc=0; publish "$url" 1 stale-pub || rc=$?
[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] || fail "publish right after start was not refused (exit $rc)"
log_has stale "refused: already publishing" || fail "no 'already publishing' refusal logged"
publish_until_ok "$url" 15 >/dev/null || fail "publish never accepted after the stale window"
[ $(( $(now_ms) - t_listen )) -ge 3000 ] || fail "publish accepted inside the 3s stale window"
# an abrupt end (SIGKILLed publisher) keeps the name busy for D again
publish_bg "$url" 30 stale-pub
pub=$!
pids+=("$pub")
before=$(log_count stale "publish live/s$")
wait_until 10 at_least $((before + 1)) log_count stale "publish live/s$" \
  || fail "long publisher did not start"
kill -KILL "$pub"; wait "$pub" 2>/dev/null || true
wait_until 5 log_has stale "unpublish live/s (abrupt)" || fail "abrupt unpublish not seen"
t_abrupt=$(now_ms)
refusals=$(log_count stale "refused: already publishing")
rc=0; publish "$url" 1 stale-pub || rc=$?
[ "$rc" -ne 0 ] || fail "republish right after an abrupt disconnect was accepted"
[ "$(log_count stale "refused: already publishing")" -gt "$refusals" ] || fail "no refusal logged"
publish_until_ok "$url" 15 >/dev/null || fail "republish never accepted after the abrupt end"
[ $(( $(now_ms) - t_abrupt )) -ge 3000 ] || fail "republish accepted inside the stale window"
stop_server
echo "ok: --stale-stream (after start, after an abrupt disconnect)"

# --- --no-reuseaddr against FIN_WAIT2 and TIME_WAIT --------------------------
states() { ss -Htan state "$1" "( sport = :$2 )" | wc -l; }
# leave_old_connection PORT: a server on PORT with a silent client, SIGKILLed;
# the client stays open (the server side is in FIN_WAIT2) until close_holder.
leave_old_connection() {
  start_server old --port "$1" || fail "could not start the old server on $1"
  exec {holder_fd}<>"/dev/tcp/127.0.0.1/$SERVER_PORT"
  wait_until 5 log_has old "accepted" || fail "holder not accepted"
  kill -KILL "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true
  wait_until 5 at_least 1 states fin-wait-2 "$SERVER_PORT" || fail "no FIN_WAIT2 on the port"
}
close_holder() {
  exec {holder_fd}>&-
  holder_fd=
  wait_until 5 at_least 1 states time-wait "$1" || fail "no TIME_WAIT on the port"
}
expect_bind_failure() { # PORT
  local rc=0
  timeout 10 "$REFSERVER" --port "$1" --no-reuseaddr >"$work/noreuse.out" 2>"$work/noreuse.err" || rc=$?
  [ "$rc" -eq 1 ] || fail "--no-reuseaddr exited with $rc, expected 1"
  [ "$(cat "$work/noreuse.err")" = "bind() to 127.0.0.1:$1 failed (98: Address already in use)" ] \
    || fail "bind error message: $(cat "$work/noreuse.err")"
  [ ! -s "$work/noreuse.out" ] || fail "a failed server printed a listening line"
}
leave_old_connection 0
port=$SERVER_PORT
expect_bind_failure "$port"              # FIN_WAIT2
close_holder "$port"
expect_bind_failure "$port"              # TIME_WAIT
echo "ok: --no-reuseaddr fails with EADDRINUSE under FIN_WAIT2 and TIME_WAIT"
leave_old_connection "$port"
start_server reuse --port "$port" || fail "with SO_REUSEADDR the restart under FIN_WAIT2 failed"
[ "$SERVER_PORT" = "$port" ] || fail "restarted on $SERVER_PORT, not $port"
stop_server
close_holder "$port"
start_server reuse2 --port "$port" || fail "with SO_REUSEADDR the restart under TIME_WAIT failed"
stop_server
echo "ok: default SO_REUSEADDR rebinds under FIN_WAIT2 and TIME_WAIT"

# --- --workers ---------------------------------------------------------------
worker_pids() { sed -n 's/.*worker \([0-9]*\) started$/\1/p' "$work/$1.err"; }
count_workers() { worker_pids "$1" | wc -l; }
start_server workers --port 0 --workers 2 || fail "server with workers did not start"
master=$SERVER_PID
wait_until 5 at_least 2 count_workers workers || fail "two workers were not started"
mapfile -t workers < <(worker_pids workers)
pids+=("${workers[@]}")
for w in "${workers[@]}"; do
  tr '\0' ' ' <"/proc/$w/cmdline" | grep "rebound-refserver: worker process" >/dev/null \
    || fail "worker $w cmdline: $(tr '\0' ' ' <"/proc/$w/cmdline")"
done
kill -KILL "$master"; wait "$master" 2>/dev/null || true
owners=$(ss -Htlnp "sport = :$SERVER_PORT")
[ -n "$owners" ] || fail "nobody LISTENs after the master was killed"
grep -q "pid=${workers[0]}," <<<"$owners" || grep "pid=${workers[1]}," >/dev/null <<<"$owners" \
  || fail "LISTEN owner is not a worker: $owners"
grep -q "pid=$master," <<<"$owners" && fail "the dead master still listed: $owners"
"$CLIENTS" 127.0.0.1 "$SERVER_PORT" 4 5000 >/dev/null || fail "orphaned workers do not serve"
kill -KILL "${workers[@]}"
wait_until 5 none listeners "$SERVER_PORT" || fail "port still LISTENed after killing workers"
echo "ok: --workers outlive a SIGKILLed master and keep the port"

start_server workers2 --port 0 --workers 2 || fail "server with workers did not start"
wait_until 5 at_least 2 count_workers workers2 || fail "two workers were not started"
mapfile -t workers < <(worker_pids workers2)
pids+=("${workers[@]}")
stop_server
for w in "${workers[@]}"; do kill -0 "$w" 2>/dev/null && fail "worker $w survived SIGTERM to the master"; done
[ "$(listeners "$SERVER_PORT")" -eq 0 ] || fail "port still LISTENed after a graceful stop"
echo "ok: --workers: SIGTERM to the master stops the workers"

# --- --start-delay -----------------------------------------------------------
t0=$(now_ms)
start_server delay --port 0 --start-delay 500ms || fail "delayed server did not start"
[ $(( $(now_ms) - t0 )) -ge 500 ] || fail "listening line came before 500ms"
stop_server
echo "ok: --start-delay"

# --- --crash-after -----------------------------------------------------------
start_server crash --port 0 --crash-after 2 || fail "server did not start"
"$CLIENTS" 127.0.0.1 "$SERVER_PORT" 1 5000 >/dev/null || fail "first connection not served"
kill -0 "$SERVER_PID" || fail "crashed before the second connection"
"$CLIENTS" 127.0.0.1 "$SERVER_PORT" 1 2000 >/dev/null && fail "second connection was served"
rc=0; wait "$SERVER_PID" || rc=$?
[ "$rc" -eq 134 ] || fail "--crash-after: exit status $rc, expected 134 (SIGABRT)"
start_server crash1 --port 0 --crash-after 1 || fail "server did not start"
exec {bad}<>"/dev/tcp/127.0.0.1/$SERVER_PORT"
rc=0; wait "$SERVER_PID" || rc=$?
exec {bad}>&-
[ "$rc" -eq 134 ] || fail "--crash-after 1: exit status $rc, expected 134 (SIGABRT)"
echo "ok: --crash-after"

# --- --hang-after ------------------------------------------------------------
start_server hang --port 0 --hang-after 1 || fail "server did not start"
rc=0; timeout 3 ffprobe -v error "rtmp://127.0.0.1:$SERVER_PORT/live/s" 2>/dev/null || rc=$?
[ "$rc" -eq 124 ] || fail "ffprobe against a hung server ended with $rc, expected a timeout (124)"
kill -0 "$SERVER_PID" || fail "hung server is not alive"
[ "$(listeners "$SERVER_PORT")" -eq 1 ] || fail "hung server no longer LISTENs"
"$CLIENTS" 127.0.0.1 "$SERVER_PORT" 1 1000 >/dev/null && fail "a hung server answered"
rc=0; kill -TERM "$SERVER_PID"; wait "$SERVER_PID" || rc=$?
[ "$rc" -eq 143 ] || fail "hung server: SIGTERM gave $rc"
echo "ok: --hang-after"

# --- many peers and hostile input --------------------------------------------
start_server many --port 0 --quiet || fail "server did not start"
"$CLIENTS" 127.0.0.1 "$SERVER_PORT" 200 20000 >"$work/many.log" || fail "200 clients: $(cat "$work/many.log")"
exec {bad}<>"/dev/tcp/127.0.0.1/$SERVER_PORT"
printf '\006garbage' >&$bad
exec {bad}>&-
exec {bad}<>"/dev/tcp/127.0.0.1/$SERVER_PORT"
{ printf '\003'; head -c 3072 /dev/zero; printf '\003\000\000\000\377\377\377\024\000\000\000\000'; } >&$bad
exec {bad}>&-
"$CLIENTS" 127.0.0.1 "$SERVER_PORT" 1 5000 >/dev/null || fail "server stopped serving after bad input"
stop_server
echo "ok: 200 concurrent connections, garbage and a huge message header survived"

start_server hostile --port 0 || fail "server did not start"
exec {bad}<>"/dev/tcp/127.0.0.1/$SERVER_PORT"
{ printf '\003'; head -c 3072 /dev/zero; printf '\003\000\000\000\377\377\377\024\000\000\000\000'; } >&$bad
wait_until 5 log_has hostile "exceeds the limit" || fail "huge message header not refused"
exec {bad}>&-
stop_server
echo "ok: a huge announced message length is refused"
echo "PASS"
