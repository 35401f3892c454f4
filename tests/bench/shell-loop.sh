#!/usr/bin/env bash
# What a user would write instead of rebound: a shell loop that restart-stresses
# nginx-rtmp with ffmpeg, ss and kill -9. tests/bench/vs-shell.sh times it against
# `rebound run` doing the same work.
#
#   tests/bench/shell-loop.sh [CYCLES] [PUBLISH_MS]     (defaults: 10 cycles, 40 ms)
#
# Every cycle: ffmpeg publishes (retried until it connects), publishes PUBLISH_MS,
# nginx is killed with kill -9 (its whole process group), restarted, and `ss` is
# polled until the port is LISTENed again. The next cycle's publish is the
# re-publish. Uses the same nginx configuration as scenarios/nginx-rtmp.ini, on a
# free loopback port. Bounded: every wait has a deadline, and the EXIT trap kills
# the nginx and ffmpeg it started (by pid / process group).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cycles=${1:-10}
publish_ms=${2:-40}
template=$here/../../scenarios/nginx-rtmp.conf.in
for p in nginx ffmpeg ss python3; do
  command -v "$p" >/dev/null || { echo "shell-loop: $p is required" >&2; exit 3; }
done

dir=$(mktemp -d "${TMPDIR:-/tmp}"/rebound-shell-loop-XXXXXX)
nginx_pid=
ffmpeg_pid=
cleanup() {
  exec 2>/dev/null # no job-control chatter about what is killed here
  [ -n "$ffmpeg_pid" ] && kill -KILL "$ffmpeg_pid" 2>/dev/null || true
  [ -n "$nginx_pid" ] && kill -KILL -- "-$nginx_pid" 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
port=$(free_port)
http_port=$(free_port)
sed -e "s|\${run_dir}|$dir|g" -e "s|\${host}|127.0.0.1|g" -e "s|\${port}|$port|g" \
    -e "s|\${http_port}|$http_port|g" -e "s|\${app}|live|g" "$template" >"$dir/nginx.conf"
url="rtmp://127.0.0.1:$port/live/shell-loop"

start_nginx() {
  # own session, so that kill -9 -PGID takes the master and its worker together
  setsid nginx -p "$dir" -c "$dir/nginx.conf" -e stderr >>"$dir/nginx.log" 2>&1 &
  nginx_pid=$!
}

# Poll ss until the port is LISTENed, at most 10 s.
wait_listen() {
  for _ in $(seq 1000); do
    ss -Hltn "sport = :$port" | grep . >/dev/null && return 0
    sleep 0.01
  done
  echo "shell-loop: nginx did not listen on $port within 10 s" >&2
  exit 1
}

# Start ffmpeg publishing; retry until its connection is ESTABLISHED, at most 10 s.
publish_until_connected() {
  local deadline=$(( $(date +%s) + 10 ))
  while [ "$(date +%s)" -lt "$deadline" ]; do
    ffmpeg -nostdin -hide_banner -loglevel error -re -f lavfi -i testsrc=size=320x240:rate=25 \
      -c:v libx264 -preset ultrafast -tune zerolatency -t 30 -f flv "$url" >>"$dir/ffmpeg.log" 2>&1 &
    ffmpeg_pid=$!
    while kill -0 "$ffmpeg_pid" 2>/dev/null; do
      if ss -Htnp state established "( dport = :$port )" | grep "pid=$ffmpeg_pid," >/dev/null; then
        return 0
      fi
      sleep 0.005
    done
    wait "$ffmpeg_pid" || true # it could not connect: try again
    ffmpeg_pid=
    sleep 0.05
  done
  echo "shell-loop: ffmpeg could not publish within 10 s" >&2
  exit 1
}

start_nginx
wait_listen
for i in $(seq 1 "$cycles"); do
  publish_until_connected
  sleep "$(awk -v ms="$publish_ms" 'BEGIN{printf "%.3f", ms / 1000}')"
  kill -KILL -- "-$nginx_pid"
  wait "$nginx_pid" 2>/dev/null || true
  kill -KILL "$ffmpeg_pid" 2>/dev/null || true # its server is gone: do not wait for it to notice
  wait "$ffmpeg_pid" 2>/dev/null || true
  ffmpeg_pid=
  start_nginx
  wait_listen
  echo "cycle $i: restarted and listening"
done
publish_until_connected # the last restart must take a publisher again too
echo "shell-loop: $cycles cycles done"
