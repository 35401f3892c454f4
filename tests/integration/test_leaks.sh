#!/usr/bin/env bash
# 200 restart cycles against rebound-refserver keep rebound's descriptors and
# memory flat: the descriptor count at the same point of a cycle is the same at
# cycles 20-29 and 180-189, and the resident size grows by less than a small
# tolerance. Under ASan the RSS check is left to LeakSanitizer (its quarantine
# holds freed memory on purpose), which checks at exit: the run must exit 0.
source "$(dirname "$0")/lib.sh"
: "${REFSERVER:?set by ctest}"

cycles=200
# The target samples rebound's descriptors and RSS when it is started for cycles
# 20-29 and 180-189: at that moment rebound is waiting for the new server to
# listen, the holders are connected and the publisher is between attempts, the
# same state every time (the minimum of 5 looks 10 ms apart irons out a retry).
cat >"$T/target.sh" <<'SH'
#!/bin/sh
cycle=$1 port=$2 out=$3 refserver=$4
case $cycle in
  2?|18?)
    # rebound is the nearest ancestor named so (a keeper process may sit between).
    pid=$PPID
    while [ "$pid" -gt 1 ] && [ "$(cat /proc/$pid/comm)" != rebound ]; do
      pid=$(awk '{ print $4 }' /proc/$pid/stat)
    done
    min=999999
    for i in 1 2 3 4 5; do
      n=$(ls /proc/$pid/fd | wc -l)
      [ "$n" -lt "$min" ] && min=$n
      sleep 0.01
    done
    rss=$(awk '/^VmRSS:/ { print $2 }' /proc/$pid/status)
    echo "$cycle $min $rss $(cat /proc/$pid/comm)" >>"$out"
    ;;
esac
exec "$refserver" --quiet --port "$port"
SH
chmod +x "$T/target.sh"
cat >"$T/leaks.ini" <<INI
[global]
command = exec $T/target.sh \${cycle} \${port} $T/samples $REFSERVER
port = auto
cycles = $cycles
publish_for = 0
publishers = 1
holders = 2
[leaks]
INI

run_rebound 240 run "$T/leaks.ini" --artifacts "$T/art" --no-progress --quiet
expect_code 0 "$cycles cycles against the refserver"
expect_in "$T/out" "$cycles/$cycles cycles passed"
[ "$(wc -l <"$T/samples")" -eq 20 ] || fail "expected 20 samples: $(cat "$T/samples")"
! grep -qv ' rebound$' "$T/samples" || fail "a sample was not of rebound: $(cat "$T/samples")"
read -r early_min early_max early_rss < <(awk '$1 < 100 { if (!n++ || $2 < lo) lo = $2; if ($2 > hi) hi = $2; if ($3 > r) r = $3 } END { print lo, hi, r }' "$T/samples")
read -r late_min late_max late_rss < <(awk '$1 > 100 { if (!n++ || $2 < lo) lo = $2; if ($2 > hi) hi = $2; if ($3 > r) r = $3 } END { print lo, hi, r }' "$T/samples")
echo "fds: cycles 20-29 $early_min..$early_max, cycles 180-189 $late_min..$late_max"
echo "rss: cycles 20-29 max ${early_rss} kB, cycles 180-189 max ${late_rss} kB"
[ "$late_min" -eq "$early_min" ] || { cat "$T/samples" >&2; fail "descriptors: $early_min at cycle 20, $late_min at cycle 180"; }
[ "$late_max" -le "$early_max" ] || { cat "$T/samples" >&2; fail "descriptor peak grew from $early_max to $late_max"; }
if ldd "$REBOUND" | grep libasan >/dev/null; then
  echo "ASan build: RSS not compared (LeakSanitizer checked the exit)"
else
  # Expected growth: the per-cycle results are one array allocated at the start
  # and touched page by page as cycles end (one record each, kept for the reports;
  # its size comes from the build, so adding a field does not move this check).
  # Anything beyond 160 records plus 512 kB is a leak (a leak of 4 kB per cycle
  # would exceed it).
  record=$("$FIXTURES/result_sizes")
  allowed=$(( early_rss + (160 * record + 1023) / 1024 + 512 ))
  [ "$late_rss" -le "$allowed" ] || fail "RSS grew from $early_rss kB to $late_rss kB (allowed $allowed kB: 160 records of $record bytes + 512 kB)"
fi
assert_no_leftovers
pass "$cycles cycles: $early_min descriptors at cycle 20 and at cycle 180, RSS $early_rss -> $late_rss kB"
