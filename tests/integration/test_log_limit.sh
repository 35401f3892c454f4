#!/usr/bin/env bash
# A noisy server must not fill the disk (issue 12.2): each start's server-N.log keeps
# at most log_limit bytes (head, a line saying how much was dropped, tail), the
# server never blocks on its output, and the diagnosis still reads the real tail.
source "$(dirname "$0")/lib.sh"
export PATH="$(dirname "$REFSERVER"):$PATH"
limit=$((4 * 1024 * 1024)) # the default

check_logs() { # DIR: every log within the cap; at least one says it dropped output
  local f size capped=0
  for f in "$1"/*/server-*.log; do
    size=$(stat -c %s "$f")
    [ "$size" -le "$limit" ] || fail "$(basename "$f") is $size bytes, over log_limit $limit"
    grep -aq '^\[rebound: [0-9]* bytes of output dropped here' "$f" && capped=$((capped + 1))
  done
  [ "$capped" -gt 0 ] || fail "no log in $1 says it dropped output: was there a flood?"
}

# 1. A target that floods for its whole life (`yes` started by its shell, like a
#    debug log): the run passes, and each log stays under the default 4 MiB.
cat >"$T/flood.ini" <<'INI'
[global]
command = echo "start ${cycle}"; yes flood & exec rebound-refserver --port ${port}
port = auto
cycles = 2
publish_for = 300ms
[flood]
INI
run_rebound 120 run "$T/flood.ini" --json "$T/r.json" --artifacts "$T/art-flood"
expect_code 0 "a flooding target that rebinds fine"
json '.result == "pass" and (.scenarios[0].cycles | length) == 2'
check_logs "$T/art-flood"
# the head is the start: the first line the target wrote is kept
[ "$(head -n 1 "$T"/art-flood/flood/server-1.log)" = "start 1" ] || fail "server-1.log lost its head"
assert_no_leftovers "$T/art-flood"

# 2. The flood comes first, then a server that cannot rebind (no SO_REUSEADDR): the
#    last words, "Address already in use", come after 30 MB of noise and must be
#    both in the kept tail and in the diagnosis' log tail.
cat >"$T/noreuse.ini" <<'INI'
[global]
command = yes flood | head -c 30000000; exec rebound-refserver --no-reuseaddr --port ${port}
port = auto
cycles = 1
[noreuse]
INI
run_rebound 120 run "$T/noreuse.ini" --json "$T/r.json" --artifacts "$T/art-noreuse"
expect_code 1 "--no-reuseaddr after a flood"
json '.scenarios[0].cycles[0].log_tail | test("Address already in use")'
json '.scenarios[0].cycles[0].diagnosis | test("the server does not set SO_REUSEADDR$")'
check_logs "$T/art-noreuse"
tail -n 1 "$T"/art-noreuse/*/server-1.log | grep "Address already in use" >/dev/null ||
  fail "server-1.log does not end with the server's last words"

# 3. log_limit = 0 keeps everything; values that cannot hold a head and a tail are refused.
cat >"$T/all.ini" <<'INI'
[global]
command = yes flood | head -c 6000000; exec rebound-refserver --port ${port}
port = auto
cycles = 1
publish_for = 0
log_limit = 0
[all]
INI
run_rebound 120 run "$T/all.ini" --json "$T/r.json" --artifacts "$T/art-all"
expect_code 0 "log_limit = 0"
size=$(stat -c %s "$T"/art-all/*/server-0.log)
[ "$size" -gt 6000000 ] || fail "log_limit = 0 kept $size bytes of 6000000+"
run_rebound 30 run "$T/all.ini" --set log_limit=100 --parse-only
expect_code 2 "log_limit = 100"
expect_in "$T/err" "bad size '100' for log_limit"
run_rebound 30 run "$T/all.ini" --set log_limit=512KiB --parse-only
expect_code 0 "log_limit = 512KiB"

pass "floods are capped at log_limit, the run passes, the tail is the real one"
