#!/bin/bash
# rebound publish/play/probe against a real nginx-rtmp on a free loopback port:
# a played stream arrives with no gaps, and what rebound publishes is real
# H.264 + AAC that ffprobe recognises.
set -euo pipefail

: "${REBOUND:?path of the rebound binary}"
NGINX=${NGINX:-nginx}
MODULE=/usr/lib/nginx/modules/ngx_rtmp_module.so
command -v "$NGINX" >/dev/null || { echo "SKIP: nginx not installed"; exit 77; }
[ -e "$MODULE" ] || { echo "SKIP: $MODULE missing"; exit 77; }

dir=$(mktemp -d /tmp/rb-client-nginx.XXXXXX)
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do
    # Each background job runs in its own process group (set -m): kill it whole.
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
  done
  { wait; } 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
set -m

fail() { echo "FAIL: $*" >&2; for f in "$dir"/*.log "$dir"/*.out; do [ -s "$f" ] && { echo "--- $f"; tail -20 "$f"; }; done >&2; exit 1; }

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_listen() { # port, deadline seconds
  local i
  for ((i = 0; i < $2 * 50; i++)); do
    [ -n "$(ss -Htln "sport = :$1")" ] && return 0
    kill -0 "${pids[0]}" 2>/dev/null || return 1
    sleep 0.02
  done
  return 1
}

port=$(free_port)
cat > "$dir/nginx.conf" <<EOF
load_module $MODULE;
daemon off;
master_process on;
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/error.log info;
events { worker_connections 1024; }
rtmp { server { listen 127.0.0.1:$port; application live { live on; } } }
EOF
"$NGINX" -p "$dir" -c "$dir/nginx.conf" -e stderr >"$dir/nginx.out" 2>&1 &
pids+=($!)
wait_listen "$port" 10 || fail "nginx did not listen on $port"
url=rtmp://127.0.0.1:$port/live

# probe: one line with the four step timings.
timeout 20 "$REBOUND" probe "$url" --timeout 3s --json "$dir/probe.json" >"$dir/probe.out" \
  || fail "probe exited $?"
grep -Eq "^$url: tcp [0-9.]+ms handshake [0-9.]+ms connect [0-9.]+ms createStream [0-9.]+ms$" \
  "$dir/probe.out" || fail "probe line: $(cat "$dir/probe.out")"
python3 - "$dir/probe.json" <<'EOF' || fail "probe JSON"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["result"] == "ok" and d["handshake_ms"] > 0 and d["create_stream_ms"] > 0, d
EOF

# publish 4 s in the background, play 2 s of it with --verify.
timeout 30 "$REBOUND" publish "$url/s" --duration 4s >"$dir/publish.out" 2>&1 &
pub=$!
pids+=($pub)
sleep_until_publishing() {
  local i
  for ((i = 0; i < 250; i++)); do
    grep -q "publish: name='s'" "$dir/error.log" 2>/dev/null && return 0
    sleep 0.02
  done
  return 1
}
sleep_until_publishing || fail "nginx never saw the publisher"
timeout 30 "$REBOUND" play "$url/s" --duration 2s --verify >"$dir/play.out" 2>&1 \
  || fail "play --verify exited $?"
grep -Eq "received [1-9][0-9]*, gaps 0, duplicates 0" "$dir/play.out" \
  || fail "play summary: $(cat "$dir/play.out")"
wait "$pub" || fail "publish exited $?"
grep -Eq "^published $url/s: [1-9][0-9]* frames" "$dir/publish.out" \
  || fail "publish summary: $(cat "$dir/publish.out")"

# Publishing the same name twice: nginx answers Publish.BadName, rebound says so.
timeout 30 "$REBOUND" publish "$url/dup" --duration 3s >"$dir/dup1.out" 2>&1 &
pids+=($!)
for ((i = 0; i < 250; i++)); do grep -q "publish: name='dup'" "$dir/error.log" && break; sleep 0.02; done
set +e
timeout 20 "$REBOUND" publish "$url/dup" --duration 1s --timeout 3s >"$dir/dup2.out" 2>&1
rc=$?
set -e
[ "$rc" = 1 ] || fail "second publisher exited $rc, expected 1"
grep -q "rejected: NetStream.Publish.BadName" "$dir/dup2.out" || fail "dup: $(cat "$dir/dup2.out")"

# ffprobe reads what rebound publishes: H.264 video and AAC audio.
timeout 30 "$REBOUND" publish "$url/s2" --duration 8s >"$dir/publish2.out" 2>&1 &
pids+=($!)
for ((i = 0; i < 250; i++)); do grep -q "publish: name='s2'" "$dir/error.log" && break; sleep 0.02; done
timeout 20 ffprobe -v error -show_streams "$url/s2" >"$dir/ffprobe.out" 2>&1 \
  || fail "ffprobe exited $?"
grep -qx "codec_name=h264" "$dir/ffprobe.out" || fail "no h264 stream"
grep -qx "codec_name=aac" "$dir/ffprobe.out" || fail "no aac stream"
echo "PASS"
