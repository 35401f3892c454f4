#!/usr/bin/env bash
# The node-media-server v4 preset, every scenario of it, against the NMS that
# tests/setup.sh installs: each scenario's exact outcome is asserted (NMS is a
# single process that sets SO_REUSEADDR, so every fault kind recovers, and none is
# expect = fail). Then the stats check must be able to fail: a stat_expect that the
# REST API never shows turns the run into a failure that names stat_url.
source "$(dirname "$0")/lib.sh"
ini="$SRC/scenarios/node-media-server.ini"
nms=${NMS_HOME:-/opt/rebound/nms/node_modules/node-media-server}
command -v node >/dev/null || fail "node not installed: run tests/setup.sh"
[ -f "$nms/bin/app.js" ] || fail "node-media-server not found in $nms: run tests/setup.sh"

scenarios='["kill-while-publishing","kill-while-idle","crash-main-only","hang-then-kill","graceful-stop"]'
faults='["sigkill","sigkill","sigkill-main","hang","sigterm"]'

run_rebound 240 run "$ini" --set cycles=2 --json "$T/r.json" --artifacts "$T/art"
expect_code 0 "every NMS scenario recovers"
expect_in "$T/out" "result: pass"
json ".result == \"pass\""
json "[.scenarios[].name] == $scenarios"
json "[.scenarios[].cycles[0].fault] == $faults"
json '[.scenarios[] | .result == "pass" and (.cycles | length) == 2] | all'
json '[.scenarios[].cycles[] | .result == "pass" and .rebind_ms > 0 and .reconnect_ms > 0] | all'
json '[.scenarios[].cycles[] | .clients.publishers_ok == 1 and .clients.holders == 2] | all'
# the player of kill-while-publishing got frames again after every restart
json '[.scenarios[0].cycles[] | .clients.players_ok == 1 and .frames.received > 0] | all'
# and so did its HTTP-FLV player (NMS v4 serves /live/STREAM.flv on the HTTP port)
json '[.scenarios[0].cycles[] | .players.flv.ok == 1 and .players.flv.received > 0 and .players.flv.recovery_ms > 0] | all'
json '[.scenarios[0].cycles[] | .players.flv.lost_after_reconnect == 0] | all'
# its HTTP port (HTTP-FLV, API) is judged like the RTMP port: both rebound after every restart
json '[.scenarios[0].cycles[] | (.targets[0].ports | length) == 2 and .targets[0].ports[1].port != .targets[0].ports[0].port
      and all(.targets[0].ports[]; .rebind_ms > 0)] | all'
json '[.scenarios[] | .exercised_classic_bug] | all'
[ -s "$T/art/kill-while-publishing/server-0.log" ] || fail "no NMS log for the first start"
expect_in "$T/art/kill-while-publishing/server-0.log" "Node-Media-Server v4."
assert_no_leftovers "$T/art"

run_rebound 120 run "$ini" --only kill-while-publishing --set cycles=1 \
  --set 'stat_expect="name":"not-${stream}"' --json "$T/r.json" --artifacts "$T/art-stat"
expect_code 1 "a stream the NMS API does not list"
json '.scenarios[0].result == "fail"'
json '.scenarios[0].cycles[0].failures | any(test("stat_url .*/api/v1/streams.* does not show"))'
assert_no_leftovers "$T/art-stat"
pass "5 scenarios x 2 cycles against node-media-server, and the stats check bites"
