#!/usr/bin/env bash
# rebound run against a real nginx-rtmp started by rebound itself: every cycle
# rebinds and reconnects, the classic condition (FIN_WAIT2/TIME_WAIT) is created,
# the JSON says so, and nothing of nginx is left afterwards.
source "$(dirname "$0")/lib.sh"

run_rebound 240 run "$SRC/scenarios/nginx-rtmp.ini" --only kill-while-publishing --cycles 3 --json "$T/r.json" --artifacts "$T/art"
expect_code 0 "nginx-rtmp restarts cleanly"
expect_in "$T/out" "rebind"
expect_in "$T/out" "result: pass"
json '.schema == 1 and .result == "pass"'
json '.scenarios | length == 1'
json '.scenarios[0].name == "kill-while-publishing" and .scenarios[0].result == "pass"'
json '.scenarios[0].cycles | length == 3'
json '[.scenarios[0].cycles[] | .result == "pass" and .rebind_ms > 0 and .reconnect_ms > 0] | all'
json '[.scenarios[0].cycles[] | .clients.publishers_ok == 1 and .clients.holders == 2] | all'
json '[.scenarios[0].cycles[] | .frames.sent > 0] | all'
json '.scenarios[0].summary.rebind_ms.count == 3'
json '.scenarios[0].summary.rebind_ms.p50 <= .scenarios[0].summary.rebind_ms.p99'
json '.scenarios[0].summary.reconnect_ms.p99 <= .scenarios[0].summary.reconnect_ms.max'
# holders must have left the killed server's side in FIN_WAIT2/TIME_WAIT at restart
json '.scenarios[0].exercised_classic_bug == true'
json '[.scenarios[0].cycles[] | (.port_states_at_restart.FIN_WAIT2 + .port_states_at_restart.TIME_WAIT) >= 1] | any'
[ -s "$T/art/kill-while-publishing/server-0.log" ] || fail "no server log for the first start"
assert_no_leftovers "$T/art"
pass "3 cycles against nginx-rtmp"
