#!/usr/bin/env bash
# nginx-rtmp relays (issue 14): scenarios/nginx-rtmp-relay.ini against real nginx
# servers started by rebound -- an edge that pulls from an origin (the origin dies, the
# edge dies, both die) and an origin that pushes to a recorder. Every cycle passes,
# players on a target the fault did not hit get new frames again (recovery_ms), and
# every nginx is judged on both its ports (RTMP and the HTTP /stat).
source "$(dirname "$0")/lib.sh"
command -v nginx >/dev/null || fail "nginx is not installed (tests/setup.sh installs it)"

run_rebound 280 run "$SRC/scenarios/nginx-rtmp-relay.ini" --cycles 2 --json "$T/r.json" --artifacts "$T/art"
expect_code 0 "nginx-rtmp relays recover"
json '[.scenarios[] | .name] == ["origin-dies", "edge-dies", "both-die", "push-origin-dies"]'
json '[.scenarios[] | .result == "pass" and (.cycles | length) == 2] | all'
json '[.scenarios[].cycles[].targets[] | .ports | length == 2] | all'
json '[.scenarios[].cycles[].targets[] | select(.restarted) | .ports | all(.rebind_ms > 0)] | all'
# through the relay: players on the edge / the recorder, which was not restarted
json '[.scenarios[0, 3].cycles[] | .recovery_ms > 0 and .frames.lost_after_reconnect == 0] | all'
json '[.scenarios[0].cycles[] | .targets[1] | .name == "edge" and (.restarted | not) and .recovery_ms > 0] | all'
json '[.scenarios[3].cycles[] | .targets[0] | .name == "recorder" and .recovery_ms > 0] | all'
# the edge restarted: its players reconnect, nothing is recovered through another target
json '[.scenarios[1, 2].cycles[] | has("recovery_ms") | not] | all'
json '[.scenarios[].cycles[] | .clients.players_ok == 2 and .clients.publishers_ok == 1] | all'
grep -q "pull rtmp://127.0.0.1:" "$T/art/origin-dies/edge/nginx-rtmp-edge.conf" || fail "the edge's config has no pull"
grep -q "push rtmp://127.0.0.1:" "$T/art/push-origin-dies/pusher/nginx-rtmp-push.conf" || fail "no push in the pusher's config"
assert_no_leftovers "$T/art"
pass "nginx-rtmp pull and push relays: every hop recovers"
