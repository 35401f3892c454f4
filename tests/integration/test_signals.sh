#!/usr/bin/env bash
# Signals: SIGINT, SIGTERM and SIGHUP to `rebound run` end the run promptly with
# 130 / 143 / 129, write --json with result "interrupted" and leave no target
# process. A target whose main process ignores SIGTERM (fault = sigterm) is
# SIGKILLed once grace has passed, and the cycle still passes.
# (SIGKILL of the harness itself: test_harness_killed.sh.)
source "$(dirname "$0")/lib.sh"
: "${REFSERVER:?set by ctest}"
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# The target's command line names $T, so leftovers are found by assert_no_leftovers.
ln -s "$REFSERVER" "$T/refserver"
cat >"$T/long.ini" <<INI
[global]
command = exec $T/refserver --quiet --port \${port}
port = auto
cycles = 1000
publish_for = 300ms
[long]
INI

cycles_done() {
  local n
  n=$(grep -c '"event":"cycle_end"' "$T/ev.jsonl" 2>/dev/null || true)
  echo "${n:-0}"
}

for sig in INT TERM HUP; do
  case $sig in INT) want=130 ;; TERM) want=143 ;; HUP) want=129 ;; esac
  rm -f "$T/ev.jsonl" "$T/r.json"
  "$REBOUND" run "$T/long.ini" --json "$T/r.json" --junit "$T/r.xml" --events "$T/ev.jsonl" \
    --artifacts "$T/art-$sig" --no-progress >"$T/out" 2>"$T/err" &
  pid=$!
  # Signal it mid-run: after two cycles, while the third is under way.
  for ((i = 0; i < 600 && $(cycles_done) < 2; i++)); do
    kill -0 "$pid" 2>/dev/null || { cat "$T/out" "$T/err" >&2; fail "rebound exited early"; }
    sleep 0.05
  done
  [ "$(cycles_done)" -ge 2 ] || fail "two cycles did not end within 30 s"
  # between a fault and the restart no target runs for a moment: wait (bounded) for one
  for ((i = 0; i < 200; i++)); do pgrep -f -- "$T/refserver" >/dev/null && break; sleep 0.05; done
  pgrep -f -- "$T/refserver" >/dev/null || fail "no target running before SIG$sig"
  t0=$(now_ms)
  kill -s "$sig" "$pid"
  set +e
  timeout -s KILL 15 tail --pid="$pid" -f /dev/null
  wait "$pid"
  code=$?
  set -e
  ms=$(( $(now_ms) - t0 ))
  [ "$code" -eq "$want" ] || { cat "$T/out" "$T/err" >&2; fail "SIG$sig: exit $code, want $want"; }
  [ "$ms" -lt 5000 ] || fail "SIG$sig: the run took $ms ms to stop"
  json '.result == "interrupted"'
  json '.scenarios[0].cycles | length >= 2'
  xmllint --noout "$T/r.xml" || fail "SIG$sig: --junit output does not parse"
  assert_no_leftovers "$T/refserver"
  echo "SIG$sig: exit $code after $ms ms, $(jq '.scenarios[0].cycles | length' "$T/r.json") cycles reported"
done

# fault = sigterm against a main process that ignores SIGTERM: after grace the
# generation is SIGKILLed. The shell stays the main process (no exec), ignoring
# TERM; the server is its child. A cooperative target shows the difference.
for kind in ignores cooperates; do
  if [ $kind = ignores ]; then
    cmd="trap '' TERM; $T/refserver --quiet --port \${port}; exit 0"
  else
    cmd="exec $T/refserver --quiet --port \${port}"
  fi
  cat >"$T/grace.ini" <<INI
[global]
command = $cmd
port = auto
cycles = 2
publish_for = 100ms
fault = sigterm
grace = 500ms
[grace-$kind]
INI
  rm -f "$T/r.json"
  run_rebound 60 run "$T/grace.ini" --json "$T/r.json" --artifacts "$T/art-$kind" --no-progress
  expect_code 0 "fault = sigterm, target that $kind"
  json '.result == "pass"'
  json '[.scenarios[0].cycles[] | select(.result == "pass")] | length == 2'
  # From SIGTERM to the generation gone, per cycle, in ms.
  fault_ms=$(jq '[.scenarios[0].cycles[] | (.fault_done_at_ns - .fault_at_ns) / 1e6 | floor] | join(" ")' -r "$T/r.json")
  for ms in $fault_ms; do
    if [ $kind = ignores ]; then
      [ "$ms" -ge 500 ] && [ "$ms" -lt 3000 ] || fail "ignoring target gone after $ms ms, want grace (500 ms) .. 3 s"
    else
      [ "$ms" -lt 500 ] || fail "cooperative target took $ms ms to go (should not wait for grace)"
    fi
  done
  echo "target that $kind SIGTERM: gone after $fault_ms ms"
  assert_no_leftovers "$T/refserver"
done

pass "SIGINT/SIGTERM/SIGHUP end the run (130/143/129, JSON interrupted, no leftovers); SIGKILL after grace"
