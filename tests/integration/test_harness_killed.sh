#!/usr/bin/env bash
# rebound itself SIGKILLed in the middle of a run: no process of the target may
# survive it (the keeper process notices and kills the whole tree).
source "$(dirname "$0")/lib.sh"

"$REBOUND" run "$SRC/scenarios/nginx-rtmp.ini" --cycles 50 --artifacts "$T/art" >"$T/out" 2>&1 &
pid=$!
# Wait (bounded) until the target runs and a cycle has completed.
for _ in $(seq 1 300); do
  grep -q "cycle 1/50" "$T/out" && break
  kill -0 $pid 2>/dev/null || { cat "$T/out"; fail "rebound exited early"; }
  sleep 0.1
done
grep -q "cycle 1/50" "$T/out" || fail "no cycle completed within 30 s"
pgrep -f -- "$T/art" >/dev/null || fail "no target process found while running"
kill -KILL $pid
wait $pid 2>/dev/null || true
# The keeper kills the tree as soon as it sees the harness gone; allow it 10 s.
for _ in $(seq 1 100); do
  left=$(pgrep -a -f -- "$T/art" || true)
  [ -z "$left" ] && break
  sleep 0.1
done
[ -z "$left" ] || fail "target processes survived the harness: $left"
pass "nothing of the target survives a SIGKILLed harness"
