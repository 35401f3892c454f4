#!/usr/bin/env bash
# HLS viewers across restarts (issue 18): nginx-rtmp writes HLS and serves it from
# the same nginx; rebound's HLS players poll the playlist, fetch and decode every
# new segment and check the publisher's sequence numbers across SIGKILL restarts.
# Then the checks must be able to fail: the same nginx with hls_continuous off and
# EXT-X-DISCONTINUITY stripped restarts its media sequence at 0 without saying so,
# and rebound must exit 1 with that sentence; and an nginx restarted without HLS
# must be named as serving no new segment.
source "$(dirname "$0")/lib.sh"
ini="$SRC/scenarios/nginx-rtmp.ini"

run_rebound 240 run "$ini" --only hls-kill-while-publishing --cycles 3 --json "$T/r.json" --artifacts "$T/art"
expect_code 0 "nginx-rtmp HLS comes back after every restart"
json '.result == "pass" and (.scenarios[0].cycles | length) == 3'
json '[.scenarios[0].cycles[] | .players.hls.planned == 2 and .players.hls.ok == 2] | all'
# new segments were taken, decoded, and carried the publisher's sequence numbers
json '[.scenarios[0].cycles[] | .players.hls.segments >= 2 and .players.hls.received > 0] | all'
json '[.scenarios[0].cycles[] | .players.hls.decode_errors == 0 and .players.hls.segments_without_sei == 0] | all'
json '[.scenarios[0].cycles[] | .players.hls.sequence_resets == 0 and .players.hls.lost_after_reconnect == 0] | all'
# the restart was seen (nginx-rtmp marks a new publish with EXT-X-DISCONTINUITY) and timed
json '[.scenarios[0].cycles[] | .hls_recovery_ms > 0 and .hls_recovery_ms <= .reconnect_ms] | all'
json '.scenarios[0].summary.hls_recovery_ms.count == 3'
# the HTTP port (HLS) is judged like the RTMP port: both rebound after every restart
json '.scenarios[0].port as $p | [.scenarios[0].cycles[] | (.targets[0].ports | length) == 2
      and .targets[0].ports[0].port == $p and .targets[0].ports[1].port != $p and all(.targets[0].ports[]; .rebind_ms > 0)] | all'
jsonschema -i "$T/r.json" "$SRC/tests/fixtures/results-schema-1.json" || fail "HLS results do not match schema 1"
expect_in "$T/out" "HLS players 2/2"
expect_in "$T/out" "hls recov"
# rebound report reads the HLS figures back: written again, the document is the same
cp "$T/r.json" "$T/first.json"
run_rebound 30 report "$T/first.json" --json "$T/again.json" --quiet
expect_code 0 "report --json of an HLS result"
diff <(jq -S . "$T/first.json") <(jq -S . "$T/again.json") >&2 || fail "HLS figures do not survive rebound report"
run_rebound 30 report "$T/first.json" --metrics "$T/m.prom" --quiet
expect_in "$T/m.prom" 'rebound_hls_recovery_seconds_count{scenario="hls-kill-while-publishing"} 3'
promtool check metrics <"$T/m.prom" >&2 || fail "metrics with HLS recovery refused by promtool"
assert_no_leftovers "$T/art"

run_rebound 240 run "$ini" --only hls-kill-while-publishing --cycles 1 \
  --set "config_template=$SRC/tests/fixtures/nginx-hls-reset.conf.in" --json "$T/r.json" --artifacts "$T/art2"
expect_code 1 "a media sequence restarted at 0 without EXT-X-DISCONTINUITY"
json '.scenarios[0].cycles[0].players.hls.sequence_resets >= 1'
json '.scenarios[0].cycles[0].diagnosis | test("^the HLS media sequence went back from [0-9]+ to 0 without EXT-X-DISCONTINUITY or a new EXT-X-DISCONTINUITY-SEQUENCE: players waiting for segment [0-9]+ stall$")'
expect_in "$T/out" "without EXT-X-DISCONTINUITY"
assert_no_leftovers "$T/art2"
# And HLS that does not come back: the restart runs nginx without the section's HLS
# include, so the killed server's playlist stays on disk, served but never updated,
# while RTMP recovers.
run_rebound 240 run "$ini" --only hls-kill-while-publishing --cycles 1 --set reconnect_timeout=4s \
  --set 'restart_command=cd ${run_dir} && sed "/nginx-rtmp.d/d" ${config} > no-hls.conf && exec nginx -p ${run_dir} -c ${run_dir}/no-hls.conf -e stderr' \
  --json "$T/r.json" --artifacts "$T/art3"
expect_code 1 "HLS that stays stale after the restart"
json '.scenarios[0].cycles[0].clients.publishers_ok == 1 and .scenarios[0].cycles[0].players.hls.ok == 0'
json '.scenarios[0].cycles[0].diagnosis | test("^the restarted server took the publisher back but served no new HLS segment to 2 of 2 players within 4000 ms: HLS player 0 .*no new segment yet")'
assert_no_leftovers "$T/art3"
pass "HLS players across nginx-rtmp restarts; a sequence reset and a stale playlist are caught"
