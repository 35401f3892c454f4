#!/usr/bin/env bash
# Issue 17: the classic rebind bug at the first start. A healthy run on a fixed port
# leaves TIME_WAIT sockets behind; at once the same port with a server that does not
# set SO_REUSEADDR cannot bind. That is the server's bug (exit 1, the SO_REUSEADDR
# diagnosis saying the sockets were there before the first start), not the
# environment's (exit 3), which stays for a program that does not exist.
source "$(dirname "$0")/lib.sh"
schema="$SRC/tests/fixtures/results-schema-1.json"

port=$(free_port)
cat >"$T/s.ini" <<INI
[global]
port = $port
fault_at = idle
cycles = 2
publish_for = 200ms
[healthy]
command = exec $REFSERVER --port \${port}
[no-reuseaddr]
command = exec $REFSERVER --port \${port} --no-reuseaddr
[missing-program]
command = exec $T/no-such-server --port \${port}
INI

time_waits() { ss -Htan state time-wait "( sport = :$port )" | wc -l; }

run_rebound 60 run "$T/s.ini" --only healthy --artifacts "$T/a1"
expect_code 0 "the healthy run"
# the precondition, checked here so that the test cannot pass without the condition
tw=$(time_waits)
[ "$tw" -gt 0 ] || { ss -tan >&2; fail "no TIME_WAIT socket on port $port after the healthy run"; }

run_rebound 60 run "$T/s.ini" --only no-reuseaddr --json "$T/r.json" --artifacts "$T/a2"
expect_code 1 "--no-reuseaddr right after a healthy run on the same port"
expect_in "$T/out" "sockets on the port were in TIME_WAIT before the first start (left by an earlier server): the server does not set SO_REUSEADDR"
expect_in "$T/out" "sockets on the port before the first start: TIME_WAIT="
# the console's first line for the scenario names what was on the port
head -n1 "$T/out" | grep "TIME_WAIT=" >/dev/null || { cat "$T/out" >&2; fail "the first line does not mention the TIME_WAIT sockets"; }
jsonschema -i "$T/r.json" "$schema" || fail "results do not match schema 1"
json '.result == "fail" and .scenarios[0].result == "fail"'
json '.scenarios[0].port_states_before_start.TIME_WAIT > 0'
json '.scenarios[0].cycles[0].diagnosis | test("^bind\\(\\) failed with EADDRINUSE while [0-9]+ sockets? on the port (was|were) in TIME_WAIT before the first start \\(left by an earlier server\\): the server does not set SO_REUSEADDR$")'
json '.scenarios[0].cycles[0].log_tail | test("Address already in use")'
assert_no_leftovers "$T/a2"

# a missing program stays the environment's, TIME_WAIT or not
[ "$(time_waits)" -gt 0 ] || fail "the TIME_WAIT sockets are gone before the last check"
run_rebound 60 run "$T/s.ini" --only missing-program --json "$T/r.json" --artifacts "$T/a3"
expect_code 3 "a missing program"
expect_in "$T/out" "did not become ready"
json '.scenarios[0].result == "error" and .scenarios[0].port_states_before_start.TIME_WAIT > 0'
pass "a first start blocked by TIME_WAIT sockets is the server's bug (exit 1), a missing program exit 3"
