#!/usr/bin/env bash
# The keeper can be killed (issue 12.5). Where a writable cgroup v2 exists every
# target is in a cgroup of its own, so:
#  A. SIGKILL the keeper alone: rebound notices, kills the whole cgroup (a
#     double-forking setsid daemon included) and fails the run, saying why (exit 3);
#  B. SIGKILL rebound and its keeper together: the daemon survives in the cgroup
#     until `rebound cleanup`, or the next `rebound run`, kills it and says so.
# Without a writable cgroup v2 (subreaper containment) a SIGKILLed keeper lets a
# daemon escape by design: the test then skips, saying so.
source "$(dirname "$0")/lib.sh"
export PATH="$(dirname "$REFSERVER"):$PATH"
: "${FIXTURES:?set by ctest}"

alive() { # PID: a live process (not gone, not a zombie)
  local state
  state=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 1
  [ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}

# Is cgroup containment available here at all? rebound says which one it uses.
run_rebound 60 run --set cycles=1 --set publish_for=0 --json "$T/r.json" --artifacts "$T/art-probe"
expect_code 0 "a plain one-cycle run"
if ! jq -e '.scenarios[0].containment == "cgroup"' "$T/r.json" >/dev/null; then
  grep containment "$T/out" || true
  echo "SKIP: no writable cgroup v2 here (containment: $(jq -r '.scenarios[0].containment' "$T/r.json"))"
  exit 77
fi
expect_in "$T/out" "containment: cgroup ("
# Our groups go into a private parent: another rebound running meanwhile (tests run
# in parallel) must not clean up the leftovers this test makes on purpose.
real=$(dirname "$(sed -n 's/^.* containment: cgroup (\(.*\))$/\1/p' "$T/out")")
PRIV="$real/rebound-it-$$"
mkdir "$PRIV"
export REBOUND_CGROUP_BASE="$PRIV"
drop_private() {
  local d
  for d in "$PRIV"/*/; do [ -d "$d" ] && { echo 1 >"$d/cgroup.kill"; sleep 0.2; rmdir "$d"; }; done 2>/dev/null
  rmdir "$PRIV" 2>/dev/null || true
}
trap 'code=$?; drop_private; (exit $code); cleanup' EXIT

# The target: a daemon that double-forks away (setsid) and lives 300 s, then the
# server. The first cycle's steady phase lasts 120 s, so the first start's processes
# stay as they are (no fault) while the test looks at them and kills.
cat >"$T/daemon.ini" <<INI
[global]
command = $FIXTURES/daemonize $T/daemon-\${cycle}.pid 0 300; echo \$\$ >$T/main-\${cycle}.pid; exec rebound-refserver --port \${port}
port = auto
cycles = 2
publish_for = 120s
[daemon]
INI

# Start rebound in the background; once cycle 1's steady phase has begun (the
# server accepted the publisher and both holders) and the daemon runs, set RB
# (rebound's pid), KEEPER, DAEMON, MAIN and CGROUP.
start_run() { # TAG
  local log="$T/art-$1/daemon/server-0.log"
  rm -f "$T/daemon-0.pid" "$T/main-0.pid"
  "$REBOUND" run "$T/daemon.ini" --json "$T/$1.json" --artifacts "$T/art-$1" --no-progress >"$T/$1.out" 2>&1 &
  RB=$!
  for _ in $(seq 1 300); do
    grep -q "conn 3 .* accepted" "$log" 2>/dev/null && [ -s "$T/daemon-0.pid" ] && [ -s "$T/main-0.pid" ] && break
    kill -0 $RB 2>/dev/null || { cat "$T/$1.out"; fail "rebound exited early"; }
    sleep 0.1
  done
  grep -q "conn 3 .* accepted" "$log" || { cat "$T/$1.out"; fail "cycle 1 did not begin within 30 s"; }
  [ -s "$T/daemon-0.pid" ] || { cat "$T/$1.out"; fail "no daemon within 30 s"; }
  DAEMON=$(cat "$T/daemon-0.pid")
  MAIN=$(cat "$T/main-0.pid")
  KEEPER=$(pgrep -P $RB -x rebound-keeper)
  # the daemon's intermediate parent exits after the fork: wait for the adoption
  for _ in $(seq 1 100); do
    [ "$(awk '{ print $4 }' /proc/$DAEMON/stat 2>/dev/null)" = "$KEEPER" ] && break
    sleep 0.05
  done
  CGROUP=$(sed -n 's/^\[daemon\] containment: cgroup (\(.*\))$/\1/p' "$T/$1.out")
  [ -n "$KEEPER" ] || fail "no keeper process under rebound (pid $RB)"
  [ -d "$CGROUP" ] || { cat "$T/$1.out"; fail "no cgroup folder named in the output"; }
  alive "$DAEMON" || fail "the daemon (pid $DAEMON) is not running"
  grep -q "$CGROUP" <(sed 's|^0::|'"$(dirname "$CGROUP")"'|' /proc/$DAEMON/cgroup) ||
    grep -q "/$(basename "$CGROUP")\$" /proc/$DAEMON/cgroup || fail "the daemon is not in $CGROUP"
  # double fork + setsid: its own session, and adopted by the keeper (the subreaper)
  [ "$(awk '{ print $6 }' /proc/$DAEMON/stat)" != "$(awk '{ print $6 }' /proc/$MAIN/stat)" ] ||
    fail "the daemon did not leave the server's session"
  [ "$(awk '{ print $4 }' /proc/$DAEMON/stat)" = "$KEEPER" ] || fail "the daemon was not adopted by the keeper"
}

# A. The keeper alone.
start_run a
kill -KILL "$KEEPER"
for _ in $(seq 1 300); do kill -0 $RB 2>/dev/null || break; sleep 0.1; done
kill -0 $RB 2>/dev/null && fail "rebound did not end within 30 s of its keeper's death"
set +e; wait $RB; CODE=$?; set -e
[ "$CODE" -eq 3 ] || { cat "$T/a.out"; fail "exit code $CODE after the keeper's death, expected 3"; }
expect_in "$T/a.out" "rebound's keeper process (pid $KEEPER) killed by signal 9"
expect_in "$T/a.out" "the whole target was stopped through its cgroup"
jq -e --arg k "$KEEPER" '.result == "error" and (.scenarios[0].error | test("keeper process \\(pid " + $k + "\\)"))
    and (.scenarios[0].cycles[-1].failures | any(test("keeper")))' "$T/a.json" >/dev/null ||
  { jq . "$T/a.json" >&2; fail "JSON does not say that the keeper died"; }
alive "$DAEMON" && fail "the daemon (pid $DAEMON) survived its keeper's death"
alive "$MAIN" && fail "the server (pid $MAIN) survived its keeper's death"
[ -e "$CGROUP" ] && fail "the cgroup $CGROUP is still there"

# B. rebound and its keeper together (stopped first, so that neither can clean up).
leftover() { # TAG CLEANER...: kill both, then let CLEANER find and kill the daemon
  local tag=$1; shift
  start_run "$tag"
  # Keeper first: rebound's death would orphan the keeper's process group, and the
  # kernel then sends a stopped keeper SIGCONT (it would wake up and clean up).
  kill -STOP "$RB" "$KEEPER"
  kill -KILL "$KEEPER" "$RB"
  set +e; wait $RB 2>/dev/null; set -e
  for _ in $(seq 1 100); do [ -e "/proc/$KEEPER" ] || break; sleep 0.05; done
  alive "$DAEMON" || { cat "$T/$tag.out"; ls "$CGROUP" >/dev/null 2>&1 && cat "$CGROUP/cgroup.procs";
    fail "the daemon (pid $DAEMON) died with rebound and its keeper: nothing left to clean up"; }
  [ -d "$CGROUP" ] || fail "the cgroup $CGROUP went with rebound"
  run_rebound 60 "$@"
  expect_code 0 "$*"
  expect_in "$T/out" "killed 1 process left behind by a dead rebound (pid $RB) in cgroup $CGROUP"
  alive "$DAEMON" && fail "$1 left the daemon (pid $DAEMON) running"
  [ -e "$CGROUP" ] && fail "$1 left the cgroup $CGROUP"
  return 0
}
leftover b cleanup
expect_in "$T/out" "rebound cleanup: killed 1 process"
leftover c run --set cycles=1 --set publish_for=0 --json "$T/r.json" --artifacts "$T/art-next"
expect_in "$T/out" "warning: killed 1 process"
# nothing is left now, and cleanup says so
run_rebound 30 cleanup
expect_code 0 "cleanup with nothing to clean"
expect_in "$T/out" "no leftover cgroup of a dead rebound"
ls -d "$PRIV"/*/ 2>/dev/null && fail "cgroups left in $PRIV"
pass "a SIGKILLed keeper stops the run and the whole cgroup; leftovers are cleaned and reported"
