#!/usr/bin/env bash
# Report files never replace what they are given (issue 12.1): "-" is standard output,
# FIFOs, character devices and symlinks are written in place or through, a regular
# file is replaced atomically, and every write error is one line naming the file and
# exit 3, with the results still saved in the artifacts folder. Run as root, as CI does.
source "$(dirname "$0")/lib.sh"
ini="$SRC/tests/fixtures/failure-matrix.ini"
quick=(run "$ini" --only plain --set cycles=1 --set holders=0)

# every special file used below, and what it must still be afterwards
[ -c /dev/full ] && [ -c /dev/null ] || fail "this machine has no /dev/full or /dev/null"

# a FIFO with a reader: JSON and JSON Lines events arrive through it; it stays a FIFO
mkfifo "$T/json.fifo" "$T/events.fifo"
timeout 60 cat "$T/json.fifo" >"$T/json.fifo.out" &
json_reader=$!
timeout 60 cat "$T/events.fifo" >"$T/events.fifo.out" &
events_reader=$!
run_rebound 60 "${quick[@]}" --json "$T/json.fifo" --events "$T/events.fifo" --artifacts "$T/art-fifo"
expect_code 0 "reports to FIFOs"
wait "$json_reader" "$events_reader" || fail "a FIFO reader failed"
jq -e '.result == "pass" and (.scenarios | length) == 1' "$T/json.fifo.out" >/dev/null || fail "JSON through the FIFO"
jq -e -s 'length > 0 and .[-1].event == "scenario_end"' "$T/events.fifo.out" >/dev/null || fail "events through the FIFO"
[ -p "$T/json.fifo" ] && [ -p "$T/events.fifo" ] || fail "a FIFO was replaced"

# a UNIX socket with a listener: the report is sent through it; it stays a socket
python3 - "$T/report.sock" "$T/sock.out" <<'PY' &
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1]); s.listen(1); s.settimeout(60)
open(sys.argv[1] + ".ready", "w").close()
c, _ = s.accept(); c.settimeout(60)
with open(sys.argv[2] + ".part", "wb") as out:
    while True:
        b = c.recv(65536)
        if not b:
            break
        out.write(b)
os.rename(sys.argv[2] + ".part", sys.argv[2])
PY
sock_reader=$!
for _ in $(seq 1 250); do [ -e "$T/report.sock.ready" ] && break; sleep 0.02; done
[ -S "$T/report.sock" ] || fail "the socket listener did not start"
run_rebound 60 "${quick[@]}" --junit "$T/report.sock" --artifacts "$T/art-sock"
expect_code 0 "--junit to a UNIX socket"
wait "$sock_reader" || fail "the socket reader failed"
xmllint --noout "$T/sock.out" || fail "JUnit through the socket is not well-formed"
[ -S "$T/report.sock" ] || fail "the socket was replaced"

# a FIFO nobody reads: exit 3 after a bounded wait, named; still a FIFO
mkfifo "$T/lonely.fifo"
run_rebound 60 "${quick[@]}" --json "$T/lonely.fifo" --artifacts "$T/art-lonely"
expect_code 3 "a FIFO without a reader"
expect_in "$T/err" "rebound: --json $T/lonely.fifo: a FIFO without a reader"
[ -p "$T/lonely.fifo" ] || fail "the lonely FIFO was replaced"
# a folder is refused, and stays a folder
mkdir "$T/a-folder"
run_rebound 60 "${quick[@]}" --html "$T/a-folder" --artifacts "$T/art-folder"
expect_code 3 "--html to a folder"
expect_in "$T/err" "rebound: --html $T/a-folder: is a folder"
[ -d "$T/a-folder" ] || fail "the folder was replaced"

# /dev/full: exit 3, one line naming the file, the device is still a device, and the
# results are in the artifacts folder, which is named
run_rebound 60 "${quick[@]}" --json /dev/full --artifacts "$T/art-full"
expect_code 3 "--json /dev/full"
expect_in "$T/err" "rebound: --json /dev/full: No space left on device"
[ "$(wc -l <"$T/err")" -eq 1 ] || fail "not one line: $(cat "$T/err")"
[ -c /dev/full ] || fail "/dev/full is no longer a character device"
expect_in "$T/out" "results saved in $T/art-full/results.json"
jq -e '.result == "pass"' "$T/art-full/results.json" >/dev/null || fail "results not saved in the artifacts"
# without --artifacts the temporary folder is kept and named
run_rebound 60 "${quick[@]}" --junit /dev/full --html /dev/full
expect_code 3 "--junit/--html /dev/full"
expect_in "$T/err" "rebound: --junit /dev/full: No space left on device"
expect_in "$T/err" "rebound: --html /dev/full: No space left on device"
[ "$(wc -l <"$T/err")" -eq 2 ] || fail "not one line per file: $(cat "$T/err")"
kept=$(sed -n 's/^artifacts kept in //p' "$T/out")
[ -n "$kept" ] && [ -s "$kept/results.json" ] || fail "the temporary artifacts were not kept: $(cat "$T/out")"
# events lost on /dev/full: exit 3 as well
run_rebound 60 "${quick[@]}" --events /dev/full
expect_code 3 "--events /dev/full"
expect_in "$T/err" "rebound: --events /dev/full: No space left on device"
# a failed run whose report is lost is an environment error (the results are missing)
run_rebound 60 run "$ini" --only no-reuseaddr --set cycles=1 --json /dev/full --artifacts "$T/art-fail"
expect_code 3 "a failing run with a lost report"
jq -e '.result == "fail"' "$T/art-fail/results.json" >/dev/null || fail "the failed run's results are not saved"
[ -c /dev/full ] || fail "/dev/full is no longer a character device"

# "-": standard output, after the summary
run_rebound 60 "${quick[@]}" --quiet --json -
expect_code 0 "--json -"
sed -n '/^{/,$p' "$T/out" | jq -e '.result == "pass"' >/dev/null || fail "no JSON on stdout: $(cat "$T/out")"
run_rebound 60 "${quick[@]}" --quiet --junit -
expect_code 0 "--junit -"
sed -n '/^<?xml/,$p' "$T/out" | xmllint --noout - || fail "no JUnit on stdout"
run_rebound 60 "${quick[@]}" --quiet --events -
expect_code 0 "--events -"
grep '^{' "$T/out" | jq -e -s 'length > 0 and .[0].event == "scenario_start"' >/dev/null || fail "no events on stdout"
# /dev/stdout redirected to a file (a CI idiom): written at stdout's own offset, so
# what was printed before stays and what is printed after follows (here the failed
# run's "artifacts kept in" line, after the JSON)
run_rebound 60 run "$ini" --only no-reuseaddr --set cycles=1 --json /dev/stdout
expect_code 1 "--json /dev/stdout"
expect_in "$T/out" "result: fail"
sed -n '/^{/,/^}/p' "$T/out" | jq -e '.result == "fail"' >/dev/null || fail "no JSON through /dev/stdout: $(cat "$T/out")"
tail -n1 "$T/out" | grep "^artifacts kept in " >/dev/null || fail "the line after the JSON was lost: $(tail -n3 "$T/out")"
[ -L /dev/stdout ] || fail "/dev/stdout is no longer a symlink"

# a symlink to a regular file (an artifacts store): the file is replaced, the link stays
mkdir "$T/store"
echo old >"$T/store/r.json"
ln -s store/r.json "$T/link.json"
run_rebound 60 "${quick[@]}" --json "$T/link.json"
expect_code 0 "--json through a symlink"
[ -L "$T/link.json" ] || fail "the symlink was replaced by a file"
jq -e '.result == "pass"' "$T/store/r.json" >/dev/null || fail "the link's target was not written"
[ "$(find "$T/store" -name '*.tmp.*' | wc -l)" -eq 0 ] || fail "a temporary file was left in the store"
# a symlink to /dev/null: written through; link and device stay
ln -s /dev/null "$T/null-link"
run_rebound 60 "${quick[@]}" --html "$T/null-link" --junit "$T/null-link"
expect_code 0 "--html to a symlink to /dev/null"
[ -L "$T/null-link" ] && [ -c /dev/null ] || fail "the link or /dev/null was replaced"

# a folder that cannot be written, also not by root: under a missing folder, and a
# read-only bind mount in a private mount namespace (nothing outside the test sees it)
run_rebound 60 "${quick[@]}" --json "$T/missing/r.json" --artifacts "$T/art-missing"
expect_code 3 "a report under a missing folder"
expect_in "$T/err" "rebound: --json $T/missing/r.json: No such file or directory"
[ -s "$T/art-missing/results.json" ] || fail "results not saved with a missing report folder"
mkdir "$T/ro"
echo before >"$T/ro/r.json"
set +e
timeout -s KILL 60 unshare -m sh -c 'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && shift && exec "$@"' \
  sh "$T/ro" "$REBOUND" "${quick[@]}" --json "$T/ro/r.json" --artifacts "$T/art-ro" >"$T/out" 2>"$T/err"
CODE=$?
set -e
if grep -q "unshare\|mount:" "$T/err"; then
  echo "note: no private read-only mount here ($(head -n1 "$T/err")); only the missing-folder case ran"
else
  expect_code 3 "a report in a read-only folder"
  expect_in "$T/err" "rebound: --json $T/ro/r.json: Read-only file system"
  [ "$(cat "$T/ro/r.json")" = before ] || fail "the read-only file changed"
  [ -s "$T/art-ro/results.json" ] || fail "results not saved with a read-only report folder"
fi
pass "FIFO, UNIX socket, lonely FIFO, folder, /dev/full, -, /dev/stdout, symlinks, missing and read-only folders"
