# Shared by the benchmarks in tests/bench (sourced, not run).
#
# run_sampled DEADLINE_S ARGS...: run "$REBOUND" ARGS in the background, sampling
# /proc/PID every 100 ms until it exits or DEADLINE_S passes (then it is killed);
# sets CODE, RSS_KB (VmHWM, its peak RSS) and CPU_S (utime+stime of all its threads;
# the target, which rebound's keeper reaps, is not included).
# median: the median of the numbers on stdin (nan when there are none).
# raise_fd_limit N: raise the soft fd limit to N (or the hard limit).
hz=$(getconf CLK_TCK)
rpid=

run_sampled() {
  local deadline=$(( $(date +%s) + $1 )); shift
  "$REBOUND" "$@" &
  rpid=$!
  RSS_KB=0
  CPU_S=0
  while kill -0 "$rpid" 2>/dev/null; do
    local hwm ticks
    hwm=$(awk '/^VmHWM:/{print $2}' "/proc/$rpid/status" 2>/dev/null || true)
    # fields 14 and 15 of stat, counted after the ")" that ends the command name
    ticks=$(sed 's/.*) //' "/proc/$rpid/stat" 2>/dev/null | awk '{print $12 + $13}' || true)
    [ -n "$hwm" ] && RSS_KB=$hwm
    [ -n "$ticks" ] && CPU_S=$(awk -v t="$ticks" -v hz="$hz" 'BEGIN{printf "%.2f", t / hz}')
    if [ "$(date +%s)" -ge "$deadline" ]; then kill -KILL "$rpid" 2>/dev/null || true; fi
    sleep 0.1
  done
  set +e
  wait "$rpid"
  CODE=$?
  set -e
  rpid=
}

median() { sort -g | awk '{v[NR]=$1} END{if(NR==0){print "nan"; exit} print (NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2)}'; }

raise_fd_limit() { ulimit -n "$1" 2>/dev/null || ulimit -n "$(ulimit -Hn)"; }
