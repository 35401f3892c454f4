#!/usr/bin/env bash
# Build the libFuzzer targets with clang and run each for SECONDS (default 20)
# from the committed seed corpus. New inputs go to a scratch folder, not into the
# corpus; a crash fails the script and its input is kept in ARTIFACTS.
#   tests/fuzz/run.sh [SECONDS] [BUILD_DIR]     (default build-fuzz)
# The run is seeded (-seed=1), so a failure reproduces with the same command.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-20}
dir=${2:-build-fuzz}
targets=(client_command media_sei refserver rtmp_wire scenario results flv_stream hls_playlist)

command -v clang >/dev/null || { echo "tests/fuzz/run.sh: clang is not installed" >&2; exit 3; }
CC=clang cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DREBOUND_FUZZ=ON >/dev/null
cmake --build "$dir" -j "$(nproc)" --target "${targets[@]/#/fuzz_}" >/dev/null

scratch=$(mktemp -d /tmp/rebound-fuzz-XXXXXX)
trap 'rm -rf "$scratch"' EXIT
artifacts="$dir/tests/fuzz/artifacts"
mkdir -p "$artifacts"
status=0
for t in "${targets[@]}"; do
  mkdir -p "$scratch/$t"
  # timeout: libFuzzer's own -max_total_time is checked between inputs only.
  if timeout -s KILL $((seconds + 60)) "$dir/tests/fuzz/fuzz_$t" -seed=1 -max_total_time="$seconds" \
       -timeout=10 -rss_limit_mb=2048 -max_len=65536 -print_final_stats=0 \
       -artifact_prefix="$artifacts/$t-" "$scratch/$t" "tests/fuzz/corpus/$t" \
       >"$scratch/$t.log" 2>&1; then
    echo "fuzz_$t: ok ($(grep -Eo 'DONE +cov: [0-9]+' "$scratch/$t.log" | tail -1 | tr -s ' '), ${seconds}s)"
  else
    echo "fuzz_$t: FAILED (input kept in $artifacts)" >&2
    tail -n 40 "$scratch/$t.log" >&2
    status=1
  fi
done
exit $status
