#!/usr/bin/env bash
# Benchmark: the round-trip latency rebound's fault proxy (net_fault) adds on loopback.
#
#   tests/bench/netfault-latency.sh [BUILD_DIR] [RUNS] [CONNS] [ROUNDS] [SIZE]
#   (defaults: build, 5 runs, 100 connections, 200 rounds, 256 bytes)
#
# Each run is build/tests/netfault_bench: an echo server, CONNS connections to it
# directly and CONNS through the proxy, ROUNDS echoes of SIZE bytes per connection,
# direct and proxied interleaved. Reported per run and as medians over the runs: the
# added p50 and p99 (proxied percentile minus direct percentile).
# Not a timed test: machines are noisy, so compare runs made together, quote medians.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../../build}
runs=${2:-5}
conns=${3:-100}
rounds=${4:-200}
size=${5:-256}
bench=$build/tests/netfault_bench
[ -x "$bench" ] || { echo "netfault-latency: no $bench (build first)" >&2; exit 3; }

median() { sort -g | awk '{v[NR]=$1} END{if(NR==0){print "nan"; exit} print (NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2)}'; }

p50s=() p99s=()
printf '%-4s %12s %12s %12s %12s %10s %10s\n' run direct_p50 direct_p99 proxy_p50 proxy_p99 added_p50 added_p99
for run in $(seq 1 "$runs"); do
  out=$(timeout -s KILL 300 "$bench" "$conns" "$rounds" "$size")
  read -r dp50 dp99 < <(sed -n 's/^direct .*p50 \([0-9.]*\) ms  p99 \([0-9.]*\) ms$/\1 \2/p' <<<"$out")
  read -r pp50 pp99 < <(sed -n 's/^proxied .*p50 \([0-9.]*\) ms  p99 \([0-9.]*\) ms$/\1 \2/p' <<<"$out")
  read -r ap50 ap99 < <(sed -n 's/^added by the proxy: p50 \(-*[0-9.]*\) ms  p99 \(-*[0-9.]*\) ms$/\1 \2/p' <<<"$out")
  printf '%-4s %12s %12s %12s %12s %10s %10s\n' "$run" "$dp50" "$dp99" "$pp50" "$pp99" "$ap50" "$ap99"
  p50s+=("$ap50") p99s+=("$ap99")
done
echo "median added latency over $runs runs of $conns connections x $rounds rounds of $size bytes:" \
     "p50 $(printf '%s\n' "${p50s[@]}" | median) ms, p99 $(printf '%s\n' "${p99s[@]}" | median) ms"
