#!/usr/bin/env bash
# Every scenario file in scenarios/ parses (`rebound run FILE --parse-only`), names
# the config templates it uses, and says in its header how to get the server. The
# presets of real servers run every fault kind; the ones CI cannot run say so.
source "$(dirname "$0")/lib.sh"
shopt -s nullglob
files=("$SRC"/scenarios/*.ini)
[ ${#files[@]} -ge 7 ] || fail "expected at least 7 scenario files, found ${#files[@]}"

for f in "${files[@]}"; do
  name=$(basename "$f")
  run_rebound 20 run "$f" --parse-only
  expect_code 0 "$name parses"
  expect_in "$T/out" "OK:"
  head -1 "$f" | grep '^;' >/dev/null || fail "$name does not start with a header comment"
  # every ${scenario_dir}/TEMPLATE it names exists beside it
  for t in $(sed -n 's/^config_template *= *\${scenario_dir}\///p' "$f"); do
    [ -f "$SRC/scenarios/$t" ] || fail "$name: config_template $t is missing"
  done
done

# Presets of real servers: an install line, and every fault kind.
for p in nginx-rtmp node-media-server srs mediamtx red5 wowza; do
  f="$SRC/scenarios/$p.ini"
  [ -f "$f" ] || fail "preset $p.ini is missing"
  grep -qi '^;.*install' "$f" || fail "$p.ini: no install instructions in the header"
  for line in 'fault = sigkill' 'fault_at = idle' 'fault = sigkill-main' 'fault = hang' 'fault = sigterm'; do
    grep -qx "$line" "$f" || fail "$p.ini: no scenario with '$line'"
  done
  run_rebound 20 run "$f" --parse-only
  n=$(grep -o '^[^:]*: [0-9]* scenarios' "$T/out" | grep -o '[0-9]* scenarios' | cut -d' ' -f1)
  [ "${n:-0}" -ge 5 ] || fail "$p.ini: ${n:-0} scenarios, expected at least 5"
done
for p in srs mediamtx red5 wowza; do
  grep -q '^; UNTESTED here:' "$SRC/scenarios/$p.ini" || fail "$p.ini is not marked '; UNTESTED here:'"
done

# The check bites: a copy with a typo in a key is refused with FILE:LINE.
sed 's/^fault_at = idle/fault_att = idle/' "$SRC/scenarios/srs.ini" >"$T/broken.ini"
run_rebound 20 run "$T/broken.ini" --parse-only
expect_code 2 "a preset with an unknown key"
expect_in "$T/err" "broken.ini:"
expect_in "$T/err" "fault_att"
pass "${#files[@]} scenario files parse"
