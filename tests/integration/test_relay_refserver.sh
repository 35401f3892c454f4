#!/usr/bin/env bash
# Relays (issue 14): scenarios/refserver-relay.ini, an origin and an edge that pulls
# from it. Killing either hop or both, every cycle passes with the players on the edge
# receiving new frames again (recovery_ms); an edge that never pulls again fails with
# the sentence that names the hop, and without expect = fail the run exits 1.
source "$(dirname "$0")/lib.sh"
ini="$SRC/scenarios/refserver-relay.ini"

run_rebound 120 run "$ini" --only origin-dies --only edge-dies --only both-die --cycles 2 --json "$T/r.json" \
  --artifacts "$T/art" --html "$T/r.html" --junit "$T/r.xml"
expect_code 0 "every hop of the relay recovers"
# console, JUnit and HTML: a line per target per cycle, the recovery, the topology
grep -Eq '^    edge: not restarted, players recovered [0-9.]+ ms after the restart$' "$T/out" || { cat "$T/out" >&2; fail "no edge line on the console"; }
grep -Eq '^    origin: restarted, rebind port [0-9]+ [0-9.]+ ms$' "$T/out" || fail "no origin line on the console"
grep -Eq 'cycle 1/2 pass .* recovery [0-9.]+ ms' "$T/out" || fail "no recovery on the cycle line"
xmllint --noout "$T/r.html" "$T/r.xml" || fail "HTML or JUnit is not well-formed"
xmllint --xpath 'count(//*[local-name()="testcase"]/*[local-name()="system-out"][contains(., "edge: not restarted, players recovered")])' "$T/r.xml" | grep -qx 2 || fail "JUnit: no edge line in the origin-dies testcases"
xmllint --xpath '//*[local-name()="h3"][.="Topology"]/following-sibling::*[local-name()="svg"][1]//*[local-name()="rect"][@class="killed"]/following-sibling::*[local-name()="text"][1]' "$T/r.html" | grep -q ">origin<" || fail "HTML: the topology does not mark the killed origin"
grep -q "Targets per cycle" "$T/r.html" || fail "HTML: no targets table"
json '[.scenarios[] | .result == "pass" and (.cycles | length) == 2] | all'
# origin-dies: players stay on the edge; the stream comes back through it
json '.scenarios[0].cycles | all(.recovery_ms > 0 and .targets[0].name == "origin" and .targets[0].restarted
      and (.targets[1] | .name == "edge" and (.restarted | not) and .recovery_ms == .recovery_ms))'
json '.scenarios[0].cycles | all(.frames.lost_after_reconnect == 0 and .clients.players_ok == 2)'
json '.scenarios[0].summary.recovery_ms.count == 2 and (.scenarios[1].summary | has("recovery_ms") | not)'
grep -Eq '^  recovery +[0-9.]+ +[0-9.]+ +[0-9.]+ +[0-9.]+  ms \(2 samples\)$' "$T/out" || fail "no recovery row in the summary"
# edge-dies: the players reconnect to the restarted edge; no recovery through another target
json '.scenarios[1].cycles | all(.targets[1].restarted and (.targets[0].restarted | not) and (has("recovery_ms") | not)
      and .reconnect_ms > 0 and .clients.players_ok == 2)'
# both-die: both restarted, each with its own rebind
json '.scenarios[2].cycles | all(.targets | all(.restarted and .ports[0].rebind_ms > 0))'
[ -s "$T/art/origin-dies/edge/server-0.log" ] && [ -s "$T/art/origin-dies/origin/server-1.log" ] ||
  fail "no per-target logs"
jsonschema -i "$T/r.json" "$SRC/tests/fixtures/results-schema-1.json" || fail "results do not match schema 1"
assert_no_leftovers "$T/art"

# HTTP-FLV players play from play_from (the edge): its http_port is in their URL and
# among the ports judged at every restart
run_rebound 120 run "$ini" --only edge-dies-flv --json "$T/r.json" --artifacts "$T/art-flv"
expect_code 0 "HTTP-FLV players on a restarted edge"
json '.scenarios[0].cycles | length == 2 and all(.result == "pass" and .players.flv.planned == 1
      and .players.flv.ok == 1 and .players.flv.recovery_ms > 0 and .targets[1].restarted
      and (.targets[1].ports | length) == 2 and all(.targets[1].ports[]; .rebind_ms > 0))'
flv_port=$(jq -r '.scenarios[0].cycles[0].targets[1].ports[1].port' "$T/r.json")
grep -q "http-flv play live/rebound-0" "$T/art-flv/edge-dies-flv/edge/server-0.log" ||
  fail "the HTTP-FLV player did not play from the edge"
expect_in "$T/art-flv/edge-dies-flv/edge/server-0.log" "http-flv listening on 127.0.0.1:$flv_port"
jsonschema -i "$T/r.json" "$SRC/tests/fixtures/results-schema-1.json" || fail "FLV results do not match schema 1"
assert_no_leftovers "$T/art-flv"

# the origin reloads: nothing restarts, its old worker drains, the players on the edge get
# new frames again through the new worker
run_rebound 120 run "$ini" --only origin-reloads --json "$T/r.json" --artifacts "$T/art-rl"
expect_code 0 "a reload of the origin"
json '.scenarios[0].cycles | length == 2 and all(.fault == "reload" and .result == "pass" and .rebind_ms == 0
      and .drain_ms != null and .recovery_ms > 0 and (.targets | all(.restarted | not))
      and .targets[1].recovery_ms == .recovery_ms and .clients.players_ok == 2)'
expect_in "$T/art-rl/origin-reloads/origin/server-0.log" "SIGQUIT: shutting down"
jsonschema -i "$T/r.json" "$SRC/tests/fixtures/results-schema-1.json" 2>/dev/null || fail "reload results do not match schema 1"
assert_no_leftovers "$T/art-rl"

# the edge that never pulls again: XFAIL as shipped, exit 1 once expect = pass
run_rebound 60 run "$ini" --only edge-never-repulls --json "$T/r2.json" --artifacts "$T/art2"
expect_code 0 "XFAIL"
run_rebound 60 run "$ini" --only edge-never-repulls --set expect=pass --json "$T/r.json" --artifacts "$T/art3"
expect_code 1 "an edge that never pulls again"
json '.scenarios[0].cycles[0].diagnosis | test("^edge edge did not resume pulling from origin origin within 4 s \\(0/2 players receive new frames; .*\\); its log: .*--no-repull: not pulling again")'
json '.scenarios[0].cycles[0] | .recovery_ms == null and .reconnect_ms > 0 and .targets[1].recovery_ms == null'
expect_in "$T/out" "edge edge did not resume pulling from origin origin"
assert_no_leftovers "$T/art3"
pass "origin, edge and both die and recover; the edge that never re-pulls is named"
