#!/usr/bin/env bash
# Install everything rebound needs to build and to run its tests, on Debian 12 as root.
# Idempotent: when everything is already installed it changes nothing and prints nothing.
set -euo pipefail

packages=(
  build-essential cmake pkg-config                         # toolchain
  librtmp-dev libcurl4-openssl-dev libinih-dev libjansson-dev libxml2-dev  # rebound's libraries
  libavformat-dev libavcodec-dev libavutil-dev            # FFmpeg demuxes and decodes HLS segments (mpegts.c)
  libcunit1-dev                                           # unit tests
  nginx libnginx-mod-rtmp                                 # a real RTMP server for the tests
  ffmpeg                                                  # ffprobe decodes what rebound publishes
  iproute2 procps jq libxml2-utils python3 python3-jsonschema  # ss, pgrep, JSON/XML/JSON Schema checks in tests
  valgrind                                                # tests/run.sh valgrind
  clang libclang-rt-14-dev                                # libFuzzer smoke (its runtime is only a Recommends of clang)
  openssl                                                 # throwaway TLS key/cert for the RTMPS test
  groff-base                                              # renders the man page in the install test
  openjdk-17-jdk-headless libmina2-java libnetty-java libslf4j-java  # the Red5 bug on MINA 2.2.1 and Netty 4.1 (scenarios/red5-mina.ini, tests/fixtures/JavaRtmpFront.java)
  prometheus yamllint                                     # promtool checks --metrics, yamllint the examples/ (test_shards)
)

# node-media-server v4 (npm) for its preset and the RTMPS test, in a fixed place that
# scenarios/node-media-server.ini knows (NMS_HOME overrides it there).
nms_prefix=/opt/rebound/nms
nms_spec=node-media-server@4
nms_package=$nms_prefix/node_modules/node-media-server/package.json

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node.js may come from Debian or from elsewhere (NodeSource ships npm inside its
# nodejs package and conflicts with Debian's npm): only install Debian's when absent.
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
need_nms=false
grep -qs '"version": "4\.' "$nms_package" || need_nms=true

if [ ${#missing[@]} -eq 0 ] && ! $need_nms; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "tests/setup.sh: missing: ${missing[*]}$($need_nms && echo " $nms_spec in $nms_prefix"); run as root (or install them) first" >&2
  exit 3
fi

if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # Debian starts the packaged nginx on port 80 where it can; rebound runs its own
  # instances and needs none, so stop it quietly if it was started.
  if command -v service >/dev/null 2>&1; then service nginx stop >/dev/null 2>&1 || true; fi
  # Only promtool is needed from the prometheus package: its server must not run (it
  # would listen on :9090 on all interfaces).
  if command -v service >/dev/null 2>&1; then service prometheus stop >/dev/null 2>&1 || true; fi
fi

if $need_nms; then
  log=$(mktemp)
  if ! npm install --prefix "$nms_prefix" --no-audit --no-fund --no-update-notifier --loglevel=error \
       "$nms_spec" >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    echo "tests/setup.sh: npm install $nms_spec failed" >&2
    exit 3
  fi
  rm -f "$log"
fi
