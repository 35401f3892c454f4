#!/usr/bin/env bash
# Bad input: scenario and command-line errors exit 2 with FILE:LINE and start
# nothing; a port held by a foreign process exits 3 and names it.
source "$(dirname "$0")/lib.sh"

marker="$T/started"
cat >"$T/bad.ini" <<INI
[global]
command = touch $marker; exec sleep 5
colour = blue
[s]
INI
run_rebound 20 run "$T/bad.ini"
expect_code 2 "unknown key"
expect_in "$T/err" "$T/bad.ini:3: unknown key 'colour'"
[ ! -e "$marker" ] || fail "a broken scenario started its command"

printf '[s]\ncommand = touch %s\ngrace = soon\n' "$marker" >"$T/bad2.ini"
run_rebound 20 run "$T/bad2.ini" --parse-only
expect_code 2 "bad duration"
expect_in "$T/err" "bad2.ini:3: bad duration 'soon' for grace"

run_rebound 20 run "$SRC/scenarios/nginx-rtmp.ini" --parse-only
expect_code 0 "nginx preset parses"
expect_in "$T/out" "OK:"
expect_in "$T/out" "kill-while-publishing"

run_rebound 20 run "$SRC/scenarios/nginx-rtmp.ini" --cycles many --parse-only
expect_code 2 "--cycles many"
expect_in "$T/err" "--set cycles: bad value 'many'"

run_rebound 20 run "$SRC/scenarios/nginx-rtmp.ini" --set nope=1 --parse-only
expect_code 2 "--set unknown key"

run_rebound 20 run "$SRC/scenarios/nginx-rtmp.ini" --bogus
expect_code 2 "unknown option"
expect_in "$T/err" "unknown option --bogus"

run_rebound 20 run "$T/missing.ini"
expect_code 2 "missing file"
expect_in "$T/err" "missing.ini"

run_rebound 20 frobnicate
expect_code 2 "unknown command"

run_rebound 20 --version
expect_code 0 "--version"

run_rebound 20 keys
expect_code 0 "keys"
expect_in "$T/out" "rebind_timeout"

[ ! -e "$marker" ] || fail "a rejected command line started a target"

# A foreign listener on the port: exit 3, named, and the target is never started.
coproc HOLDER { exec "$FIXTURES/hold_port" 0; }
read -r -t 10 port <&"${HOLDER[0]}" || fail "hold_port did not report its port"
printf '[s]\ncommand = touch %s; exec sleep 30\nport = %s\n' "$marker" "$port" >"$T/busy.ini"
run_rebound 30 run "$T/busy.ini"
expect_code 3 "port held by a foreign process"
expect_in "$T/out" "port $port is already LISTENed by pid $HOLDER_PID"
[ ! -e "$marker" ] || fail "the target was started although the port was busy"
kill "$HOLDER_PID" 2>/dev/null || true
# A server that exits at once: exit 3, and the message says how it ended (the keeper's
# exit report is awaited, never "still running" for a tree that is gone).
printf '[s]\nport = auto\ncommand = echo boom; exit 4\n' >"$T/exits.ini"
run_rebound 30 run "$T/exits.ini" --no-progress
expect_code 3 "a target that exits before listening"
expect_in "$T/out" "exited with status 4"
expect_in "$T/out" "boom"
! grep -q "still running" "$T/out" || { cat "$T/out" >&2; fail "a target that exited is called still running"; }
pass "bad input is refused with exit 2/3"
