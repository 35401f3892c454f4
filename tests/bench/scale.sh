#!/usr/bin/env bash
# Benchmark: many clients against nginx-rtmp. N publishers + N holders connect, nginx is
# SIGKILLed and restarted, and every publisher must publish again.
#
#   tests/bench/scale.sh [BUILD_DIR] [CLIENT_COUNTS] [CYCLES] [PUBLISH_FOR]
#   (defaults: build, "10 100 1000", 3 cycles, 1s; env REBOUND overrides the binary)
#
# For each N: rebound runs the nginx-rtmp preset (kill-while-publishing) with
# publishers=N holders=N while this script samples /proc/PID of rebound every 100 ms:
# VmHWM (its peak RSS) and utime+stime (its CPU, all threads; nginx, which rebound's
# keeper reaps, is not included as it would be in /usr/bin/time's figures). Reported: reconnect
# p50/p99/max and median cycle time from --json, max RSS, and per client (publishers +
# holders) the memory above the N=smallest run and the CPU time per cycle.
# The fd limit is raised as far as the hard limit allows (each client is one socket in
# rebound and one in nginx, which inherits the limit); nginx's preset allows 4096
# connections per worker. Loopback only; bounded by timeout; rebound stops nginx.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../../build}
counts=${2:-10 100 1000}
cycles=${3:-3}
publish_for=${4:-1s}
REBOUND=${REBOUND:-$build/rebound}
[ -x "$REBOUND" ] || { echo "scale: no rebound at $REBOUND (build first)" >&2; exit 3; }
command -v jq >/dev/null || { echo "scale: jq is required" >&2; exit 3; }

max=0
for n in $counts; do [ "$n" -gt "$max" ] && max=$n; done
source "$here/lib.sh"
raise_fd_limit $((2 * max * 2 + 256))
[ "$(ulimit -n)" -ge $((2 * max + 64)) ] || { echo "scale: fd limit $(ulimit -n) too low for $max clients" >&2; exit 3; }

work=$(mktemp -d "${TMPDIR:-/tmp}"/rebound-scale-XXXXXX)
rpid=
# rebound stops nginx itself; if it has to be killed, its keeper kills nginx's tree
trap '[ -n "$rpid" ] && kill -KILL "$rpid" 2>/dev/null; rm -rf "$work"' EXIT
printf '%6s %8s %9s %9s %9s %10s %9s %8s %12s %14s\n' clients result rec_p50 rec_p99 rec_max cycle_ms rss_MB cpu_s KB/client cpu_ms/cl/cyc
base_rss=
base_n=
for n in $counts; do
  out=$work/n$n
  # reconnect_timeout well above the goal (3 s) so that a miss is measured, not cut off
  run_sampled $((120 + cycles * (n / 20 + 10))) run "$here/../../scenarios/nginx-rtmp.ini" \
    --only kill-while-publishing --cycles "$cycles" --set publishers="$n" --set holders="$n" \
    --set publish_for="$publish_for" --set reconnect_timeout=30s --set ready_timeout=30s \
    --json "$out.json" --quiet --no-progress >"$out.out" 2>&1
  [ -s "$out.json" ] || { cat "$out.out" >&2; echo "scale: no results for $n clients (exit $CODE)" >&2; exit 1; }
  result=$(jq -r '.scenarios[0].result' "$out.json")
  read -r p50 p99 pmax < <(jq -r '.scenarios[0].summary.reconnect_ms | "\(.p50 // "nan") \(.p99 // "nan") \(.max // "nan")"' "$out.json")
  cyc=$(jq -r '.scenarios[0].cycles[].duration_ms' "$out.json" | median)
  rss_kb=$RSS_KB
  cpu=$CPU_S
  if [ -z "$base_rss" ]; then base_rss=$rss_kb; base_n=$n; fi
  per_client=$(awk -v r="$rss_kb" -v b="$base_rss" -v n="$n" -v bn="$base_n" \
    'BEGIN{ if(n == bn) print "-"; else printf "%.1f", (r - b) / (2 * (n - bn)) }')
  cpu_per=$(awk -v c="$cpu" -v n="$n" -v k="$cycles" 'BEGIN{printf "%.3f", c * 1000 / (2 * n) / k}')
  printf '%6s %8s %9.1f %9.1f %9.1f %10.1f %9.1f %8s %12s %14s\n' "$((2 * n))" "$result" "$p50" "$p99" "$pmax" "$cyc" \
    "$(awk -v r="$rss_kb" 'BEGIN{print r / 1024}')" "$cpu" "$per_client" "$cpu_per"
  if [ "$result" != pass ]; then
    jq -r '.scenarios[0].cycles[] | select(.result != "pass") | "  cycle \(.index): \(.failures | join("; "))"' \
      "$out.json" | cut -c1-300 >&2
  fi
done
echo "(clients = publishers + holders; cycle_ms includes publish_for=$publish_for; rss_MB (VmHWM) and cpu_s are" \
     "rebound's own; KB/client is the RSS above the $((2 * base_n))-client run)"
