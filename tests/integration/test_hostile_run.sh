#!/usr/bin/env bash
# rebound run against a hostile target (tests/fixtures/fake_rtmp_server started by
# the scenario's command): exit 1 with a diagnosis naming what the server did,
# within bounded time, and no process left; a target that dies noisily before it
# is ready is exit 3. Server-controlled text (onStatus descriptions, the target's
# log with control bytes and invalid UTF-8) comes out as valid JSON, JSON Lines
# events and JUnit XML.
source "$(dirname "$0")/lib.sh"
: "${FIXTURES:?set by ctest}"

# scenario MODE...: a one-cycle scenario whose target is the fake in MODE.
scenario() {
  cat >"$T/h.ini" <<INI
[global]
command = exec $FIXTURES/fake_rtmp_server --lifetime 120s --log $T/fake.log --port \${port} $*
port = auto
cycles = 1
publish_for = 0
ready_timeout = 10s
rebind_timeout = 2s
reconnect_timeout = 2s
[hostile]
INI
}

# run_hostile WANT_CODE: bounded run with JSON + JUnit, no process left.
run_hostile() {
  local t0 ms
  rm -f "$T/r.json" "$T/r.xml" "$T/ev.jsonl"
  t0=$(now_ms)
  run_rebound 60 run "$T/h.ini" --json "$T/r.json" --junit "$T/r.xml" --events "$T/ev.jsonl" \
    --artifacts "$T/art" --no-progress
  ms=$(( $(now_ms) - t0 ))
  expect_code "$1" "hostile target $2"
  [ "$ms" -lt 30000 ] || fail "$2: rebound run took $ms ms"
  jq -e . "$T/r.json" >/dev/null || fail "$2: --json output does not parse"
  xmllint --noout "$T/r.xml" || fail "$2: --junit output does not parse"
  jq -e . "$T/ev.jsonl" >/dev/null || fail "$2: an --events line does not parse"
  ! grep -q "Sanitizer\|runtime error" "$T/err" "$T/out" || fail "$2: sanitizer report"
  assert_no_leftovers
}

cases=(
  "--silent|handshake timed out"
  "--garbage|protocol error"
  "--bad-version|protocol error: the server answered the handshake with RTMP version 6"
  "--huge-message|protocol error: message of 16777215 bytes is too large"
  "--amf-bomb|protocol error: malformed command message"
  "--stream-id -1|protocol error: createStream returned stream id -1"
  "--chunk-size 0x7fffffff|protocol error: bad chunk size from the server"
)
for c in "${cases[@]}"; do
  mode=${c%%|*}
  scenario "$mode"
  run_hostile 1 "$mode"
  json '.result == "fail" and .scenarios[0].result == "fail"'
  jq -e --arg p "${c#*|}" '.scenarios[0].cycles[0].diagnosis | contains($p)' "$T/r.json" >/dev/null \
    || fail "$mode: diagnosis '$(jq -r '.scenarios[0].cycles[0].diagnosis' "$T/r.json")' lacks '${c#*|}'"
done

# Output safety: a refusal with a nasty description and a nasty target log.
scenario --nasty-status --nasty-log
run_hostile 1 "--nasty-status"
json '.scenarios[0].cycles[0].diagnosis | contains("rejected: NetStream.Publish.BadName (q\"uo'"'"'te <b>&amp; </testcase>]]>")'
json '.scenarios[0].cycles[0].diagnosis | contains("%s%n%x%p %%")'
# The text survives the XML round trip unchanged (escaped, not dropped).
xmllint --xpath 'string(//failure/@message)' "$T/r.xml" >"$T/msg.txt"
grep -qF "q\"uo'te <b>&amp; </testcase>]]>" "$T/msg.txt" || fail "JUnit failure message lost the text: $(cat "$T/msg.txt")"
grep -qF '%s%n%x%p %%' "$T/out" || fail "console output lost the printf conversions (format string?)"

# Never ready, and its last words are hostile bytes: exit 3, still valid output.
scenario --die-noisily
run_hostile 3 "--die-noisily"
json '.result == "error"'
expect_in "$T/out" "did not become ready"
expect_in "$T/r.xml" "log line 2"

pass "rebound run against ${#cases[@]} hostile targets: exit 1 with the reason; nasty text stays valid JSON/XML"
