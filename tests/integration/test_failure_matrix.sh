#!/usr/bin/env bash
# The failure matrix (issue 5): rebound run must catch each failure that
# rebound-refserver's switches reproduce, with the right exit code and diagnosis,
# and pass the healthy and recoverable ones.
source "$(dirname "$0")/lib.sh"
ini="$SRC/tests/fixtures/failure-matrix.ini"

row() { # NAME LIMIT
  run_rebound "$2" run "$ini" --only "$1" --json "$T/r.json" --artifacts "$T/art-$1"
  assert_no_leftovers "$T/art-$1"
}

row plain 60
expect_code 0 "plain refserver"
json '.result == "pass" and (.scenarios[0].cycles | length) == 3'

row no-reuseaddr 60
expect_code 1 "--no-reuseaddr"
json '.scenarios[0].cycles[0].diagnosis | test("^bind\\(\\) failed with EADDRINUSE while [0-9]+ sockets? of the killed server (was|were) in [A-Z_0-9]+.*: the server does not set SO_REUSEADDR$")'
json '.scenarios[0].cycles[0].log_tail | test("Address already in use")'
expect_in "$T/out" "the server does not set SO_REUSEADDR"

row workers 60
expect_code 1 "--workers 2 with sigkill-main"
json '.scenarios[0].cycles[0].diagnosis | test("still LISTENed by pid [0-9]+ \\(.*refserver.*\\), a surviving child of the killed server")'

row reject 60
expect_code 1 "--reject-publish"
json '.scenarios[0].cycles[0].diagnosis | test("NetStream.Publish.Denied")'
expect_in "$T/out" "NetStream.Publish.Denied"

row stale 60
expect_code 0 "--stale-stream 1s recovers"
# the refused-republish window is recorded and is about the server's 1 s
json '[.scenarios[0].cycles[] | .stale_ms >= 800 and .stale_ms < 3000] | all'
json '[.scenarios[0].cycles[] | .reconnect_ms >= 800] | all'

row slow-start 60
expect_code 3 "--start-delay beyond ready_timeout"
expect_in "$T/out" "did not become ready"

row hang 90
expect_code 0 "--hang-after with fault = hang"
json '[.scenarios[0].cycles[] | .fault == "hang" and .result == "pass"] | all'

row stale-chunk 60
expect_code 1 "keep_across_reconnect = chunk-size"
json '.scenarios[0].cycles[0].diagnosis | test("^a protocol failure after the reconnect: .*kept chunk size 4096 from its previous connection and never announced it .*saw garbage")'
# the server's side of it: it dropped the connection for a malformed chunk stream
json '.scenarios[0].cycles[0].log_tail | test("closed: .*chunk")'
# the first session (chunk size announced) was fine: the failure is the reconnect's
json '.scenarios[0].cycles[0].rebind_ms != null and .scenarios[0].cycles[0].reconnect_ms == null'

row reload 60
expect_code 0 "fault = reload with a draining refserver"
# the port never stopped listening, the old worker left within reload_timeout
json '[.scenarios[0].cycles[] | .fault == "reload" and .result == "pass" and .rebind_ms == 0 and .drain_ms != null and .drain_ms < 3000] | all'
expect_in "$T/art-reload/reload/server-0.log" "SIGQUIT: shutting down"
jsonschema -i "$T/r.json" "$SRC/tests/fixtures/results-schema-1.json" 2>/dev/null || fail "reload results do not match schema 1"

row never-drain 60
expect_code 1 "--never-drain"
json '.scenarios[0].cycles[0].diagnosis | test("^old worker pid [0-9]+ \\(rebound-refserver: worker process is shutting down\\) has been shutting down for [0-9.]+ s, past reload_timeout 1000 ms.*: it never drains")'
json '.scenarios[0].cycles[0].drain_ms == null'

row obs 60
expect_code 0 "reconnect = obs"
json '.scenarios[0].reconnect_profile | startswith("obs:first=2s,factor=1.5,jitter=0.05,cap=15m,retries=25")'
# nobody is back before its first retry, 2 s after its disconnect, which came after the
# fault began: arrival + (restart - fault) >= 2000 ms, however fast or slow the machine
json '.scenarios[0].cycles[0] | .last_back_ms == .reconnect_ms and .gave_up == 0 and
      .arrivals[0][0] + (.restart_at_ns - .fault_at_ns) / 1e6 >= 2000'
json '.scenarios[0].cycles[0].arrivals | length == 3 and .[2][1] == 3'
jsonschema -i "$T/r.json" "$SRC/tests/fixtures/results-schema-1.json" 2>/dev/null || fail "obs results do not match schema 1"

row supervisor 60
expect_code 0 "reconnect = supervisor:300ms"
json '[.scenarios[0].cycles[] | .result == "pass" and .arrivals[0][0] + (.restart_at_ns - .fault_at_ns) / 1e6 >= 300] | all'

row gave-up 60
expect_code 1 "retries exhausted before the server is back"
json '.scenarios[0].cycles[0] | .gave_up == 3 and .last_back_ms == null and .reconnect_ms == null'
json '.scenarios[0].cycles[0].diagnosis | test("^clients gave up before the restarted server took them back.*3 gave up \\(retries exhausted\\).*gave up after 2 retries \\(reconnect = obs\\)")'

row http-flv 60
expect_code 0 "HTTP-FLV players of a healthy refserver"
json '[.scenarios[0].cycles[] | .result == "pass" and .players.flv.ok == 1 and .players.flv.received > 0 and .players.flv.recovery_ms > 0] | all'
json '.scenarios[0].summary.flv_recovery_ms.count == 3'

row http-flv-stall 60
expect_code 1 "--http-flv-stall after the restart"
json '.scenarios[0].cycles[0].players.flv.ok == 0 and .scenarios[0].cycles[0].clients.publishers_ok == 1'
json '.scenarios[0].cycles[0].diagnosis | test("^the restarted server took the publisher back but its HTTP-FLV output delivered no media to 1 of 1 players within [0-9]+ ms: HTTP-FLV player 0 .*no data for")'
expect_in "$T/out" "HTTP-FLV output delivered no media"

pass "every row of the failure matrix"
