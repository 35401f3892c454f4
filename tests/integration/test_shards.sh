#!/usr/bin/env bash
# Shards and merge (issue 16), playing the engines' part: the shards of a scenario file
# run as separate processes with the variables GitLab (CI_NODE_INDEX/CI_NODE_TOTAL),
# Kubernetes (JOB_COMPLETION_INDEX) and a GitHub matrix (REBOUND_SHARD) set; their
# merge must have exactly the scenarios and the verdict of the unsharded run, valid
# JUnit (xmllint) and metrics (promtool). Also: empty shards, bad shard settings, and
# merge inputs that must be refused (duplicate, truncated, other schema).
source "$(dirname "$0")/lib.sh"
ini="$SRC/tests/fixtures/shards.ini"
command -v promtool >/dev/null || fail "promtool is required (Debian package prometheus, tests/setup.sh)"
clean_env=(env -u CI_NODE_INDEX -u CI_NODE_TOTAL -u JOB_COMPLETION_INDEX -u REBOUND_SHARD)

# promtool really checks: a broken exposition is refused
printf 'rebound bad metric\n' | promtool check metrics >/dev/null 2>&1 && fail "promtool accepted garbage"

run_rebound 120 run "$ini" --json "$T/all.json" --metrics "$T/all.prom" --artifacts "$T/art-all"
expect_code 1 "the unsharded run fails (two known failures)"
promtool check metrics <"$T/all.prom" || fail "metrics of the unsharded run"
jq -r '[.scenarios[].name] | sort | join(" ")' "$T/all.json" >"$T/all.names"

# run_shards ENGINE N: one process per shard, side by side, as the engine starts them
run_shards() {
  local engine=$1 n=$2 i pids=() codes=()
  for ((i = 1; i <= n; i++)); do
    case $engine in
      gitlab) set -- env CI_NODE_INDEX=$i CI_NODE_TOTAL=$n "$REBOUND" run "$ini" --shard auto ;;
      k8s) set -- env JOB_COMPLETION_INDEX=$((i - 1)) "$REBOUND" run "$ini" --shard auto --shards "$n" ;;
      github) set -- env REBOUND_SHARD=$i/$n "$REBOUND" run "$ini" --shard auto ;;
    esac
    timeout -s KILL 120 "${clean_env[@]}" "$@" --quiet --json "$T/$engine-$i.json" \
      --artifacts "$T/art-$engine-$i" >"$T/$engine-$i.out" 2>&1 &
    pids+=($!)
  done
  for ((i = 1; i <= n; i++)); do
    local rc=0
    wait "${pids[$((i - 1))]}" || rc=$?
    [ "$rc" -eq 0 ] || [ "$rc" -eq 1 ] || { cat "$T/$engine-$i.out" >&2; fail "$engine shard $i exited $rc"; }
    grep -q "^shard $i/$n: " "$T/$engine-$i.out" || fail "$engine shard $i does not say which shard it is"
    jq -e ".shard.index == $i and .shard.total == $n" "$T/$engine-$i.json" >/dev/null || fail "$engine shard $i JSON"
  done
}

# merged ENGINE N: merge the shards and compare with the unsharded run
merged() {
  local engine=$1 n=$2 files=() i
  for ((i = 1; i <= n; i++)); do files+=("$T/$engine-$i.json"); done
  run_rebound 60 merge "${files[@]}" --json "$T/$engine.json" --junit "$T/$engine.xml" \
    --metrics "$T/$engine.prom" --html "$T/$engine.html"
  expect_code 1 "$engine: the merge carries the failing verdict"
  jq -r '[.scenarios[].name] | sort | join(" ")' "$T/$engine.json" | cmp -s - "$T/all.names" \
    || fail "$engine: merged scenarios $(jq -c '[.scenarios[].name]' "$T/$engine.json") differ from $(cat "$T/all.names")"
  [ "$(jq -r .result "$T/$engine.json")" = "$(jq -r .result "$T/all.json")" ] || fail "$engine: merged verdict differs"
  for s in $(cat "$T/all.names"); do
    [ "$(jq -r --arg s "$s" '.scenarios[] | select(.name == $s) | .result' "$T/$engine.json")" = \
      "$(jq -r --arg s "$s" '.scenarios[] | select(.name == $s) | .result' "$T/all.json")" ] \
      || fail "$engine: scenario $s has another verdict than unsharded"
  done
  xmllint --noout "$T/$engine.xml" "$T/$engine.html" || fail "$engine: JUnit/HTML not well-formed"
  [ "$(xmllint --xpath 'count(/testsuites/testsuite)' "$T/$engine.xml")" = "$(wc -w <"$T/all.names")" ] \
    || fail "$engine: not one testsuite per scenario"
  promtool check metrics <"$T/$engine.prom" || fail "$engine: metrics do not pass promtool"
  grep -q '^rebound_run_result{result="fail"} 1$' "$T/$engine.prom" || fail "$engine: metrics lack the verdict"
}

run_shards gitlab 3
merged gitlab 3
run_shards k8s 2
merged k8s 2
run_shards github 2
merged github 2
# the same N gives the same slices whatever the engine (stable)
for i in 1 2; do
  [ "$(jq -c '[.scenarios[].name]' "$T/k8s-$i.json")" = "$(jq -c '[.scenarios[].name]' "$T/github-$i.json")" ] \
    || fail "shard $i/2 differs between Kubernetes and REBOUND_SHARD"
done

# every preset: the shards' scenarios (--parse-only) are disjoint and together exactly
# the unsharded set, for 1..4 shards
names() { sed -n 's/^.*scenarios\? OK://p' "$T/out" | tr ' ' '\n' | sed '/^$/d'; }
for f in "$SRC"/scenarios/*.ini; do
  run_rebound 20 run "$f" --parse-only
  expect_code 0 "$(basename "$f") parses"
  names | sort >"$T/preset.all"
  for n in 1 2 3 4; do
    : >"$T/preset.union"
    for ((i = 1; i <= n; i++)); do
      run_rebound 20 run "$f" --parse-only --shard "$i/$n"
      expect_code 0 "$(basename "$f") --shard $i/$n"
      names >>"$T/preset.union"
    done
    sort "$T/preset.union" | cmp -s - "$T/preset.all" \
      || fail "$(basename "$f"): shards of $n do not add up to its scenarios: $(sort "$T/preset.union" | tr '\n' ' ')"
  done
done

# the refserver preset, really run: sharded + merged equals unsharded
run_rebound 120 run "$SRC/scenarios/refserver.ini" --cycles 2 --json "$T/ref-all.json"
ref_code=$CODE
for i in 1 2; do
  run_rebound 120 run "$SRC/scenarios/refserver.ini" --cycles 2 --shard "$i/2" --json "$T/ref-$i.json"
done
run_rebound 60 merge "$T/ref-1.json" "$T/ref-2.json" --json "$T/ref.json" --junit "$T/ref.xml" --metrics "$T/ref.prom"
expect_code "$ref_code" "refserver preset: the merge has the unsharded run's exit code"
[ "$(jq -c '[.scenarios[].name] | sort' "$T/ref.json")" = "$(jq -c '[.scenarios[].name] | sort' "$T/ref-all.json")" ] \
  || fail "refserver preset: merged scenarios differ"
[ "$(jq -r .result "$T/ref.json")" = "$(jq -r .result "$T/ref-all.json")" ] || fail "refserver preset: verdict differs"
xmllint --noout "$T/ref.xml" || fail "refserver preset: JUnit"
promtool check metrics <"$T/ref.prom" || fail "refserver preset: metrics"

# a shard with nothing to do passes and says so; the merge of all 7 equals the rest
for i in 6 7; do
  run_rebound 30 run "$ini" --shard "$i/7" --json "$T/empty-$i.json"
  expect_code 0 "empty shard $i/7"
  expect_in "$T/out" "shard $i/7: nothing to do"
  jq -e '.result == "pass" and (.scenarios | length) == 0' "$T/empty-$i.json" >/dev/null || fail "empty shard JSON"
done
run_rebound 60 merge "$T"/gitlab-{1,2,3}.json "$T/empty-6.json" "$T/empty-7.json" --json "$T/with-empty.json"
expect_code 1 "merge with empty shards"
[ "$(jq '.scenarios | length' "$T/with-empty.json")" = "$(wc -w <"$T/all.names")" ] || fail "empty shards changed the merge"

# bad shard settings: exit 2, one line, nothing run
for args in "--shard 4/3" "--shard 0/3" "--shard x" "--shard auto" "--shards 0 --shard auto"; do
  read -r -a a <<<"$args"
  set +e; "${clean_env[@]}" "$REBOUND" run "$ini" "${a[@]}" >"$T/out" 2>"$T/err"; CODE=$?; set -e
  expect_code 2 "$args"
  [ "$(wc -l <"$T/err")" -eq 1 ] || fail "$args: not one line: $(cat "$T/err")"
done
set +e; "${clean_env[@]}" "$REBOUND" run "$ini" --shard auto >"$T/out" 2>"$T/err"; CODE=$?; set -e
expect_in "$T/err" "none of REBOUND_SHARD, CI_NODE_INDEX/CI_NODE_TOTAL (GitLab) or JOB_COMPLETION_INDEX"
set +e; "${clean_env[@]}" JOB_COMPLETION_INDEX=1 "$REBOUND" run "$ini" --shard auto >"$T/out" 2>"$T/err"; CODE=$?; set -e
expect_code 2 "JOB_COMPLETION_INDEX without --shards"
expect_in "$T/err" "--shards N"

# merge inputs that must be refused, each naming the file
run_rebound 30 merge "$T/gitlab-1.json" "$T/gitlab-1.json"
expect_code 2 "a shard merged twice"
expect_in "$T/err" "$T/gitlab-1.json: scenario '"
head -c 300 "$T/gitlab-2.json" >"$T/cut.json"
run_rebound 30 merge "$T/gitlab-1.json" "$T/cut.json"
expect_code 2 "a truncated file"
expect_in "$T/err" "$T/cut.json:"
jq '.schema = 2' "$T/gitlab-3.json" >"$T/v2.json"
run_rebound 30 merge "$T/gitlab-1.json" "$T/v2.json"
expect_code 2 "mixed schema versions"
expect_in "$T/err" "$T/v2.json: results schema 2, expected 1"
run_rebound 30 merge "$T/missing.json"
expect_code 2 "a missing file"
expect_in "$T/err" "$T/missing.json"

# rebound report re-renders a saved result without running anything
run_rebound 30 report "$T/gitlab.json" --html "$T/re.html" --junit "$T/re.xml" --metrics "$T/re.prom"
expect_code 0 "report re-renders"
xmllint --noout "$T/re.html" "$T/re.xml" || fail "re-rendered HTML/JUnit"
promtool check metrics <"$T/re.prom" || fail "re-rendered metrics"
grep -q "does not set SO_REUSEADDR" "$T/re.html" || fail "the re-rendered page lacks the diagnosis"
# the loader loses nothing: a saved result read back and written again is the same
# document, summaries (recomputed from the cycles) included
run_rebound 30 report "$T/all.json" --json "$T/again.json" --quiet
expect_code 0 "report --json"
diff <(jq -S . "$T/all.json") <(jq -S . "$T/again.json") >"$T/roundtrip.diff" \
  || fail "results changed on the way through rebound report: $(head -c 600 "$T/roundtrip.diff")"

# the examples parse and have the shape the README describes (yamllint, python3-yaml)
if command -v yamllint >/dev/null; then
  yamllint -d '{extends: default, rules: {line-length: {max: 120}, document-start: disable, truthy: {check-keys: false}}}' \
    "$SRC"/examples/*.yml || fail "yamllint: examples"
fi
python3 - "$SRC/examples" <<'PY' || fail "the examples do not have the expected shape"
import sys, yaml, os
d = sys.argv[1]
gh = yaml.safe_load(open(os.path.join(d, "github-actions.yml")))
job = gh["jobs"]["rebound"]
assert job["strategy"]["matrix"]["shard"], "GitHub: no shard matrix"
assert any("REBOUND_SHARD" in str(s.get("env", "")) or "--shard" in str(s.get("run", "")) for s in job["steps"])
assert "merge" in str(gh["jobs"]["merge"]["steps"]), "GitHub: no merge step"
gl = yaml.safe_load(open(os.path.join(d, "gitlab-ci.yml")))
assert isinstance(gl["rebound"]["parallel"], int), "GitLab: no parallel:"
assert "--shard auto" in " ".join(gl["rebound"]["script"])
assert "merge" in " ".join(gl["rebound-merge"]["script"])
docs = list(yaml.safe_load_all(open(os.path.join(d, "kubernetes-indexed-job.yml"))))
jobs = [x for x in docs if x and x.get("kind") == "Job"]
idx = [j for j in jobs if j["spec"].get("completionMode") == "Indexed"]
assert idx, "Kubernetes: no Indexed Job"
completions = idx[0]["spec"]["completions"]
cmd = " ".join(idx[0]["spec"]["template"]["spec"]["containers"][0]["args"])
assert "--shard auto" in cmd and "--shards %d" % completions in cmd, cmd
assert any("merge" in " ".join(c.get("args", [])) for j in jobs for c in j["spec"]["template"]["spec"]["containers"])
PY
pass "shards from GitLab, Kubernetes and REBOUND_SHARD merge to the unsharded run; bad shards and inputs refused"
