#!/usr/bin/env bash
# Issue 12.4: a player's reconnect is not its first frame. A server that starts a new
# player at the next keyframe (rebound-refserver, nginx-rtmp's wait_key) makes a
# player wait up to a GOP after it is playing again, and the frames sent to the
# restarted server meanwhile never reach it. With the default clip that happened only
# when the player happened to re-subscribe after the publisher (a 1 s stall in some
# cycles, passing silently); a clip that starts mid-GOP makes it every cycle. rebound
# must show it: reconnect per client kind, the player's first frame, the frames
# skipped after the restart (a warning: only frames sent while the server was down
# may be lost), and frames missing after the first frame would fail the cycle.
source "$(dirname "$0")/lib.sh"
schema="$SRC/tests/fixtures/results-schema-1.json"

# The built-in clip (2 s, an IDR every second) without its first IDR: every session
# starts with 24 inter frames, and the next keyframe is 1 s into it.
python3 - "$SRC/harness/media_clip.c" "$T/mid-gop.flv" <<'PY'
import re, sys
src = open(sys.argv[1]).read()
data = bytes(int(x, 16) for x in re.findall(r'0x([0-9a-f]{2})', src[src.index('{') + 1:src.index('};')]))
out, pos, dropped = bytearray(data[:13]), 13, False
while pos + 11 <= len(data):
    size = int.from_bytes(data[pos + 1:pos + 4], 'big')
    tag = data[pos:pos + 11 + size]
    keyframe_nalu = tag[0] == 9 and tag[11] >> 4 == 1 and tag[12] == 1
    if keyframe_nalu and not dropped:
        dropped = True
    else:
        out += tag + (11 + size).to_bytes(4, 'big')
    pos += 11 + size + 4
assert dropped
open(sys.argv[2], 'wb').write(out)
PY

cat >"$T/s.ini" <<INI
[resume]
command = exec $REFSERVER --quiet --port \${port}
port = auto
cycles = 3
publishers = 1
players = 1
holders = 0
publish_for = 300ms
media = $T/mid-gop.flv
INI
run_rebound 90 run "$T/s.ini" --json "$T/r.json" --artifacts "$T/art"
expect_code 0 "frames skipped before a player's first frame are a warning, not a failure"
jsonschema -i "$T/r.json" "$schema" || fail "results do not match schema 1"
json '(.scenarios[0].cycles | length) == 3'
# per client kind: the publisher and the player are back at once, the first frame waits
# for the keyframe, which the publisher sends about 1 s into its session
json '[.scenarios[0].cycles[] | .reconnect_ms_by_kind.publishers >= 0 and .reconnect_ms_by_kind.players >= 0] | all'
json '[.scenarios[0].cycles[] | .first_frame_ms - .reconnect_ms_by_kind.publishers >= 500] | all'
json '[.scenarios[0].cycles[] | .first_frame_ms == .reconnect_ms] | all'
# the frames sent to the restarted server before the keyframe never reached the player
json '[.scenarios[0].cycles[] | .frames.skipped_after_restart >= 20 and .frames.lost_after_reconnect == 0] | all'
json '.scenarios[0].summary.first_frame_ms.count == 3 and .scenarios[0].summary.reconnect_publishers_ms.count == 3'
json '[.scenarios[0].warnings[] | test("^players missed [0-9]+ frames sent to the restarted server before their first frame \\(3 of 3 cycles")] | any'
expect_in "$T/out" "first frame"
expect_in "$T/out" "frames skipped)"
expect_in "$T/out" "warning: players missed"
assert_no_leftovers "$T/art"
pass "a player's first frame after the restart, and the frames it skipped, are reported per cycle"
