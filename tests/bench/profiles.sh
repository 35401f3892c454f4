#!/usr/bin/env bash
# Benchmark: how a fleet of publishers comes back after one SIGKILL of nginx-rtmp,
# per reconnect profile (issue 19.4): rebound's own fast client against clients that
# wait like OBS (2 s, then x1.5 with per-client jitter).
#
#   tests/bench/profiles.sh [BUILD_DIR] [PUBLISHERS] ["PROFILE ..."] [PUBLISH_FOR]
#   (defaults: build, 1000, "rebound obs", 2s; env REBOUND overrides the binary)
#
# For each profile: one cycle of the nginx-rtmp preset's kill-while-publishing with
# N publishers and no holders (so the arrivals are the publishers'), reconnect_timeout
# 60 s so that a slow wave is measured rather than cut off. Reported from --json:
# every publisher back (reconnect_ms), the per-publisher arrival p50/p99/max after the
# restart, how many gave up, and the arrival curve at tenths of the fleet; rebound's
# peak RSS (VmHWM) and CPU from /proc while it runs. Loopback only; bounded by timeout.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../../build}
n=${2:-1000}
profiles=${3:-rebound obs}
publish_for=${4:-2s}
REBOUND=${REBOUND:-$build/rebound}
[ -x "$REBOUND" ] || { echo "profiles: no rebound at $REBOUND (build first)" >&2; exit 3; }
command -v jq >/dev/null || { echo "profiles: jq is required" >&2; exit 3; }
source "$here/lib.sh"
raise_fd_limit $((4 * n + 256))
[ "$(ulimit -n)" -ge $((2 * n + 64)) ] || { echo "profiles: fd limit $(ulimit -n) too low for $n publishers" >&2; exit 3; }

work=$(mktemp -d "${TMPDIR:-/tmp}"/rebound-profiles-XXXXXX)
# rebound stops nginx itself; if it has to be killed, its keeper kills nginx's tree
trap '[ -n "$rpid" ] && kill -KILL "$rpid" 2>/dev/null; rm -rf "$work"' EXIT

printf '%-10s %6s %8s %11s %9s %9s %9s %7s %8s %7s\n' profile pubs result all_back_ms arr_p50 arr_p99 arr_max gave_up rss_MB cpu_s
for p in $profiles; do
  out=$work/$p
  run_sampled $((180 + n / 10)) run "$here/../../scenarios/nginx-rtmp.ini" --only kill-while-publishing \
    --cycles 1 --set publishers="$n" --set holders=0 --set reconnect="$p" --set publish_for="$publish_for" \
    --set reconnect_timeout=60s --set ready_timeout=30s --json "$out.json" --quiet --no-progress >"$out.out" 2>&1
  [ -s "$out.json" ] || { cat "$out.out" >&2; echo "profiles: no results for $p (exit $CODE)" >&2; exit 1; }
  jq -r --arg p "$p" --arg rss "$RSS_KB" --arg cpu "$CPU_S" '.scenarios[0] as $s | $s.cycles[0] as $c |
    [$p, ($c.clients.publishers_ok | tostring) + "/" + ($c.arrivals[-1][1] // 0 | tostring), $s.result,
     ($c.reconnect_ms // "-"), ($c.arrival_ms.p50 // "-"), ($c.arrival_ms.p99 // "-"), ($c.arrival_ms.max // "-"),
     $c.gave_up, ($rss | tonumber / 1024), ($cpu | tonumber)] |
    map(if type == "number" then (. * 10 | round / 10 | tostring) else tostring end) | @tsv' "$out.json" |
    awk -F'\t' '{printf "%-10s %6s %8s %11s %9s %9s %9s %7s %8s %7s\n", $1, $2, $3, $4, $5, $6, $7, $8, $9, $10}'
  # the arrival curve: when each tenth of the fleet was back (ms after the restart)
  jq -r --arg p "$p" '.scenarios[0].cycles[0].arrivals as $a | ($a[-1][1] // 0) as $all |
    [range(1; 11) | . as $k | ($a | map(select(.[1] >= $all * $k / 10)) | first // null)] |
    "  \($p) curve (ms when 10%, 20%, ... 100% were back): " +
    (map(if . == null then "-" else (.[0] | round | tostring) end) | join(" "))' "$out.json"
  if [ "$(jq -r '.scenarios[0].result' "$out.json")" != pass ]; then
    jq -r '.scenarios[0].cycles[] | select(.result != "pass") | "  cycle \(.index): \(.failures | join("; "))"' \
      "$out.json" | cut -c1-300 >&2
  fi
done
echo "(arr_*: each publisher's time from the restart to publishing again; all_back_ms: the last one;" \
     "rss_MB (VmHWM) and cpu_s are rebound's own, the whole run: start, $publish_for of publishing, kill, restart, reconnect)"
