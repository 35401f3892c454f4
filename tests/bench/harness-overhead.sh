#!/usr/bin/env bash
# Benchmark: harness overhead and detection latency against rebound-refserver.
#
#   tests/bench/harness-overhead.sh [BUILD_DIR] [RUNS] [CYCLES]
#   (defaults: build, 5 runs, 200 cycles; env REBOUND/REFSERVER override the binaries)
#
# Each run is `rebound run --set publish_for=0 --cycles CYCLES` (1 publisher, 2 holders,
# the built-in refserver scenario), so a cycle is nothing but kill, respawn, rebind,
# reconnect and the harness's own bookkeeping. Reported, as medians over the runs:
#   cycles/s          CYCLES / wall time of the whole run
#   cycle, rebind, reconnect, other   per-cycle medians from --json (other = duration -
#                     reconnect: holders connecting, the fault, the kill-to-respawn gap)
#   detect p50/p99    rebind_at_ns (rebound saw LISTEN) - the refserver's own
#                     monotonic_ns stamp taken right after listen(), from server-N.log
#   spawn p50         restart_at_ns -> the refserver's listen() (fork, exec, startup)
# Not a timed test: machines are noisy, so compare runs made together, quote medians.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../../build}
runs=${2:-5}
cycles=${3:-200}
REBOUND=${REBOUND:-$build/rebound}
[ -x "$REBOUND" ] || { echo "harness-overhead: no rebound at $REBOUND (build first)" >&2; exit 3; }
command -v jq >/dev/null || { echo "harness-overhead: jq is required" >&2; exit 3; }

work=$(mktemp -d "${TMPDIR:-/tmp}"/rebound-bench-XXXXXX)
# rebound's keeper kills the server's tree if rebound itself is killed by timeout
trap 'rm -rf "$work"' EXIT

source "$here/lib.sh" # median
# pct P: the P-th percentile (nearest rank) of numbers on stdin
pct() { sort -g | awk -v p="$1" '{v[NR]=$1} END{if(NR==0){print "nan"; exit} i=int(p/100*NR+0.999999); if(i<1)i=1; if(i>NR)i=NR; print v[i]}'; }

printf '%-4s %9s %9s %9s %10s %9s %10s %10s %9s\n' run cycles/s cycle_ms rebind_ms reconnect_ms other_ms detect_p50 detect_p99 spawn_ms
for run in $(seq 1 "$runs"); do
  dir=$work/run$run
  start=$(date +%s%N)
  set +e
  # bound: 500 ms a cycle is 10x slower than it should be; 30 s slack for a loaded machine
  timeout -s KILL $((cycles / 2 + 30)) "$REBOUND" run --set publish_for=0 --cycles "$cycles" \
    --json "$dir.json" --artifacts "$dir" --quiet --no-progress >"$dir.out" 2>&1
  code=$?
  set -e
  end=$(date +%s%N)
  if [ "$code" -ne 0 ]; then
    cat "$dir.out" >&2
    echo "harness-overhead: run $run exited $code" >&2
    exit 1
  fi
  n=$(jq '.scenarios[0].cycles | length' "$dir.json")
  jq -r '.scenarios[0].cycles[] | "\(.index) \(.restart_at_ns) \(.rebind_at_ns) \(.duration_ms) \(.rebind_ms) \(.reconnect_ms)"' \
    "$dir.json" >"$dir.cycles"
  # join each cycle with the monotonic stamp its server printed after listen()
  while read -r idx restart rebind _; do
    listen=$(grep -o 'monotonic_ns=[0-9]*' "$dir/refserver-sigkill/server-$idx.log" | head -1 | cut -d= -f2)
    [ -n "$listen" ] && echo "$(( rebind - listen )) $(( listen - restart ))"
  done <"$dir.cycles" >"$dir.detect"
  awk -v n="$n" -v ns=$((end - start)) 'BEGIN{printf "%.2f\n", n / (ns / 1e9)}' >>"$work/cps"
  cps=$(tail -1 "$work/cps")
  cyc=$(awk '{print $4}' "$dir.cycles" | median)
  reb=$(awk '{print $5}' "$dir.cycles" | median)
  rec=$(awk '{print $6}' "$dir.cycles" | median)
  oth=$(awk '{print $4 - $6}' "$dir.cycles" | median)
  d50=$(awk '{print $1 / 1e6}' "$dir.detect" | pct 50)
  d99=$(awk '{print $1 / 1e6}' "$dir.detect" | pct 99)
  spw=$(awk '{print $2 / 1e6}' "$dir.detect" | median)
  cat "$dir.detect" >>"$work/detect_all"
  printf '%-4s %9s %9.2f %9.2f %10.2f %9.2f %10.3f %10.3f %9.2f\n' "$run" "$cps" "$cyc" "$reb" "$rec" "$oth" "$d50" "$d99" "$spw"
done
echo
echo "median cycles/s over $runs runs of $cycles cycles: $(median <"$work/cps")"
echo "detection latency over all $(wc -l <"$work/detect_all") cycles: p50 $(awk '{print $1 / 1e6}' "$work/detect_all" | pct 50) ms," \
     "p99 $(awk '{print $1 / 1e6}' "$work/detect_all" | pct 99) ms, max $(awk '{print $1 / 1e6}' "$work/detect_all" | pct 100) ms"
