#!/usr/bin/env bash
# 200 restart cycles against rebound-refserver keep rebound's descriptors and
# memory flat: the floor of the descriptor count (sampled all through a window
# of cycles) is the same early and late, its peak does not grow, and the
# resident size grows by less than a small tolerance. Under ASan the RSS check
# is left to LeakSanitizer (the quarantine holds freed memory on purpose), which
# checks at exit: the run must exit 0.
source "$(dirname "$0")/lib.sh"
: "${REFSERVER:?set by ctest}"

cycles=200
cat >"$T/leaks.ini" <<INI
[global]
command = exec $REFSERVER --quiet --port \${port}
port = auto
cycles = $cycles
publish_for = 0
publishers = 1
players = 0
holders = 2
[leaks]
INI

"$REBOUND" run "$T/leaks.ini" --events "$T/ev.jsonl" --artifacts "$T/art" --no-progress --quiet \
  >"$T/out" 2>"$T/err" &
pid=$!
deadline=$(( SECONDS + 240 ))

cycles_done() {
  local n
  n=$(grep -c '"event":"cycle_end"' "$T/ev.jsonl" 2>/dev/null || true)
  echo "${n:-0}" # 0 also before the file exists
}

# Wait until cycle FROM has ended, then sample until cycle TO has ended; sets
# fd_min fd_max rss_max (kB). Builtins only, so a sample costs microseconds.
sample_window() {
  local from=$1 to=$2 n fds rss key value unit
  fd_min=999999 fd_max=0 rss_max=0 samples=0
  while [ "$(cycles_done)" -lt "$from" ]; do
    kill -0 "$pid" 2>/dev/null || fail "rebound exited before cycle $from: $(cat "$T/err")"
    [ "$SECONDS" -lt "$deadline" ] || fail "cycle $from not reached in time"
    sleep 0.05
  done
  while [ "$(cycles_done)" -lt "$to" ]; do
    [ "$SECONDS" -lt "$deadline" ] || fail "cycle $to not reached in time"
    for ((n = 0; n < 20; n++)); do
      fds=(/proc/"$pid"/fd/*)
      [ -e "${fds[0]}" ] || fail "rebound exited during the window"
      [ "${#fds[@]}" -lt "$fd_min" ] && fd_min=${#fds[@]}
      [ "${#fds[@]}" -gt "$fd_max" ] && fd_max=${#fds[@]}
      samples=$((samples + 1))
    done
    while read -r key value unit; do
      [ "$key" = "VmRSS:" ] && rss=$value
    done </proc/"$pid"/status
    [ "$rss" -gt "$rss_max" ] && rss_max=$rss
    sleep 0.01
  done
}

sample_window 20 50
early_min=$fd_min early_max=$fd_max early_rss=$rss_max early_samples=$samples
sample_window $((cycles - 40)) $((cycles - 10))
late_min=$fd_min late_max=$fd_max late_rss=$rss_max late_samples=$samples

set +e
timeout -s KILL $(( deadline - SECONDS + 5 )) tail --pid="$pid" -f /dev/null
wait "$pid"
code=$?
set -e
echo "fds: early $early_min..$early_max ($early_samples samples), late $late_min..$late_max ($late_samples samples)"
echo "rss: early ${early_rss} kB, late ${late_rss} kB"
[ "$code" -eq 0 ] || { cat "$T/out" "$T/err" >&2; fail "rebound run of $cycles cycles exited $code"; }
[ "$(cycles_done)" -eq "$cycles" ] || fail "only $(cycles_done) of $cycles cycles ended"
[ "$early_samples" -ge 100 ] && [ "$late_samples" -ge 100 ] || fail "too few samples"
[ "$late_min" -eq "$early_min" ] || fail "descriptor floor moved from $early_min to $late_min"
[ "$late_max" -le "$early_max" ] || fail "descriptor peak grew from $early_max to $late_max"
if ldd "$REBOUND" | grep -q libasan; then
  echo "ASan build: RSS not compared (LeakSanitizer checked the exit)"
else
  # 30 more cycles of a leak of even 40 kB per cycle would exceed this.
  [ "$late_rss" -le $(( early_rss + 1024 )) ] || fail "RSS grew from $early_rss kB to $late_rss kB"
fi
assert_no_leftovers
pass "$cycles cycles: descriptors $early_min..$early_max throughout, RSS $early_rss -> $late_rss kB"
