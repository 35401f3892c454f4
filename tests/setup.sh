#!/usr/bin/env bash
# Install everything rebound needs to build and to run its tests, on Debian 12 as root.
# Idempotent: when every package is already installed it changes nothing.
set -euo pipefail

packages=(
  build-essential cmake pkg-config                         # toolchain
  librtmp-dev libcurl4-openssl-dev libinih-dev libjansson-dev libxml2-dev  # rebound's libraries
  libcunit1-dev                                           # unit tests
  nginx libnginx-mod-rtmp                                 # a real RTMP server for the tests
  ffmpeg                                                  # ffprobe decodes what rebound publishes
  iproute2 procps jq libxml2-utils                        # ss, pgrep, JSON and XML checks in tests
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "tests/setup.sh: missing packages: ${missing[*]}; run as root (or install them) first" >&2
  exit 3
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian starts the packaged nginx on port 80 where it can; rebound runs its own
# instances and needs none, so stop it quietly if it was started.
if command -v service >/dev/null 2>&1; then service nginx stop >/dev/null 2>&1 || true; fi
