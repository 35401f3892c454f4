#!/usr/bin/env bash
# Benchmark: rebound against the shell loop a user would write (tests/bench/shell-loop.sh),
# at equal work: CYCLES SIGKILL/restart cycles of nginx-rtmp with PUBLISH_MS of publishing
# each, the publisher reconnecting after every restart.
#
#   tests/bench/vs-shell.sh [BUILD_DIR] [ROUNDS] [CYCLES] [PUBLISH_MS]
#   (defaults: build, 3 rounds, 10 cycles, 40 ms; env REBOUND overrides the binary)
#
# The two are run alternately, ROUNDS times each, so that a change in the machine's
# load hits both; wall time is taken with date +%s%N and the medians are compared.
# rebound does more per cycle than the loop (2 holders, socket-state forensics, the
# /stat check of the preset), which only counts against it.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../../build}
rounds=${2:-3}
cycles=${3:-10}
publish_ms=${4:-40}
REBOUND=${REBOUND:-$build/rebound}
[ -x "$REBOUND" ] || { echo "vs-shell: no rebound at $REBOUND (build first)" >&2; exit 3; }

work=$(mktemp -d "${TMPDIR:-/tmp}"/rebound-vs-shell-XXXXXX)
trap 'rm -rf "$work"' EXIT
source "$here/lib.sh" # median
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

for r in $(seq 1 "$rounds"); do
  t0=$(now_ms)
  timeout -s KILL 300 "$REBOUND" run "$here/../../scenarios/nginx-rtmp.ini" --only kill-while-publishing \
    --cycles "$cycles" --set "publish_for=${publish_ms}ms" --quiet --no-progress --json "$work/r$r.json" \
    >"$work/rebound$r.out" 2>&1 || { cat "$work/rebound$r.out" >&2; echo "vs-shell: rebound failed" >&2; exit 1; }
  t1=$(now_ms)
  timeout -s KILL 600 bash "$here/shell-loop.sh" "$cycles" "$publish_ms" >"$work/shell$r.out" 2>&1 \
    || { cat "$work/shell$r.out" >&2; echo "vs-shell: shell loop failed" >&2; exit 1; }
  t2=$(now_ms)
  echo "$((t1 - t0))" >>"$work/rebound_ms"
  echo "$((t2 - t1))" >>"$work/shell_ms"
  printf 'round %d: rebound %6d ms   shell loop %6d ms   ratio %.1fx\n' "$r" $((t1 - t0)) $((t2 - t1)) \
    "$(awk -v a=$((t2 - t1)) -v b=$((t1 - t0)) 'BEGIN{print a / b}')"
done
rb=$(median <"$work/rebound_ms")
sh=$(median <"$work/shell_ms")
echo
echo "median over $rounds rounds of $cycles cycles x ${publish_ms} ms publishing:"
echo "  rebound    $rb ms  ($(awk -v t="$rb" -v n="$cycles" 'BEGIN{printf "%.0f", t / n}') ms/cycle, including nginx's first start)"
echo "  shell loop $sh ms  ($(awk -v t="$sh" -v n="$cycles" 'BEGIN{printf "%.0f", t / n}') ms/cycle)"
echo "  rebound is $(awk -v a="$sh" -v b="$rb" 'BEGIN{printf "%.1f", a / b}')x faster"
