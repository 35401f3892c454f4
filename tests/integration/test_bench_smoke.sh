#!/usr/bin/env bash
# The benchmarks under tests/bench/ are run by hand; this runs each in a tiny
# configuration (seconds) so that they cannot rot: they must finish, exit 0 and print
# their result lines. It asserts no timing: machines running tests are shared and noisy.
# (timeout sends TERM first: the scripts' EXIT traps then stop what they started.)
source "$(dirname "$0")/lib.sh"
BENCH=$SRC/tests/bench
export REBOUND
# the benchmarks' folders (nginx's prefix among them) go under $T, so that
# assert_no_leftovers sees anything they leave running
export TMPDIR=$T

# harness overhead + detection latency: 2 runs of 5 cycles against the refserver
set +e
timeout -k 10 120 bash "$BENCH/harness-overhead.sh" "$(dirname "$REBOUND")" 2 5 >"$T/overhead" 2>&1
code=$?
set -e
[ $code -eq 0 ] || { cat "$T/overhead" >&2; fail "harness-overhead.sh exited $code"; }
expect_in "$T/overhead" "median cycles/s over 2 runs of 5 cycles:"
expect_in "$T/overhead" "detection latency over all 10 cycles: p50"
# every run line carries numbers, not "nan" (a stamp missing from the JSON or the log)
! grep -q nan "$T/overhead" || { cat "$T/overhead" >&2; fail "harness-overhead.sh printed nan"; }

# the shell loop alone, then against rebound: 1 round of 1 cycle
set +e
timeout -k 10 120 bash "$BENCH/shell-loop.sh" 1 40 >"$T/loop" 2>&1
code=$?
set -e
[ $code -eq 0 ] || { cat "$T/loop" >&2; fail "shell-loop.sh exited $code"; }
expect_in "$T/loop" "shell-loop: 1 cycles done"
set +e
timeout -k 10 180 bash "$BENCH/vs-shell.sh" "$(dirname "$REBOUND")" 1 1 40 >"$T/vs" 2>&1
code=$?
set -e
[ $code -eq 0 ] || { cat "$T/vs" >&2; fail "vs-shell.sh exited $code"; }
expect_in "$T/vs" "rebound is"

# scale: 2 and 4 publishers (+ as many holders), one short cycle each
set +e
timeout -k 10 180 bash "$BENCH/scale.sh" "$(dirname "$REBOUND")" "2 4" 1 100ms >"$T/scale" 2>&1
code=$?
set -e
[ $code -eq 0 ] || { cat "$T/scale" >&2; fail "scale.sh exited $code"; }
grep -Eq '^ +8 +pass ' "$T/scale" || { cat "$T/scale" >&2; fail "scale.sh: no passing 8-client row"; }

# the fault proxy's added latency: 2 runs of 4 connections x 5 rounds
set +e
timeout -k 10 60 bash "$BENCH/netfault-latency.sh" "$(dirname "$REBOUND")" 2 4 5 >"$T/netfault" 2>&1
code=$?
set -e
[ $code -eq 0 ] || { cat "$T/netfault" >&2; fail "netfault-latency.sh exited $code"; }
expect_in "$T/netfault" "median added latency over 2 runs of 4 connections x 5 rounds of 256 bytes: p50"
! grep -q nan "$T/netfault" || { cat "$T/netfault" >&2; fail "netfault-latency.sh printed nan"; }

# reconnect profiles: 3 publishers, rebound's profile and a 300 ms supervisor
set +e
timeout -k 10 180 bash "$BENCH/profiles.sh" "$(dirname "$REBOUND")" 3 "rebound supervisor:300ms" 100ms >"$T/profiles" 2>&1
code=$?
set -e
[ $code -eq 0 ] || { cat "$T/profiles" >&2; fail "profiles.sh exited $code"; }
grep -Eq '^rebound +3/3 +pass ' "$T/profiles" || { cat "$T/profiles" >&2; fail "profiles.sh: no passing rebound row"; }
grep -Eq '^supervisor:300ms +3/3 +pass ' "$T/profiles" || { cat "$T/profiles" >&2; fail "profiles.sh: no supervisor row"; }
expect_in "$T/profiles" "supervisor:300ms curve (ms when 10%"

assert_no_leftovers
pass "every benchmark runs in a tiny configuration"
