#!/usr/bin/env bash
# Bad input at the command line: `rebound run` on every class of malformed
# scenario file exits 2 with one line "rebound: FILE[:LINE]: message" and starts
# nothing; bad arguments of run/probe/publish/play exit 2 with one line.
source "$(dirname "$0")/lib.sh"

marker=$T/started
# Every scenario below would start this command if it were accepted.
cmd="command = touch $marker; exec sleep 5"

# bad NAME LINE NEEDLE: $T/NAME.ini must give exit 2, "rebound: $T/NAME.ini:LINE: ...NEEDLE".
bad() {
  local file=$T/$1.ini where=$T/$1.ini${2:+:$2}
  run_rebound 20 run "$file"
  expect_code 2 "$1"
  [ "$(wc -l <"$T/err")" -eq 1 ] || fail "$1: not one line: $(head -c 600 "$T/err")"
  grep -qF -- "rebound: $where: " "$T/err" || fail "$1: no '$where:' prefix: $(head -c 600 "$T/err")"
  grep -qF -- "$3" "$T/err" || fail "$1: '$3' not in: $(head -c 600 "$T/err")"
  [ ! -s "$T/out" ] || fail "$1: something was printed on stdout: $(head -c 300 "$T/out")"
}

printf '[s]\n%s\ncolour = blue\n' "$cmd" >"$T/unknown_key.ini"
bad unknown_key 3 "unknown key 'colour'"
printf '[s]\n%s\nfault = sigsegv\n' "$cmd" >"$T/bad_value.ini"
bad bad_value 3 "bad fault"
printf '[s]\n%s\ngrace = soon\n' "$cmd" >"$T/bad_duration.ini"
bad bad_duration 3 "bad duration 'soon' for grace"
printf '[s]\n%s\nport = 70000\n' "$cmd" >"$T/bad_port.ini"
bad bad_port 3 "bad port '70000'"
printf '[s]\n%s\ncycles = 99999999999999999999999\n' "$cmd" >"$T/overflow.ini"
bad overflow 3 "bad value '99999999999999999999999' for cycles"
printf '[s]\n%s\nrebind_timeout = 99999999999999999999s\n' "$cmd" >"$T/overflow_duration.ini"
bad overflow_duration 3 "bad duration"
printf '[s]\n%s\napp = ${port\n' "$cmd" >"$T/unterminated_var.ini"
bad unterminated_var 3 'unterminated ${'
printf '[s]\n%s\napp = ${colour}\n' "$cmd" >"$T/unknown_var.ini"
bad unknown_var 3 'unknown variable ${colour}'
printf '[s]\n%s\n[s]\n' "$cmd" >"$T/duplicate_section.ini"
bad duplicate_section 3 "duplicate section [s] (first at line 1)"
printf '[]\n%s\n' "$cmd" >"$T/empty_section.ini"
bad empty_section 1 "empty section name"
printf '[s\n%s\n' "$cmd" >"$T/broken_section.ini"
bad broken_section 1 "unterminated section header"
{ printf '[s]\n%s\nstream = ' "$cmd"; head -c 1048576 /dev/zero | tr '\0' 'x'; printf '\n'; } >"$T/long_line.ini"
bad long_line 3 "line too long"
printf '\x7fELF\x02\x01\x01\x03\n' >"$T/elf.ini"
head -c 65536 /dev/urandom | tr -d '\000' >>"$T/elf.ini"
bad elf 1 "binary content (byte 0x02)"
printf '[s]\n%s\nstream = a\0b\n' "$cmd" >"$T/nul.ini"
bad nul 3 "binary content (NUL byte)"
: >"$T/empty.ini"
bad empty "" "empty file"
printf '; only a comment\n\n' >"$T/no_scenarios.ini"
bad no_scenarios "" "no scenarios"
bad missing "" "No such file"
mkdir "$T/directory.ini"
bad directory "" "not a regular file"

# Bad arguments: exit 2, one line on stderr, nothing started.
# args... | needle
argcases=(
  "run --bogus|unknown option --bogus"
  "run --json|--json needs a value"
  "run --cycles many $SRC/scenarios/refserver.ini|bad value 'many'"
  "run $T/a.ini $T/b.ini|more than one scenario file"
  "run --quiet --verbose|exclude each other"
  "probe|missing URL"
  "probe rtmp://127.0.0.1:1/live --bogus|unknown option '--bogus'"
  "probe rtmp://127.0.0.1:1/live --timeout|--timeout needs a value"
  "probe rtmp://127.0.0.1:1/live --timeout soon|bad duration 'soon'"
  "probe rtmp://127.0.0.1:1/live --timeout 0|bad duration '0'"
  "probe rtmp://127.0.0.1:1/live rtmp://127.0.0.1:2/live|unexpected argument"
  "publish|missing URL"
  "publish rtmp://127.0.0.1:1/live/s --duration|--duration needs a value"
  "publish rtmp://127.0.0.1:1/live/s --duration -1s|bad duration '-1s'"
  "publish rtmp://127.0.0.1:1/live/s --media|--media needs a file name"
  "publish rtmp://127.0.0.1:1/live/s --verify|unknown option '--verify'"
  "publish rtmp://127.0.0.1:1/live/s extra|unexpected argument 'extra'"
  "play|missing URL"
  "play rtmp://127.0.0.1:1/live/s --duration 99999999999999h|bad duration"
  "play rtmp://127.0.0.1:1/live/s --json x|unknown option '--json'"
  "play rtmp://127.0.0.1:1/live/s a b|unexpected argument 'a'"
  "frobnicate|unknown command 'frobnicate'"
)
for c in "${argcases[@]}"; do
  read -r -a args <<<"${c%%|*}"
  run_rebound 20 "${args[@]}"
  expect_code 2 "rebound ${c%%|*}"
  [ "$(wc -l <"$T/err")" -eq 1 ] || fail "rebound ${c%%|*}: not one line: $(cat "$T/err")"
  grep -qF -- "${c#*|}" "$T/err" || fail "rebound ${c%%|*}: '${c#*|}' not in: $(cat "$T/err")"
done

[ ! -e "$marker" ] || fail "a rejected scenario or command line started its command"
pass "$(( 19 + ${#argcases[@]} )) kinds of bad input exit 2 with one placed line"
