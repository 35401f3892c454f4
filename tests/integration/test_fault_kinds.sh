#!/usr/bin/env bash
# Every fault kind, fault moment (fault_at) and readiness probe passes against a
# healthy server, and the run records what it did.
source "$(dirname "$0")/lib.sh"

run_rebound 120 run "$SRC/tests/fixtures/fault-kinds.ini" --json "$T/r.json" --artifacts "$T/art"
expect_code 0 "every fault kind and moment recovers"
json '[.scenarios[] | .result == "pass"] | all'
json '[.scenarios[] | select(.name == "exec-fault") | .cycles[] | .fault == "exec"] | all'
json '[.scenarios[] | .cycles[] | .clients.players_ok == 1 and .frames.lost_after_reconnect == 0] | all'
json '[.scenarios[] | select(.name == "ready-rtmp" or .name == "ready-tcp") | .cycles[] | .ready_ms >= .rebind_ms] | all'
assert_no_leftovers "$T/art"

# ready = http: nginx's /stat page on its http_port
run_rebound 120 run "$SRC/scenarios/nginx-rtmp.ini" --only kill-while-publishing --cycles 2 \
  --set 'ready=http://${host}:${http_port}/stat' --json "$T/r.json" --artifacts "$T/art-http"
expect_code 0 "ready = http:// URL"
json '[.scenarios[0].cycles[] | .ready_ms >= .rebind_ms] | all'
assert_no_leftovers "$T/art-http"
pass "fault kinds, fault moments and readiness probes"
