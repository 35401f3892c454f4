#!/usr/bin/env bash
# What CI and people read: JUnit (xmllint), JSON (against the JSON Schema), JSON Lines
# events, the HTML page, XFAIL/XPASS, --baseline, and the files of an interrupted run.
source "$(dirname "$0")/lib.sh"
ini="$SRC/tests/fixtures/failure-matrix.ini"
schema="$SRC/tests/fixtures/results-schema-1.json"

# a passing and a failing scenario in one run
run_rebound 90 run "$ini" --only plain --only no-reuseaddr --set cycles=2 --json "$T/r.json" \
  --junit "$T/r.xml" --html "$T/r.html" --events "$T/ev.jsonl" --artifacts "$T/art"
expect_code 1 "one scenario fails"
jsonschema -i "$T/r.json" "$schema" || fail "results do not match schema 1"
xmllint --noout "$T/r.xml" || fail "JUnit is not well-formed"
[ "$(xmllint --xpath 'count(/testsuites/testsuite)' "$T/r.xml")" = 2 ] || fail "one testsuite per scenario"
[ "$(xmllint --xpath 'count(//testsuite[@name="plain"]/testcase)' "$T/r.xml")" = 2 ] || fail "a testcase per cycle"
[ "$(xmllint --xpath 'count(//testsuite[@name="plain"]//failure)' "$T/r.xml")" = 0 ] || fail "plain has no failure"
xmllint --xpath 'string(//testsuite[@name="no-reuseaddr"]//failure/@message)' "$T/r.xml" | grep "SO_REUSEADDR" >/dev/null \
  || fail "the failure carries the diagnosis"
xmllint --xpath 'string(//testsuite[@name="no-reuseaddr"]//system-out)' "$T/r.xml" | grep "Address already in use" >/dev/null \
  || fail "the server's log tail is in system-out"
xmllint --noout "$T/r.html" || fail "HTML is not well-formed"
grep -q "<svg" "$T/r.html" || fail "HTML has no chart"
grep -q "Clients back after the restart (reconnect = rebound:first=2ms" "$T/r.html" || fail "HTML has no arrival chart"
jq -e '.scenarios[0].cycles[0] | (.arrivals | length) >= 1 and .arrivals[-1][1] == .clients.publishers_ok and .last_back_ms >= 0' \
  "$T/r.json" >/dev/null || fail "JSON lacks the arrival curve"
grep -q "does not set SO_REUSEADDR" "$T/r.html" || fail "HTML lacks the diagnosis"
grep -q 'href=\|src=' "$T/r.html" && fail "HTML refers to external assets"
jq -e -s 'length > 0' "$T/ev.jsonl" >/dev/null || fail "events are not JSON Lines"
jq -e -s '[.[].event] | index("fault") < index("rebind") and index("rebind") < index("cycle_end")' \
  "$T/ev.jsonl" >/dev/null || fail "events out of order"
[ -s "$T/art/results.json" ] && [ -s "$T/art/plain/sockets-1.txt" ] || fail "artifacts incomplete"

# expect = fail: a known bug is XFAIL (exit 0); a fixed one shows up as XPASS
run_rebound 60 run "$ini" --only no-reuseaddr --set expect=fail --json "$T/r.json" --junit "$T/x.xml"
expect_code 0 "XFAIL does not fail the run"
json '.scenarios[0].result == "xfail"'
[ "$(xmllint --xpath 'count(//skipped)' "$T/x.xml")" -ge 1 ] || fail "XFAIL is a skipped testcase in JUnit"
run_rebound 60 run "$ini" --only plain --set expect=fail --set cycles=1 --json "$T/r.json"
expect_code 0 "XPASS"
json '.scenarios[0].result == "xpass"'
expect_in "$T/out" "xpass"

# --baseline: an impossibly fast baseline is a regression, a slow one is not. The
# regressing run is the "stale" server, which refuses every republish for 1 s after a
# restart: its reconnect p99 is at least 1 s on any machine, so it exceeds a 0.01 ms
# baseline by far more than the default 25 % and 5 ms, however fast the machine is.
run_rebound 60 run "$ini" --only stale --json "$T/base.json"
expect_code 0 "baseline run"
jq -e '.scenarios[0].summary.reconnect_ms.p99 >= 900' "$T/base.json" >/dev/null || fail "the stale server refused republish for less than 1 s"
jq '.scenarios[0].summary.rebind_ms.p99 = 0.01 | .scenarios[0].summary.reconnect_ms.p99 = 0.01' "$T/base.json" >"$T/fast.json"
jq '.scenarios[0].summary.rebind_ms.p99 = 99999 | .scenarios[0].summary.reconnect_ms.p99 = 99999' "$T/base.json" >"$T/slow.json"
run_rebound 60 run "$ini" --only stale --baseline "$T/fast.json"
expect_code 1 "p99 regressed against the baseline"
expect_in "$T/out" "REGRESSED"
run_rebound 60 run "$ini" --only stale --baseline "$T/slow.json"
expect_code 0 "no regression"
echo '{"schema": 2}' >"$T/bad.json"
run_rebound 20 run "$ini" --only plain --baseline "$T/bad.json"
expect_code 2 "a baseline that is not schema 1"

# thresholds on p99: one below the stale server's 1 s refusal fails the run and says which
# (its cycles still pass: the threshold is judged on the summary)
run_rebound 60 run "$ini" --only stale --set max_reconnect_ms=500 --json "$T/r.json"
expect_code 1 "max_reconnect_ms exceeded"
expect_in "$T/out" "exceeds max_reconnect_ms 500"
json '.scenarios[0].result == "fail" and (.scenarios[0].cycles | map(.result == "pass") | all)'
run_rebound 60 run "$ini" --only plain --set cycles=2 --set max_reconnect_ms=60000 --set max_rebind_ms=60000
expect_code 0 "generous thresholds"

# interrupted: SIGINT after the first cycle; every file still parses
"$REBOUND" run "$ini" --only plain --set cycles=500 --json "$T/i.json" --junit "$T/i.xml" \
  --html "$T/i.html" --events "$T/i.jsonl" --artifacts "$T/art-int" >"$T/iout" 2>&1 &
pid=$!
for _ in $(seq 1 200); do grep -q "cycle 1/500" "$T/iout" && break; sleep 0.05; done
kill -INT $pid
set +e; wait $pid; code=$?; set -e
[ $code -eq 130 ] || fail "SIGINT exit code $code, expected 130"
jq -e '.result == "interrupted" and (.scenarios[0].cycles | length) >= 1' "$T/i.json" >/dev/null \
  || fail "interrupted JSON"
jsonschema -i "$T/i.json" "$schema" || fail "interrupted results do not match the schema"
xmllint --noout "$T/i.xml" "$T/i.html" || fail "interrupted JUnit/HTML not well-formed"
jq -e -s 'length > 0' "$T/i.jsonl" >/dev/null || fail "interrupted events"
assert_no_leftovers "$T/art-int"
pass "JUnit, JSON, events, HTML, XFAIL/XPASS, baseline, interruption"
