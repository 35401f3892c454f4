#!/usr/bin/env bash
# The bug rebound exists for, on its own stack (issue 13): Red5's RTMP transport on
# Apache MINA 2.2.1 (tests/fixtures/JavaRtmpFront.java, scenarios/red5-mina.ini).
# Red5 as shipped (SO_REUSEADDR on the SocketSessionConfig only) must fail with the
# SO_REUSEADDR diagnosis and MINA's own "Address already in use" in its log; the fix
# (acceptor.setReuseAddress(true)) must pass, restarting while the killed server's
# connections linger. The same for Netty, and the fixture's refserver child must die
# with a SIGKILLed JVM.
source "$(dirname "$0")/lib.sh"
ini="$SRC/scenarios/red5-mina.ini"
cp=/usr/share/java/mina2-core.jar:/usr/share/java/slf4j-api.jar:/usr/share/java/slf4j-simple.jar:/usr/share/java/netty-common.jar:/usr/share/java/netty-buffer.jar:/usr/share/java/netty-transport.jar
for f in ${cp//:/ }; do
  [ -f "$f" ] || fail "$f missing: run tests/setup.sh (libmina2-java libnetty-java libslf4j-java)"
done
command -v javac >/dev/null || fail "javac missing: run tests/setup.sh (openjdk-17-jdk-headless)"
# The fixture's rebound-refserver child through a link in $T: its command line names
# $T, so lib.sh's leftover check and cleanup see it too.
mkdir "$T/bin"
ln -s "$REFSERVER" "$T/bin/rebound-refserver"
export REBOUND_REFSERVER="$T/bin/rebound-refserver"

# Compile once for every section (each would otherwise compile into its own run folder).
export REBOUND_JAVA_CLASSES="$T/classes"
timeout 120 javac -d "$REBOUND_JAVA_CLASSES" -cp "$cp" "$SRC/tests/fixtures/JavaRtmpFront.java" 2>"$T/javac.err" ||
  { cat "$T/javac.err" >&2; fail "javac JavaRtmpFront.java failed"; }

section() { # NAME [ARGS...]
  local name=$1; shift
  run_rebound 150 run "$ini" --only "$name" "$@" --json "$T/r.json" --artifacts "$T/art-$name"
  assert_no_leftovers "$T"
}

# Sockets of the killed server on the port when the restart began: the condition.
lingering='(.port_states_at_restart | .FIN_WAIT1 + .FIN_WAIT2 + .TIME_WAIT) > 0'
reuseaddr_diagnosis='^bind\\(\\) failed with EADDRINUSE while [0-9]+ sockets? of the killed server (was|were) in (FIN_WAIT|TIME_WAIT).*: the server does not set SO_REUSEADDR$'

# Red5 as shipped, with its expect = fail lifted: exit 1 and the diagnosis.
section session-config --set expect=pass
expect_code 1 "session-config (Red5 as shipped)"
json '.scenarios[0].result == "fail"'
json ".scenarios[0].cycles[0] | $lingering"
json ".scenarios[0].cycles[0].diagnosis | test(\"$reuseaddr_diagnosis\")"
# MINA itself could not bind (the listening socket lacked SO_REUSEADDR): its own words
json '.scenarios[0].cycles[0].log_tail | test("MINA NioSocketAcceptor.bind\\(.*Address already in use")'
grep -q "Address already in use" "$T/art-session-config/session-config/server-1.log" ||
  fail "server-1.log of session-config does not show MINA's bind failure"
expect_in "$T/out" "the server does not set SO_REUSEADDR"

# As the scenario file says (expect = fail): a known bug that does not fail the run.
section session-config
expect_code 0 "session-config with expect = fail"
json '.scenarios[0].result == "xfail"'

# The one-line fix: every cycle restarts while the old connections linger.
section acceptor
expect_code 0 "acceptor (acceptor.setReuseAddress(true))"
json ".result == \"pass\" and (.scenarios[0].cycles | length) == 3 and ([.scenarios[0].cycles[] | $lingering] | all)"
# real RTMP through MINA: the player received frames after every restart
json '[.scenarios[0].cycles[] | .frames.received > 0 and .frames.lost_after_reconnect == 0] | all'

# Netty: childOption only keeps the JDK's SO_REUSEADDR (on, on Linux); option sets it;
# option(SO_REUSEADDR, false) shows that the Netty pair can fail.
for s in netty-child-option netty-option; do
  section "$s"
  expect_code 0 "$s"
  json ".result == \"pass\" and (.scenarios[0].cycles | length) == 3 and ([.scenarios[0].cycles[] | $lingering] | all)"
done
section netty-no-reuseaddr --set expect=pass
expect_code 1 "netty-no-reuseaddr"
json ".scenarios[0].cycles[0].diagnosis | test(\"$reuseaddr_diagnosis\")"
json '.scenarios[0].cycles[0].log_tail | test("Netty ServerBootstrap.bind\\(.*Address already in use")'

# The fixture's rebound-refserver dies with a SIGKILLed JVM even when nothing kills the
# tree: its watchdog sees the pipe from the JVM reach EOF.
java -cp "$REBOUND_JAVA_CLASSES:$cp" JavaRtmpFront acceptor --port 0 >"$T/front.out" 2>"$T/front.err" &
jvm=$!
for ((i = 0; i < 300; i++)); do
  grep -q '^listening on ' "$T/front.out" && break
  kill -0 "$jvm" 2>/dev/null || { cat "$T/front.err" >&2; fail "JavaRtmpFront exited before listening"; }
  sleep 0.1
done
grep -q '^listening on ' "$T/front.out" || fail "JavaRtmpFront did not listen within 30 s"
child=$(pgrep -f -- "^$REBOUND_REFSERVER " || true)
[ -n "$child" ] || fail "no rebound-refserver child of JavaRtmpFront"
kill -KILL "$jvm"
wait "$jvm" 2>/dev/null || true
for ((i = 0; i < 100; i++)); do
  kill -0 "$child" 2>/dev/null || break
  sleep 0.05
done
if kill -0 "$child" 2>/dev/null; then
  kill -KILL "$child"
  fail "rebound-refserver (pid $child) outlived the SIGKILLed JVM by 5 s"
fi

pass "Red5's MINA bug caught (session-config), its fix passes (acceptor), Netty likewise"
