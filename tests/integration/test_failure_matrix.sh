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
