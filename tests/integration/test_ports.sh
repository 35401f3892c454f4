#!/usr/bin/env bash
# Every port (issue 14): a target's rebind is judged on every port its tree LISTENed
# on at first start, each with its own time in the JSON (cycles[].targets[].ports[]),
# and a second port that does not come back fails the run with a diagnosis naming it.
source "$(dirname "$0")/lib.sh"
ini="$SRC/tests/fixtures/ports.ini"

run_rebound 60 run "$ini" --only two-ports --json "$T/r.json" --artifacts "$T/art"
expect_code 0 "both ports of the refserver come back"
json '[.scenarios[0].cycles[] | .targets | length == 1] | all'
json '[.scenarios[0].cycles[] | .targets[0].ports | length == 2] | all'
# the first port is the scenario's, and its rebind time is today's rebind_ms
json '.scenarios[0] as $s | [$s.cycles[] | .targets[0].ports[0].port == $s.port] | all'
json '[.scenarios[0].cycles[] | .targets[0].ports[0].rebind_ms == .rebind_ms] | all'
json '[.scenarios[0].cycles[] | .targets[0].ports[1] | .port != null and .rebind_ms > 0] | all'
json '[.scenarios[0].cycles[] | .targets[0].restarted] | all'
# the port holders left the killed server's sockets on the second port too
json '[.scenarios[0].cycles[] | .targets[0].ports[1].states_at_restart | (.FIN_WAIT2 + .TIME_WAIT) >= 1] | any'
jsonschema -i "$T/r.json" "$SRC/tests/fixtures/results-schema-1.json" || fail "results do not match schema 1"
assert_no_leftovers "$T/art"

run_rebound 60 run "$ini" --only extra-no-reuseaddr --json "$T/r.json" --artifacts "$T/art2"
expect_code 1 "the second port does not come back"
json '.scenarios[0].cycles[0] as $c | $c.targets[0].ports[1].rebind_ms == null and $c.targets[0].ports[0].rebind_ms > 0'
json '.scenarios[0].cycles[0] as $c | $c.diagnosis == "port \($c.targets[0].ports[1].port), which the target also listened on at first start, did not come back: bind() failed with EADDRINUSE while \($c.targets[0].ports[1].states_at_restart.FIN_WAIT2) sockets of the killed server were in FIN_WAIT2: the server does not set SO_REUSEADDR"'
# today's fields keep their meaning: the first port did rebind
json '.scenarios[0].cycles[0].rebind_ms > 0'
expect_in "$T/out" "which the target also listened on at first start, did not come back"
assert_no_leftovers "$T/art2"
# nginx-rtmp listens on RTMP and HTTP (/stat): both are found and judged
if command -v nginx >/dev/null; then
  run_rebound 120 run "$SRC/scenarios/nginx-rtmp.ini" --only kill-while-publishing --cycles 2 --json "$T/r.json" \
    --artifacts "$T/art3"
  expect_code 0 "nginx-rtmp, both ports"
  http=$(sed -n 's/^ *listen 127.0.0.1:\([0-9]*\);/\1/p' "$T/art3/kill-while-publishing/nginx-rtmp.conf" | tail -n1)
  [ -n "$http" ] || fail "no http listen line in the rendered nginx config"
  json '.scenarios[0] as $s | [$s.cycles[] | .targets[0].ports | length == 2 and .[0].port == $s.port] | all'
  json "[.scenarios[0].cycles[] | .targets[0].ports[1] | .port == $http and .rebind_ms > 0] | all"
  assert_no_leftovers "$T/art3"
fi
pass "both ports judged; the one that did not come back is named"
