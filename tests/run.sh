#!/usr/bin/env bash
# The test command of README.md: install what is needed, then build and run every test,
# once plainly and once under AddressSanitizer + UndefinedBehaviorSanitizer.
#   tests/run.sh            both builds
#   tests/run.sh plain      only the plain build (faster while developing)
set -euo pipefail
cd "$(dirname "$0")/.."
bash tests/setup.sh

[ $# -gt 0 ] || set -- plain asan
jobs=$(nproc)
for variant in "$@"; do
  case "$variant" in
    plain) flags=(-DREBOUND_SANITIZE=OFF) ;;
    asan)  flags=(-DREBOUND_SANITIZE=ON) ;;
    *) echo "tests/run.sh: unknown variant '$variant' (plain, asan)" >&2; exit 2 ;;
  esac
  dir="build-test-$variant"
  echo "== $variant build in $dir"
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "${flags[@]}" >/dev/null
  cmake --build "$dir" -j "$jobs" >/dev/null
  echo "== $variant tests"
  (cd "$dir" && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
     ctest --output-on-failure -j "$jobs" --timeout 300)
done
