#!/usr/bin/env bash
# RTMPS against node-media-server's TLS port, with a throwaway self-signed key/cert
# made here. The certificate names neither 127.0.0.1 nor any CA rebound knows:
# Debian's librtmp (GnuTLS) does not verify the server's certificate at all
# (RTMP_Connect1 calls gnutls_handshake and never checks the peer), so it connects.
#
# NMS runs with `node --tls-max-v1.2`: with TLS 1.3 a server sends its session
# tickets after the handshake, GnuTLS's gnutls_record_recv then returns
# GNUTLS_E_AGAIN, and librtmp 2.4 takes that for a broken connection ("protocol
# error during handshake"). Clients can instead disable TLS 1.3 on their side with
# GNUTLS_SYSTEM_PRIORITY_FILE pointing at "[overrides] disabled-version = tls1.3".
#
# 1. rebound run: the whole restart cycle over rtmps:// (publisher, player, holders).
# 2. rebound probe / publish / play against an NMS started here.
source "$(dirname "$0")/lib.sh"
nms=${NMS_HOME:-/opt/rebound/nms/node_modules/node-media-server}
command -v node >/dev/null || fail "node not installed: run tests/setup.sh"
command -v openssl >/dev/null || fail "openssl not installed: run tests/setup.sh"
[ -f "$nms/bin/app.js" ] || fail "node-media-server not found in $nms: run tests/setup.sh"

timeout 60 openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=rebound-selfsigned \
  -keyout "$T/key.pem" -out "$T/cert.pem" >/dev/null 2>&1 || fail "openssl could not make a key/cert"

# Only the TLS listener (no plain "rtmp" block): ${port} is the RTMPS port.
cat >"$T/nms-rtmps.json.in" <<JSON
{
    "bind": "\${host}",
    "store": { "path": "\${run_dir}/data" },
    "auth": { "play": false, "publish": false, "secret": "rebound-loopback-only",
              "jwt": { "secret": "rebound-loopback-only", "algorithm": "HS256", "users": [] } },
    "rtmps": { "port": \${port}, "key": "$T/key.pem", "cert": "$T/cert.pem" },
    "http": { "port": \${http_port} },
    "webadmin": { "enable": false },
    "record": { "auto": false, "path": "\${run_dir}/record" }
}
JSON
token=$(sed -n 's/^stat_url = .*?token=//p' "$SRC/scenarios/node-media-server.ini")
[ -n "$token" ] || fail "no API token in the NMS preset"

cat >"$T/rtmps.ini" <<INI
[global]
command = exec node --tls-max-v1.2 $nms/bin/app.js -c \${config}
config_template = $T/nms-rtmps.json.in
port = auto
http_port = auto
url = rtmps://\${host}:\${port}/\${app}
ready = rtmp
ready_timeout = 20s
rebind_timeout = 15s
reconnect_timeout = 20s
cycles = 2
publishers = 1
players = 1
holders = 2
publish_for = 500ms
stat_url = http://\${host}:\${http_port}/api/v1/streams?token=$token
stat_expect = "name":"\${stream}"

[rtmps-kill-while-publishing]
fault = sigkill

[rtmps-graceful-stop]
fault = sigterm
grace = 3s
INI

run_rebound 120 run "$T/rtmps.ini" --json "$T/r.json" --artifacts "$T/art"
expect_code 0 "the restart cycle over RTMPS"
json '.result == "pass"'
json '[.scenarios[].name] == ["rtmps-kill-while-publishing","rtmps-graceful-stop"]'
json '[.scenarios[] | .result == "pass" and (.cycles | length) == 2] | all'
json '[.scenarios[].cycles[] | .clients.publishers_ok == 1 and .clients.players_ok == 1 and .frames.received > 0] | all'
expect_in "$T/art/rtmps-kill-while-publishing/server-0.log" "Rtmps Server listening"
assert_no_leftovers "$T/art"

# 2. The one-shot commands against an NMS started here on a free port.
free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
start_nms() {
  local port=$1
  sed -e "s/\${host}/127.0.0.1/; s/\${port}/$port/; s/\${http_port}/0/; s|\${run_dir}|$T/manual|g" \
    -e '/"http"/d' "$T/nms-rtmps.json.in" >"$T/manual/nms.json"
  node --tls-max-v1.2 "$nms/bin/app.js" -c "$T/manual/nms.json" >"$T/manual/nms.log" 2>&1 &
  NMS_PID=$!
  for _ in $(seq 200); do   # up to 20 s: Node.js starts slowly on a loaded machine
    ss -Htln "sport = :$port" | grep LISTEN >/dev/null && return 0
    kill -0 $NMS_PID 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}
mkdir -p "$T/manual"
started=false
for _ in 1 2 3; do   # another process may take the free port between the pick and the bind
  port=$(free_port)
  if start_nms "$port"; then started=true; break; fi
  kill $NMS_PID 2>/dev/null || true; wait $NMS_PID 2>/dev/null || true
done
$started || { cat "$T/manual/nms.log" >&2; fail "NMS with RTMPS did not start"; }
url="rtmps://127.0.0.1:$port/live"

run_rebound 30 probe "$url" --timeout 5s
expect_code 0 "probe over RTMPS"
expect_in "$T/out" "handshake"

# The TLS port speaks no plain RTMP: the same probe without TLS must fail.
run_rebound 30 probe "rtmp://127.0.0.1:$port/live" --timeout 3s
expect_code 1 "plain RTMP to the TLS port"

timeout -s KILL 30 "$REBOUND" publish "$url/tls-0" --duration 4s >"$T/pub.out" 2>&1 &
pub=$!
# play once NMS lists the publisher's stream (bounded wait, no fixed sleep)
for _ in $(seq 50); do
  grep -q "start push /live/tls-0" "$T/manual/nms.log" && break
  sleep 0.1
done
run_rebound 30 play "$url/tls-0" --duration 1500ms --verify
expect_code 0 "play over RTMPS"
expect_in "$T/out" "gaps 0"
wait $pub || { cat "$T/pub.out" >&2; fail "publish over RTMPS failed"; }
expect_in "$T/pub.out" "published $url/tls-0"
kill $NMS_PID; wait $NMS_PID 2>/dev/null || true
pass "restart cycles, probe, publish and play over RTMPS to NMS with a self-signed certificate"
