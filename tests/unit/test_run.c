/* Unit tests of run: the verdict rule, exit codes (baseline, lost output), and whole
   runs through rb_run -- a target that cannot start, a passing refserver run, report
   files, results.json in the artifacts, temporary artifacts removed or kept. */
#include <jansson.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rb_test.h"
#include "rebound/run.h"

static char tmpdir[] = "/tmp/rb-run-XXXXXX";

static void test_worst(void)
{
  /* rank: pass = xfail = xpass < fail < error < interrupted */
  static const enum rb_verdict order[] = { RB_VERDICT_PASS, RB_VERDICT_FAIL, RB_VERDICT_ERROR,
                                           RB_VERDICT_INTERRUPTED };

  for(size_t i = 0; i < 4; i++)
    for(size_t k = 0; k < 4; k++) {
      CU_ASSERT_EQUAL(rb_verdict_worst(order[i], order[k]), order[i > k ? i : k]);
    }
  CU_ASSERT_EQUAL(rb_verdict_worst(RB_VERDICT_XFAIL, RB_VERDICT_PASS), RB_VERDICT_XFAIL);
  CU_ASSERT_EQUAL(rb_verdict_worst(RB_VERDICT_XPASS, RB_VERDICT_FAIL), RB_VERDICT_FAIL);
  CU_ASSERT_EQUAL(rb_verdict_worst(RB_VERDICT_ERROR, RB_VERDICT_XFAIL), RB_VERDICT_ERROR);
}

static void test_run_verdict(void)
{
  struct rb_scenario_result s[3];
  struct rb_run_result run = { .scenarios = s, .nscenarios = 3 };

  memset(s, 0, sizeof(s));
  s[0].verdict = RB_VERDICT_XFAIL;
  s[1].verdict = RB_VERDICT_PASS;
  s[2].verdict = RB_VERDICT_XPASS;
  CU_ASSERT_EQUAL(rb_run_verdict(&run, false), RB_VERDICT_PASS);
  s[1].verdict = RB_VERDICT_FAIL;
  CU_ASSERT_EQUAL(rb_run_verdict(&run, false), RB_VERDICT_FAIL);
  s[2].verdict = RB_VERDICT_ERROR;
  CU_ASSERT_EQUAL(rb_run_verdict(&run, false), RB_VERDICT_ERROR);
  CU_ASSERT_EQUAL(rb_run_verdict(&run, true), RB_VERDICT_INTERRUPTED);
  run.nscenarios = 0; /* a shard with nothing to do */
  CU_ASSERT_EQUAL(rb_run_verdict(&run, false), RB_VERDICT_PASS);
}

static void test_exit_codes(void)
{
  CU_ASSERT_EQUAL(rb_run_exit_code(RB_VERDICT_PASS, 0), 0);
  CU_ASSERT_EQUAL(rb_run_exit_code(RB_VERDICT_XFAIL, 0), 0);
  CU_ASSERT_EQUAL(rb_run_exit_code(RB_VERDICT_XPASS, 0), 0);
  CU_ASSERT_EQUAL(rb_run_exit_code(RB_VERDICT_FAIL, 0), 1);
  CU_ASSERT_EQUAL(rb_run_exit_code(RB_VERDICT_ERROR, 0), 3);
  CU_ASSERT_EQUAL(rb_run_exit_code(RB_VERDICT_INTERRUPTED, 0), 130);
  CU_ASSERT_EQUAL(rb_run_exit_code(RB_VERDICT_INTERRUPTED, SIGTERM), 143);
  /* a baseline regression fails only a passing run */
  CU_ASSERT_EQUAL(rb_run_exit_after_baseline(0, true), 1);
  CU_ASSERT_EQUAL(rb_run_exit_after_baseline(0, false), 0);
  CU_ASSERT_EQUAL(rb_run_exit_after_baseline(3, true), 3);
  CU_ASSERT_EQUAL(rb_run_exit_after_baseline(130, true), 130);
  /* lost output: 0 and 1 become 3; an error or an interruption stays */
  CU_ASSERT_EQUAL(rb_run_exit_after_output_error(0), 3);
  CU_ASSERT_EQUAL(rb_run_exit_after_output_error(1), 3);
  CU_ASSERT_EQUAL(rb_run_exit_after_output_error(3), 3);
  CU_ASSERT_EQUAL(rb_run_exit_after_output_error(143), 143);
}

static bool exists(const char *fmt, const char *a)
{
  char path[PATH_MAX + 64];
  struct stat st;

  snprintf(path, sizeof(path), fmt, a);
  return stat(path, &st) == 0;
}

/* Run text with reports and artifacts as given; returns the exit code. */
static int run_text(const char *text, const char *artifacts, const char *json, struct rb_run_result *run)
{
  struct rb_scenario_set set = { 0 };
  static volatile sig_atomic_t stop;
  struct rb_run_opts o = { .artifacts = artifacts, .stop = &stop };
  char msg[512];
  int code;

  o.reports[RB_REPORT_JSON] = json;
  memset(run, 0, sizeof(*run));
  if(rb_scenario_load_string(text, "t.ini", tmpdir, NULL, NULL, &set, msg, sizeof(msg))) {
    CU_FAIL(msg);
    return -1;
  }
  code = rb_run(&set, &o, run);
  rb_scenario_set_free(&set);
  return code;
}

static void test_run_cannot_start(void)
{
  struct rb_run_result run;
  char art[PATH_MAX], json[PATH_MAX + 16], temps[PATH_MAX];
  json_t *doc;

  snprintf(art, sizeof(art), "%s/art-error", tmpdir);
  snprintf(json, sizeof(json), "%s/error.json", tmpdir);
  CU_ASSERT_EQUAL(run_text("[s]\ncommand = exit 7\nready_timeout = 300ms\n", art, json, &run), 3);
  CU_ASSERT_EQUAL(run.nscenarios, 1);
  CU_ASSERT_EQUAL(run.verdict, RB_VERDICT_ERROR);
  CU_ASSERT_TRUE(exists("%s/results.json", art));
  doc = json_load_file(json, 0, NULL);
  CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(doc, "result")), "error");
  json_decref(doc);
  rb_run_result_free(&run);

  /* without --artifacts, a failed run keeps its temporary folder */
  snprintf(temps, sizeof(temps), "%s/tmp-error", tmpdir);
  mkdir(temps, 0700);
  setenv("TMPDIR", temps, 1);
  CU_ASSERT_EQUAL(run_text("[s]\ncommand = exit 7\nready_timeout = 300ms\n", NULL, NULL, &run), 3);
  CU_ASSERT_EQUAL(rb_test_count_entries(temps), 1);
  rb_run_result_free(&run);
}

/* A refserver scenario file of one cycle with these sections ("[a]\n[b]\n"). */
static void refserver_text(char *text, size_t len, const char *sections)
{
  snprintf(text, len,
           "[global]\ncommand = exec %s/rebound-refserver --quiet --port ${port}\nport = auto\ncycles = 1\n"
           "publish_for = 100ms\n%s", REBOUND_BINARY_DIR, sections);
}

static void test_run_passes_and_cleans_up(void)
{
  struct rb_run_result run;
  char text[1024], temps[PATH_MAX];

  refserver_text(text, sizeof(text), "[a]\n[b]\n");
  snprintf(temps, sizeof(temps), "%s/tmp-pass", tmpdir);
  mkdir(temps, 0700);
  setenv("TMPDIR", temps, 1);
  CU_ASSERT_EQUAL(run_text(text, NULL, NULL, &run), 0);
  CU_ASSERT_EQUAL(run.nscenarios, 2);
  CU_ASSERT_EQUAL(run.verdict, RB_VERDICT_PASS);
  CU_ASSERT_EQUAL(run.scenarios[1].ncycles, 1);
  CU_ASSERT_EQUAL(rb_test_count_entries(temps), 0); /* a passing run leaves nothing behind */
  rb_run_result_free(&run);
}

static void test_lost_report_is_exit_3(void)
{
  struct rb_run_result run;
  char text[1024], art[PATH_MAX];

  refserver_text(text, sizeof(text), "[a]\n");
  snprintf(art, sizeof(art), "%s/art-lost", tmpdir);
  CU_ASSERT_EQUAL(run_text(text, art, "/nonexistent-folder/r.json", &run), 3);
  CU_ASSERT_EQUAL(run.verdict, RB_VERDICT_PASS);
  CU_ASSERT_TRUE(exists("%s/results.json", art)); /* the results are still saved */
  rb_run_result_free(&run);
}

static void test_write_all(void)
{
  struct rb_run_result run = { .scenario_file = "x.ini", .seed = 3 };
  char ok[PATH_MAX], html[PATH_MAX];
  const char *paths[RB_REPORT__COUNT] = { NULL };
  FILE *err = tmpfile();
  char line[512] = "";

  snprintf(ok, sizeof(ok), "%s/all.json", tmpdir);
  snprintf(html, sizeof(html), "%s/all.html", tmpdir);
  paths[RB_REPORT_JSON] = ok;
  paths[RB_REPORT_JUNIT] = "/nonexistent-folder/j.xml";
  paths[RB_REPORT_HTML] = html;
  CU_ASSERT_EQUAL(rb_report_write_all(paths, &run, err), 1);
  rewind(err);
  CU_ASSERT_PTR_NOT_NULL(fgets(line, sizeof(line), err));
  CU_ASSERT_PTR_NOT_NULL(strstr(line, "rebound: --junit /nonexistent-folder/j.xml: No such file"));
  CU_ASSERT_TRUE(exists("%s", ok));
  CU_ASSERT_TRUE(exists("%s", html));
  fclose(err);
}

/* A saved run of one scenario with the given reconnect times. */
static void save_run(const char *file, const char *name, const double *reconnect, size_t n, enum rb_verdict v)
{
  struct rb_cycle_result cycles[8];
  struct rb_scenario_result sc = { .verdict = v, .ncycles = n, .cycles = cycles, .seed = 9 };
  struct rb_run_result run = { .scenario_file = "s.ini", .seed = 9, .verdict = v, .nscenarios = 1, .scenarios = &sc };
  char path[PATH_MAX], msg[512];

  memset(cycles, 0, sizeof(cycles));
  for(size_t i = 0; i < n; i++) {
    cycles[i].index = (unsigned)i + 1;
    cycles[i].pass = v != RB_VERDICT_FAIL;
    cycles[i].ready_ms = cycles[i].rebind_ms = 1;
    cycles[i].reconnect_ms = reconnect[i];
    cycles[i].states_at_restart[RB_TCP_FIN_WAIT2] = 2;
  }
  snprintf(sc.name, sizeof(sc.name), "%s", name);
  rb_scenario_result_summarize(&sc);
  snprintf(path, sizeof(path), "%s/%s", tmpdir, file);
  CU_ASSERT_EQUAL(rb_report_write_json(path, &run, msg, sizeof(msg)), RB_OK);
}

static rb_err merge(const char *a, const char *b, struct rb_run_result *out, char *msg)
{
  char pa[PATH_MAX], pb[PATH_MAX];
  const char *paths[] = { pa, pb };

  snprintf(pa, sizeof(pa), "%s/%s", tmpdir, a);
  snprintf(pb, sizeof(pb), "%s/%s", tmpdir, b);
  return rb_run_merge(paths, b ? 2 : 1, out, msg, 512);
}

static void test_merge(void)
{
  static const double fast[] = { 10, 20, 30 }, slow[] = { 1000, 2000 };
  struct rb_run_result m;
  char msg[512], path[PATH_MAX];
  FILE *f;

  save_run("m1.json", "one", fast, 3, RB_VERDICT_PASS);
  save_run("m2.json", "two", slow, 2, RB_VERDICT_FAIL);
  CU_ASSERT_EQUAL_FATAL(merge("m1.json", "m2.json", &m, msg), RB_OK);
  CU_ASSERT_EQUAL(m.nscenarios, 2);
  CU_ASSERT_STRING_EQUAL(m.scenarios[0].name, "one");
  CU_ASSERT_STRING_EQUAL(m.scenarios[1].name, "two");
  CU_ASSERT_EQUAL(m.verdict, RB_VERDICT_FAIL);
  CU_ASSERT_EQUAL(m.scenarios[0].ncycles, 3);
  CU_ASSERT_EQUAL(m.scenarios[0].cycles[2].states_at_restart[RB_TCP_FIN_WAIT2], 2);
  /* summaries come from the cycles, not from the file */
  CU_ASSERT_EQUAL(m.scenarios[0].reconnect.count, 3);
  CU_ASSERT_DOUBLE_EQUAL(m.scenarios[0].reconnect.p99, 30, 1e-9);
  CU_ASSERT_DOUBLE_EQUAL(m.scenarios[1].reconnect.p50, 1000, 1e-9);
  rb_run_result_free(&m);

  /* the same scenario twice: an error naming both files */
  CU_ASSERT_EQUAL(merge("m1.json", "m1.json", &m, msg), RB_ERR_USAGE);
  CU_ASSERT_PTR_NOT_NULL(strstr(msg, "m1.json: scenario 'one' is also in"));
  /* an interrupted file interrupts the merge */
  save_run("m3.json", "three", fast, 1, RB_VERDICT_INTERRUPTED);
  CU_ASSERT_EQUAL_FATAL(merge("m1.json", "m3.json", &m, msg), RB_OK);
  CU_ASSERT_EQUAL(m.verdict, RB_VERDICT_INTERRUPTED);
  rb_run_result_free(&m);
  /* truncated, another schema, not results */
  snprintf(path, sizeof(path), "%s/cut.json", tmpdir);
  f = fopen(path, "w");
  fputs("{\"schema\": 1, \"result\": \"pass\", \"scenarios\": [{\"name\": \"x\"", f);
  fclose(f);
  CU_ASSERT_EQUAL(merge("m1.json", "cut.json", &m, msg), RB_ERR_USAGE);
  CU_ASSERT_PTR_NOT_NULL(strstr(msg, "cut.json:1: "));
  snprintf(path, sizeof(path), "%s/v2.json", tmpdir);
  f = fopen(path, "w");
  fputs("{\"schema\": 2, \"result\": \"pass\", \"scenarios\": []}", f);
  fclose(f);
  CU_ASSERT_EQUAL(merge("v2.json", NULL, &m, msg), RB_ERR_USAGE);
  CU_ASSERT_PTR_NOT_NULL(strstr(msg, "v2.json: results schema 2, expected 1"));
  snprintf(path, sizeof(path), "%s/bad-cycle.json", tmpdir);
  f = fopen(path, "w");
  fputs("{\"schema\": 1, \"result\": \"pass\", \"scenarios\": [{\"name\": \"x\", \"result\": \"pass\", "
        "\"cycles\": [{\"index\": 1, \"result\": \"maybe\"}]}]}", f);
  fclose(f);
  CU_ASSERT_EQUAL(merge("bad-cycle.json", NULL, &m, msg), RB_ERR_USAGE);
  CU_ASSERT_PTR_NOT_NULL(strstr(msg, "bad-cycle.json: scenarios[0].cycles[0]: not a cycle"));
}

/* Metrics: base units, one sample per scenario label, quotes in names escaped. */
static void test_metrics(void)
{
  static const double t[] = { 250, 500 };
  struct rb_run_result m;
  char msg[512], path[PATH_MAX], text[16384];
  const char *paths[RB_REPORT__COUNT] = { NULL };
  FILE *f;
  size_t n;

  save_run("q.json", "a \"quoted\" name", t, 2, RB_VERDICT_PASS);
  CU_ASSERT_EQUAL_FATAL(merge("q.json", NULL, &m, msg), RB_OK);
  snprintf(path, sizeof(path), "%s/m.prom", tmpdir);
  paths[RB_REPORT_METRICS] = path;
  CU_ASSERT_EQUAL(rb_report_write_all(paths, &m, stderr), 0);
  rb_run_result_free(&m);
  f = fopen(path, "r");
  CU_ASSERT_PTR_NOT_NULL_FATAL(f);
  n = fread(text, 1, sizeof(text) - 1, f);
  text[n] = '\0';
  fclose(f);
  CU_ASSERT_PTR_NOT_NULL(strstr(text, "# TYPE rebound_reconnect_seconds summary\n"));
  CU_ASSERT_PTR_NOT_NULL(strstr(text, "rebound_reconnect_seconds{scenario=\"a \\\"quoted\\\" name\",quantile=\"0.99\"} 0.5\n"));
  CU_ASSERT_PTR_NOT_NULL(strstr(text, "rebound_reconnect_seconds_sum{scenario=\"a \\\"quoted\\\" name\"} 0.75\n"));
  CU_ASSERT_PTR_NOT_NULL(strstr(text, "rebound_run_result{result=\"pass\"} 1\n"));
  CU_ASSERT_PTR_NOT_NULL(strstr(text, "rebound_restart_sockets{scenario=\"a \\\"quoted\\\" name\",state=\"FIN_WAIT2\"} 4\n"));
}

int main(void)
{
  static const struct rb_test_case cases[] = {
    RB_TEST(test_worst), RB_TEST(test_run_verdict), RB_TEST(test_exit_codes), RB_TEST(test_run_cannot_start),
    RB_TEST(test_run_passes_and_cleans_up), RB_TEST(test_lost_report_is_exit_3), RB_TEST(test_write_all),
    RB_TEST(test_merge), RB_TEST(test_metrics),
    RB_TEST_END
  };

  return rb_test_main_in_tmpdir("run", cases, tmpdir);
}
