#!/usr/bin/env bash
# External targets (scenarios without `command`), against a rebound-refserver that
# this test starts and restarts itself through exec: commands:
# 1. the documented example file parses, and one of its sections runs here with its
#    fault/restart commands replaced by local ones: kill + restart_command passes;
# 2. a fault command that restarts the server itself (no restart_command) passes;
# 3. a restart_command that brings nothing back fails with the ready diagnosis;
# 4. a fault command that fails is a failure that says so.
# rebound must leave the external server running: it is not rebound's to kill.
source "$(dirname "$0")/lib.sh"
: "${REFSERVER:?set by ctest}"
example="$SRC/scenarios/external-example.ini"

run_rebound 20 run "$example" --parse-only
expect_code 0 "external-example.ini parses"
expect_in "$T/out" "systemctl-kill"

# Run the server through a link inside $T so that lib.sh's cleanup finds it.
ln -s "$REFSERVER" "$T/refserver"
listening() { ss -Htln "sport = :$1" | grep LISTEN >/dev/null; }
# A free port: the refserver binds port 0 once and reports what it got.
"$T/refserver" --quiet --port 0 >"$T/first.out" 2>&1 &
echo $! >"$T/ref.pid"
for _ in $(seq 100); do
  port=$(grep -o '127\.0\.0\.1:[0-9]*' "$T/first.out" | head -1 | cut -d: -f2 || true)
  [ -n "$port" ] && break
  sleep 0.1
done
[ -n "${port:-}" ] || { cat "$T/first.out" >&2; fail "the refserver did not report its port"; }
listening "$port" || fail "the refserver does not listen on $port"

# The commands rebound runs, as scripts (a scenario line must stay short). kill
# returns before the process is gone: wait (bounded) until the port is free, as a
# service manager's stop would.
cat >"$T/start.sh" <<SH
"$T/refserver" --quiet --port $port >>"$T/ref.log" 2>&1 &
echo \$! >"$T/ref.pid"
SH
cat >"$T/kill.sh" <<SH
kill -KILL \$(cat "$T/ref.pid")
for i in \$(seq 100); do
  ss -Htln 'sport = :$port' | grep LISTEN >/dev/null || exit 0
  sleep 0.05
done
exit 1
SH
start="sh $T/start.sh"
kill_it="sh $T/kill.sh"

# 1. The example's systemctl-kill section, with local commands.
run_rebound 60 run "$example" --only systemctl-kill --cycles 2 --set port=$port \
  --set "fault=exec:$kill_it" --set "restart_command=$start" --set publish_for=300ms \
  --set rebind_timeout=5s --set reconnect_timeout=10s --json "$T/r.json" --artifacts "$T/art1"
expect_code 0 "kill + restart_command against an external server"
json '.result == "pass" and .scenarios[0].name == "systemctl-kill"'
json '.scenarios[0].cycles | length == 2'
json '[.scenarios[0].cycles[] | .result == "pass" and .fault == "exec" and .rebind_ms > 0 and .reconnect_ms > 0] | all'
json '[.scenarios[0].cycles[] | .clients.publishers_ok == 1] | all'
listening "$port" || fail "rebound stopped the external server (or it died)"
pid1=$(cat "$T/ref.pid")
kill -0 "$pid1" 2>/dev/null || fail "the external server of the last restart is gone"

# 2. The fault command restarts the server itself.
cat >"$T/self.ini" <<INI
[self-restart]
port = $port
ready = rtmp
cycles = 2
publish_for = 300ms
rebind_timeout = 5s
fault = exec:$kill_it && $start
INI
run_rebound 60 run "$T/self.ini" --json "$T/r.json" --artifacts "$T/art2"
expect_code 0 "a fault command that restarts the server"
json '[.scenarios[0].cycles[] | .result == "pass"] | all'
[ "$(cat "$T/ref.pid")" != "$pid1" ] || fail "the fault command did not start a new server"

# 3. Nothing comes back: the ready probe says so within rebind_timeout.
run_rebound 60 run "$T/self.ini" --set "fault=exec:$kill_it" --set restart_command=true \
  --set rebind_timeout=1s --cycles 1 --json "$T/r.json" --artifacts "$T/art3"
expect_code 1 "the server never comes back"
json '.scenarios[0].cycles[0].diagnosis | test("not ready \\(rtmp\\) within 1000 ms of the restart")'
listening "$port" && fail "something still listens on $port"

# 4. A fault command that fails.
"$T/refserver" --quiet --port "$port" >>"$T/ref.log" 2>&1 &
echo $! >"$T/ref.pid"
for _ in $(seq 100); do listening "$port" && break; sleep 0.05; done
listening "$port" || fail "could not start the refserver again on $port"
run_rebound 60 run "$T/self.ini" --set "fault=exec:exit 7" --cycles 1 --json "$T/r.json" --artifacts "$T/art4"
expect_code 1 "a failing fault command"
json '.scenarios[0].cycles[0].failures | any(test("fault exec did not complete: command exited with status 7"))'

kill -KILL "$(cat "$T/ref.pid")"
pass "external targets: exec fault + restart_command, self-restarting fault, no restart, failing fault"
