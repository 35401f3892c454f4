/*
 * cli: argument parsing, subcommands and exit codes (interface.md). No logic that
 * tests need lives here: it wires scenario -> engine -> report.
 */
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rebound/baseline.h"
#include "rebound/commands.h"
#include "rebound/engine.h"
#include "rebound/report.h"
#include "rebound/results.h"
#include "rebound/scenario.h"
#include "rebound/target.h"

enum {
  EXIT_PASS = 0,
  EXIT_FAIL = 1,
  EXIT_USAGE = 2,
  EXIT_ENV = 3
};

#define MAX_ARGS 256

static volatile sig_atomic_t stop_signal;

static void on_stop_signal(int sig)
{
  stop_signal = sig; /* the engine checks it at every step; nothing else is safe here */
}

static void install_signals(void)
{
  struct sigaction sa;

  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGHUP, &sa, NULL);
  rb_engine_ignore_sigpipe();
}

static void usage(FILE *out)
{
  fprintf(out,
          "usage: rebound run [SCENARIO.ini] [--only NAME]... [--set KEY=VALUE]... [--cycles N]\n"
          "                   [--json FILE] [--junit FILE] [--html FILE] [--events FILE] [--artifacts DIR]\n"
          "                   [--baseline OLD.json [--baseline-threshold 25%%] [--baseline-min-ms 5]]\n"
          "                   [--parse-only]\n"
          "                   [--quiet | --verbose] [--no-progress]\n"
          "       rebound probe   URL [--timeout D] [--json FILE]\n"
          "       rebound publish URL [--duration D] [--media FILE.flv] [--timeout D]\n"
          "       rebound play    URL [--duration D] [--verify] [--timeout D]\n"
          "       rebound keys\n"
          "       rebound cleanup   kill what a SIGKILLed rebound left in its cgroups\n"
          "       rebound --help | --version\n"
          "\n"
          "Starts an RTMP server, drives real clients through publish and play, kills the server\n"
          "abruptly, restarts it, and checks that it rebinds its port and the clients reconnect.\n"
          "Exit codes: 0 pass, 1 a check failed, 2 usage or scenario error, 3 environment error,\n"
          "130/143 interrupted. 'rebound keys' lists every scenario key.\n");
}

struct run_args {
  const char *file;
  char *only[MAX_ARGS];
  size_t nonly;
  char *sets[MAX_ARGS];
  size_t nsets;
  char cycles_set[64];
  const char *json, *junit, *html, *events, *artifacts, *baseline;
  struct rb_baseline_opts baseline_opts;
  bool parse_only, quiet, verbose, no_progress;
};

static int usage_error(const char *fmt, const char *arg) __attribute__((format(printf, 1, 0)));

static int usage_error(const char *fmt, const char *arg)
{
  fprintf(stderr, "rebound: ");
  fprintf(stderr, fmt, arg);
  fprintf(stderr, " (see rebound --help)\n");
  return EXIT_USAGE;
}

/* Options that take a value: return it, or NULL after printing the error. */
static const char *value_of(int argc, char **argv, int *i)
{
  if(*i + 1 >= argc) {
    usage_error("%s needs a value", argv[*i]);
    return NULL;
  }
  return argv[++*i];
}

static int parse_run_args(int argc, char **argv, struct run_args *a)
{
    for(int i = 1; i < argc; i++) {
    const char *arg = argv[i], *v;

    if(!strcmp(arg, "--parse-only"))
      a->parse_only = true;
    else if(!strcmp(arg, "--quiet"))
      a->quiet = true;
    else if(!strcmp(arg, "--verbose"))
      a->verbose = true;
    else if(!strcmp(arg, "--no-progress"))
      a->no_progress = true;
    else if(!strcmp(arg, "--only") || !strcmp(arg, "--set") || !strcmp(arg, "--cycles") ||
            !strcmp(arg, "--json") || !strcmp(arg, "--junit") || !strcmp(arg, "--html") || !strcmp(arg, "--events") ||
            !strcmp(arg, "--artifacts") || !strcmp(arg, "--baseline") || !strcmp(arg, "--baseline-threshold") ||
            !strcmp(arg, "--baseline-min-ms")) {
      if(!(v = value_of(argc, argv, &i)))
        return EXIT_USAGE;
      if(!strcmp(arg, "--only") && a->nonly < MAX_ARGS - 1)
        a->only[a->nonly++] = (char *)v;
      else if(!strcmp(arg, "--set") && a->nsets < MAX_ARGS - 2)
        a->sets[a->nsets++] = (char *)v;
      else if(!strcmp(arg, "--cycles")) {
        snprintf(a->cycles_set, sizeof(a->cycles_set), "cycles=%.50s", v);
      }
      else if(!strcmp(arg, "--json"))
        a->json = v;
      else if(!strcmp(arg, "--junit"))
        a->junit = v;
      else if(!strcmp(arg, "--html"))
        a->html = v;
      else if(!strcmp(arg, "--events"))
        a->events = v;
      else if(!strcmp(arg, "--artifacts"))
        a->artifacts = v;
      else if(!strcmp(arg, "--baseline"))
        a->baseline = v;
      else if(!strcmp(arg, "--baseline-threshold")) {
        if(!rb_baseline_parse_pct(v, &a->baseline_opts.pct))
          return usage_error("--baseline-threshold %s: expected a percentage such as 25%%", v);
      }
      else if(!strcmp(arg, "--baseline-min-ms")) {
        char *end;

        a->baseline_opts.min_ms = strtod(v, &end);
        if(end == v || *end || a->baseline_opts.min_ms < 0)
          return usage_error("--baseline-min-ms %s: expected milliseconds", v);
      }
      else
        return usage_error("too many %s options", arg);
    }
    else if(arg[0] == '-' && arg[1])
      return usage_error("unknown option %s", arg);
    else if(a->file)
      return usage_error("more than one scenario file given (%s)", arg);
    else
      a->file = arg;
  }
  if(a->quiet && a->verbose)
    return usage_error("%s", "--quiet and --verbose exclude each other");
  if(a->cycles_set[0])
    a->sets[a->nsets++] = a->cycles_set; /* applied last: --cycles wins over --set cycles */
  return EXIT_PASS;
}

/* Put this binary's folder first on PATH, so scenarios can say `rebound-refserver`
   both in a build tree and when installed. */
static void add_self_to_path(void)
{
  char self[PATH_MAX], *slash, *path;
  const char *old = getenv("PATH");
  ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

  if(n <= 0)
    return;
  self[n] = '\0';
  if(!(slash = strrchr(self, '/')))
    return;
  *slash = '\0';
  if(asprintf(&path, "%s:%s", self, old ? old : "/usr/local/bin:/usr/bin:/bin") < 0)
    return;
  setenv("PATH", path, 1);
  free(path);
}

/* The embedded default: a short restart-stress run against rebound-refserver. */
static const char builtin_scenario[] =
  "; built-in: restart-stress against rebound-refserver\n"
  "[global]\n"
  "command = exec rebound-refserver --quiet --port ${port}\n"
  "port = auto\n"
  "cycles = 10\n"
  "publish_for = 200ms\n"
  "[refserver-sigkill]\n";

/* --baseline: print the comparison; a regression fails an otherwise passing run. */
static int compare_baseline(const struct rb_baseline *b, const struct rb_baseline_opts *o,
                            const struct rb_run_result *run, int code)
{
  struct rb_baseline_row rows[64];
  size_t n;
  bool regressed = rb_baseline_compare(b, run, o, rows, 64, &n);

  rb_baseline_print(stdout, b, o, rows, n);
  if(regressed) {
    printf("result: fail (p99 regressed against the baseline)\n");
    return code == EXIT_PASS ? EXIT_FAIL : code;
  }
  return code;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
  (void)st;
  (void)flag;
  (void)ftw;
  return remove(path);
}

/* Without --artifacts the run folder is temporary: kept only when something failed. */
static rb_err make_temp_artifacts(char *buf, size_t buflen, char *msg, size_t msglen)
{
  const char *tmp = getenv("TMPDIR");

  if(snprintf(buf, buflen, "%s/rebound-XXXXXX", tmp && *tmp ? tmp : "/tmp") >= (int)buflen || !mkdtemp(buf))
    return rb_fail(msg, msglen, RB_ERR_IO, "cannot create a folder for the artifacts: %s", strerror(errno));
  return RB_OK;
}

static enum rb_verdict worst(enum rb_verdict a, enum rb_verdict b)
{
  static const int rank[] = {
    [RB_VERDICT_PASS] = 0, [RB_VERDICT_XFAIL] = 0, [RB_VERDICT_XPASS] = 0,
    [RB_VERDICT_FAIL] = 1, [RB_VERDICT_ERROR] = 2, [RB_VERDICT_INTERRUPTED] = 3,
  };

  return rank[b] > rank[a] ? b : a;
}

static int exit_code_for(enum rb_verdict v)
{
  switch(v) {
  case RB_VERDICT_FAIL: return EXIT_FAIL;
  case RB_VERDICT_ERROR: return EXIT_ENV;
  case RB_VERDICT_INTERRUPTED: return 128 + (stop_signal ? stop_signal : SIGINT);
  default: return EXIT_PASS;
  }
}

static int load_scenarios(struct run_args *a, struct rb_scenario_set *set)
{
  char msg[1024];
  rb_err err;

  a->sets[a->nsets] = NULL;
  a->only[a->nonly] = NULL;
  if(a->file)
    err = rb_scenario_load(a->file, a->sets, a->only, set, msg, sizeof(msg));
  else
    err = rb_scenario_load_string(builtin_scenario, "(built-in)", ".", a->sets, a->only, set, msg, sizeof(msg));
  if(err) {
    fprintf(stderr, "rebound: %s\n", msg);
    return err == RB_ERR_NOMEM ? EXIT_ENV : EXIT_USAGE;
  }
  return EXIT_PASS;
}

static int cmd_run(int argc, char **argv)
{
  struct run_args a;
  struct rb_scenario_set set = { 0 };
  struct rb_run_result run = { 0 };
  struct rb_reporter rep = { .out = stdout };
  struct rb_engine_opts eo = { .stop = &stop_signal, .on_event = rb_report_event, .event_arg = &rep };
  char msg[1024], temp_artifacts[PATH_MAX] = "", results[PATH_MAX + 16];
  struct rb_baseline baseline = { 0 };
  int code;

  memset(&a, 0, sizeof(a));
  a.baseline_opts.pct = 25;
  a.baseline_opts.min_ms = 5;
  if((code = parse_run_args(argc, argv, &a)) || (code = load_scenarios(&a, &set)))
    return code;
  if(a.parse_only) {
    printf("%s: %zu scenario%s OK:", set.file, set.count, set.count == 1 ? "" : "s");
    for(size_t i = 0; i < set.count; i++)
      printf(" %s", set.items[i].name);
    printf("\n");
    rb_scenario_set_free(&set);
    return EXIT_PASS;
  }
  if(a.baseline && rb_baseline_load(&baseline, a.baseline, msg, sizeof(msg))) {
    fprintf(stderr, "rebound: %s\n", msg);
    rb_scenario_set_free(&set);
    return EXIT_USAGE;
  }
  rep.quiet = a.quiet;
  rep.verbose = a.verbose;
  /* colours on a TTY unless NO_COLOR (no-color.org); the live line on a TTY unless --no-progress */
  rep.color = isatty(STDOUT_FILENO) && !getenv("NO_COLOR");
  rep.progress = isatty(STDOUT_FILENO) && !a.no_progress;
  if(a.events && !(rep.events = fopen(a.events, "a"))) {
    fprintf(stderr, "rebound: --events %s: %s\n", a.events, strerror(errno));
    rb_scenario_set_free(&set);
    return EXIT_USAGE;
  }
  if(!a.artifacts && make_temp_artifacts(temp_artifacts, sizeof(temp_artifacts), msg, sizeof(msg))) {
    fprintf(stderr, "rebound: %s\n", msg);
    rb_scenario_set_free(&set);
    return EXIT_ENV;
  }
  eo.artifacts_dir = a.artifacts ? a.artifacts : temp_artifacts;
  snprintf(run.scenario_file, sizeof(run.scenario_file), "%s", set.file);
  run.seed = set.count ? set.items[0].seed : 1;
  run.scenarios = calloc(set.count, sizeof(*run.scenarios));
  if(!run.scenarios) {
    rb_scenario_set_free(&set);
    return EXIT_ENV;
  }
  install_signals();
  add_self_to_path();
  for(size_t i = 0; i < set.count && !stop_signal; i++) {
    rb_engine_run_scenario(&set.items[i], &eo, &run.scenarios[run.nscenarios]);
    run.verdict = worst(run.verdict, run.scenarios[run.nscenarios].verdict);
    run.nscenarios++;
  }
  if(stop_signal)
    run.verdict = RB_VERDICT_INTERRUPTED;
  rb_report_summary(&rep, &run);
  code = exit_code_for(run.verdict);
  if(a.baseline && run.verdict != RB_VERDICT_INTERRUPTED)
    code = compare_baseline(&baseline, &a.baseline_opts, &run, code);
  rb_baseline_free(&baseline);
  if(a.json && rb_report_write_json(a.json, &run, msg, sizeof(msg))) {
    fprintf(stderr, "rebound: %s\n", msg);
    code = code ? code : EXIT_ENV;
  }
  if(a.html && rb_report_write_html(a.html, &run, msg, sizeof(msg))) {
    fprintf(stderr, "rebound: %s\n", msg);
    code = code ? code : EXIT_ENV;
  }
  if(a.junit && rb_report_write_junit(a.junit, &run, msg, sizeof(msg))) {
    fprintf(stderr, "rebound: %s\n", msg);
    code = code ? code : EXIT_ENV;
  }
  /* The results always go into the artifacts too, next to the logs they refer to. */
  if(snprintf(results, sizeof(results), "%s/results.json", eo.artifacts_dir) < (int)sizeof(results))
    rb_report_write_json(results, &run, NULL, 0);
  if(temp_artifacts[0] && code == EXIT_PASS)
    nftw(temp_artifacts, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
  else if(temp_artifacts[0])
    printf("artifacts kept in %s\n", temp_artifacts);
  if(rep.events)
    fclose(rep.events);
  rb_run_result_free(&run);
  rb_scenario_set_free(&set);
  return code;
}

static void print_cleanup_line(const char *line, void *arg)
{
  (void)arg;
  printf("rebound cleanup: %s\n", line);
}

/* rebound cleanup: the leftovers of a rebound killed together with its keeper
   (rb_target_cleanup_leftovers); `rebound run` does the same at each start. */
static int cmd_cleanup(int argc, char **argv)
{
  char msg[512] = "";
  size_t count = 0;
  rb_err err;

  if(argc > 1)
    return usage_error("cleanup takes no arguments (%s)", argv[1]);
  err = rb_target_cleanup_leftovers(print_cleanup_line, NULL, &count, msg, sizeof(msg));
  if(!count)
    printf("rebound cleanup: no leftover cgroup of a dead rebound\n");
  if(err) {
    fprintf(stderr, "rebound cleanup: %s\n", msg);
    return EXIT_ENV;
  }
  return EXIT_PASS;
}

int main(int argc, char **argv)
{
  const char *cmd = argc > 1 ? argv[1] : NULL;

  if(!cmd || !strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
    usage(cmd ? stdout : stderr);
    return cmd ? EXIT_PASS : EXIT_USAGE;
  }
  if(!strcmp(cmd, "--version")) {
    printf("rebound %s\n", REBOUND_VERSION);
    return EXIT_PASS;
  }
  rb_engine_ignore_sigpipe();
  if(!strcmp(cmd, "run"))
    return cmd_run(argc - 1, argv + 1);
  if(!strcmp(cmd, "cleanup"))
    return cmd_cleanup(argc - 1, argv + 1);
  if(!strcmp(cmd, "keys")) {
    rb_scenario_print_keys(stdout);
    return EXIT_PASS;
  }
  if(!strcmp(cmd, "probe"))
    return rb_cmd_probe(argc - 1, argv + 1);
  if(!strcmp(cmd, "publish"))
    return rb_cmd_publish(argc - 1, argv + 1);
  if(!strcmp(cmd, "play"))
    return rb_cmd_play(argc - 1, argv + 1);
  fprintf(stderr, "rebound: unknown command '%s' (see rebound --help)\n", cmd);
  return EXIT_USAGE;
}
