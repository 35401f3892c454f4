#!/usr/bin/env bash
# The test command of README.md: install what is needed, then build and run every test,
# once plainly and once under AddressSanitizer + UndefinedBehaviorSanitizer.
#   tests/run.sh            both builds, then the valgrind pass and a fuzz smoke
#   tests/run.sh plain      only the plain build (faster while developing)
#   tests/run.sh valgrind   a short valgrind pass over the plain build: unit tests
#                           of the parsers and a 3-cycle run against rebound-refserver
#   tests/run.sh fuzz       20 s per libFuzzer target (clang; tests/fuzz/run.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
bash tests/setup.sh

[ $# -gt 0 ] || set -- plain asan valgrind fuzz
jobs=$(nproc)

# Memory errors and definite leaks under valgrind (the sanitizers cover the rest):
# any error, or a definite leak, fails. The refserver is not run under valgrind.
valgrind_pass() {
  local dir=build-test-plain out
  local vg=(valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite
            --show-leak-kinds=definite)
  [ -x "$dir/rebound" ] || {
    cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DREBOUND_SANITIZE=OFF >/dev/null
    cmake --build "$dir" -j "$jobs" >/dev/null
  }
  echo "== valgrind"
  for t in test_scenario test_scenario_fuzzcases test_client test_refserver test_media test_output test_shard test_run test_types test_judge test_ports test_flv test_hls test_mpegts; do
    timeout 300 "${vg[@]}" "$dir/tests/$t" >/dev/null || { echo "valgrind: $t failed" >&2; return 1; }
    echo "valgrind: $t clean"
  done
  out=$(mktemp -d /tmp/rebound-valgrind-XXXXXX)
  if ! timeout 300 "${vg[@]}" "$dir/rebound" run --set cycles=3 --set publish_for=0 \
         --artifacts "$out/art" --json "$out/r.json" --no-progress >"$out/log" 2>&1; then
    cat "$out/log" >&2
    echo "valgrind: rebound run (3 cycles against rebound-refserver) failed" >&2
    rm -rf "$out"
    return 1
  fi
  rm -rf "$out"
  echo "valgrind: rebound run, 3 cycles against rebound-refserver, clean"
}

for variant in "$@"; do
  case "$variant" in
    valgrind) valgrind_pass; continue ;;
    fuzz) echo "== fuzz smoke"; bash tests/fuzz/run.sh 20 build-test-fuzz; continue ;;
    plain) flags=(-DREBOUND_SANITIZE=OFF) ;;
    asan)  flags=(-DREBOUND_SANITIZE=ON) ;;
    *) echo "tests/run.sh: unknown variant '$variant' (plain, asan, valgrind, fuzz)" >&2; exit 2 ;;
  esac
  dir="build-test-$variant"
  echo "== $variant build in $dir"
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "${flags[@]}" >/dev/null
  cmake --build "$dir" -j "$jobs" >/dev/null
  echo "== $variant tests"
  (cd "$dir" && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
     ctest --output-on-failure -j "$jobs" --timeout 300)
done
