#!/usr/bin/env bash
# `cmake --install` into a private prefix: the binaries, every scenario file and
# template, and the man page land where README and the man page say; the installed
# rebound runs (its version, the installed presets parse, the built-in scenario finds
# the installed refserver beside it); the man page renders without a warning.
source "$(dirname "$0")/lib.sh"
build=$(dirname "$REBOUND")
prefix="$T/prefix"

timeout 120 cmake --install "$build" --prefix "$prefix" >"$T/install.log" 2>&1 ||
  { cat "$T/install.log" >&2; fail "cmake --install failed"; }

for f in bin/rebound bin/rebound-refserver; do
  [ -x "$prefix/$f" ] || fail "$f not installed (or not executable)"
done
man="$prefix/share/man/man1/rebound.1"
[ -f "$man" ] || fail "man page not installed at share/man/man1/rebound.1"
cmp -s "$man" "$SRC/harness/rebound.1" || fail "installed man page differs from harness/rebound.1"
# every scenario file and template, byte for byte
(cd "$SRC/scenarios" && find . -type f | sort) >"$T/src.list"
(cd "$prefix/share/rebound/scenarios" && find . -type f | sort) >"$T/inst.list"
diff -u "$T/src.list" "$T/inst.list" >&2 || fail "installed scenarios differ from scenarios/"
while read -r f; do
  cmp -s "$SRC/scenarios/$f" "$prefix/share/rebound/scenarios/$f" || fail "scenarios/$f differs after install"
done <"$T/src.list"
# red5-mina.ini runs its Java fixture from ${scenario_dir}/../tests/fixtures
cmp -s "$SRC/tests/fixtures/JavaRtmpFront.java" "$prefix/share/rebound/scenarios/../tests/fixtures/JavaRtmpFront.java" ||
  fail "tests/fixtures/JavaRtmpFront.java not installed where scenarios/red5-mina.ini looks for it"

run_rebound 10 --version
expect_code 0 "installed rebound --version"
grep -qE '^rebound [0-9]+\.[0-9]+\.[0-9]+$' "$T/out" || { cat "$T/out" >&2; fail "unexpected --version output"; }
REBOUND="$prefix/bin/rebound"
run_rebound 10 --version
expect_code 0 "installed rebound --version"
grep -qE '^rebound [0-9]+\.[0-9]+\.[0-9]+$' "$T/out" || { cat "$T/out" >&2; fail "unexpected --version output"; }

for f in "$prefix"/share/rebound/scenarios/*.ini; do
  run_rebound 20 run "$f" --parse-only
  expect_code 0 "installed $(basename "$f") parses"
done

# The built-in scenario runs rebound-refserver from the PATH rebound sets up: the
# installed one, beside the installed rebound.
run_rebound 60 run --cycles 2 --json "$T/r.json" --artifacts "$T/art"
expect_code 0 "the installed rebound runs its built-in scenario"
json '.result == "pass"'
assert_no_leftovers "$T/art"

# The man page: the sections a reader looks for, rendered without a warning.
for s in NAME SYNOPSIS DESCRIPTION COMMANDS OPTIONS "SCENARIO FILES" "EXIT STATUS" FILES EXAMPLES; do
  grep -q "^\.SH \"\?$s\"\?$" "$man" || fail "man page has no $s section"
done
grep -q '^\.TH REBOUND 1 ' "$man" || fail "man page has no .TH REBOUND 1 line"
command -v groff >/dev/null || fail "groff not installed: run tests/setup.sh"
timeout 30 groff -man -Tutf8 -ww -z "$man" 2>"$T/groff.err" || { cat "$T/groff.err" >&2; fail "groff failed"; }
[ ! -s "$T/groff.err" ] || { cat "$T/groff.err" >&2; fail "groff warned about the man page"; }
timeout 30 groff -man -Tutf8 "$man" 2>/dev/null | sed 's/.\x08//g' >"$T/man.txt"
expect_in "$T/man.txt" "rebound run"
expect_in "$T/man.txt" "130, 143"
pass "install: binaries, $(wc -l <"$T/src.list") scenario files, man page"
