/*
 * cli: argument parsing (getopt_long) and the subcommands (interface.md). No logic
 * that tests need lives here: it parses `rebound run` into rb_run_opts and hands it
 * to the run module, which decides verdicts, exit codes, reports and artifacts.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rebound/baseline.h"
#include "rebound/commands.h"
#include "rebound/engine.h"
#include "rebound/output.h"
#include "rebound/report.h"
#include "rebound/results.h"
#include "rebound/run.h"
#include "rebound/scenario.h"
#include "rebound/shard.h"
#include "rebound/target.h"

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
          "                   [--json FILE] [--junit FILE] [--html FILE] [--metrics FILE] [--events FILE]\n"
          "                   [--artifacts DIR] [--shard I/N | --shard auto [--shards N]]\n"
          "                   [--baseline OLD.json [--baseline-threshold 25%%] [--baseline-min-ms 5]]\n"
          "                   [--parse-only]\n"
          "                   [--quiet | --verbose] [--no-progress]\n"
          "       rebound merge  RESULTS.json... [--json FILE] [--junit FILE] [--html FILE] [--metrics FILE]\n"
          "       rebound report RESULTS.json [--json FILE] [--junit FILE] [--html FILE] [--metrics FILE]\n"
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
  const char *reports[RB_REPORT__COUNT], *events, *artifacts, *baseline, *shard;
  unsigned shards;
  struct rb_baseline_opts baseline_opts;
  bool parse_only, quiet, verbose, no_progress;
};

static int usage_error(const char *fmt, const char *arg) __attribute__((format(printf, 1, 0)));

static int usage_error(const char *fmt, const char *arg)
{
  fprintf(stderr, "rebound: ");
  fprintf(stderr, fmt, arg);
  fprintf(stderr, " (see rebound --help)\n");
  return RB_EXIT_USAGE;
}

enum {
  OPT_PARSE_ONLY = 256, OPT_QUIET, OPT_VERBOSE, OPT_NO_PROGRESS, OPT_ONLY, OPT_SET, OPT_CYCLES,
  OPT_EVENTS, OPT_ARTIFACTS, OPT_BASELINE, OPT_BASELINE_THRESHOLD, OPT_BASELINE_MIN_MS, OPT_SHARD, OPT_SHARDS,
  OPT_REPORT /* + enum rb_report_kind */
};

static const struct option run_options[] = {
  { "parse-only", no_argument, NULL, OPT_PARSE_ONLY },
  { "quiet", no_argument, NULL, OPT_QUIET },
  { "verbose", no_argument, NULL, OPT_VERBOSE },
  { "no-progress", no_argument, NULL, OPT_NO_PROGRESS },
  { "only", required_argument, NULL, OPT_ONLY },
  { "set", required_argument, NULL, OPT_SET },
  { "cycles", required_argument, NULL, OPT_CYCLES },
  { "json", required_argument, NULL, OPT_REPORT + RB_REPORT_JSON },
  { "junit", required_argument, NULL, OPT_REPORT + RB_REPORT_JUNIT },
  { "html", required_argument, NULL, OPT_REPORT + RB_REPORT_HTML },
  { "metrics", required_argument, NULL, OPT_REPORT + RB_REPORT_METRICS },
  { "shard", required_argument, NULL, OPT_SHARD },
  { "shards", required_argument, NULL, OPT_SHARDS },
  { "events", required_argument, NULL, OPT_EVENTS },
  { "artifacts", required_argument, NULL, OPT_ARTIFACTS },
  { "baseline", required_argument, NULL, OPT_BASELINE },
  { "baseline-threshold", required_argument, NULL, OPT_BASELINE_THRESHOLD },
  { "baseline-min-ms", required_argument, NULL, OPT_BASELINE_MIN_MS },
  { NULL, 0, NULL, 0 },
};

/* getopt_long's own messages are off (opterr = 0): one line in rebound's format. */
static int getopt_error(char **argv, int c)
{
  const char *arg = argv[optind - 1];
  char shortopt[3] = { '-', (char)optopt, '\0' };

  if(c == '?' && optopt > 0 && optopt < 256)
    arg = shortopt; /* "-x", perhaps inside a cluster such as -qx */
  if(c == ':')
    return usage_error("%s needs a value", arg);
  return usage_error("unknown option %s", arg);
}

static int take_value(int c, const char *v, struct run_args *a)
{
  char *end;

  switch(c) {
  case OPT_ONLY:
    if(a->nonly >= MAX_ARGS - 1)
      return usage_error("too many %s options", "--only");
    a->only[a->nonly++] = (char *)v;
    break;
  case OPT_SET:
    if(a->nsets >= MAX_ARGS - 2)
      return usage_error("too many %s options", "--set");
    a->sets[a->nsets++] = (char *)v;
    break;
  case OPT_CYCLES: snprintf(a->cycles_set, sizeof(a->cycles_set), "cycles=%.50s", v); break;
  case OPT_EVENTS: a->events = v; break;
  case OPT_ARTIFACTS: a->artifacts = v; break;
  case OPT_BASELINE: a->baseline = v; break;
  case OPT_BASELINE_THRESHOLD:
    if(!rb_baseline_parse_pct(v, &a->baseline_opts.pct))
      return usage_error("--baseline-threshold %s: expected a percentage such as 25%%", v);
    break;
  case OPT_SHARD: a->shard = v; break;
  case OPT_SHARDS: {
    struct rb_shard s;
    char text[64];

    snprintf(text, sizeof(text), "1/%.40s", v);
    if(rb_shard_parse(text, &s, NULL, 0))
      return usage_error("--shards %s: expected a number of shards (1..10000)", v);
    a->shards = s.total;
    break;
  }
  case OPT_BASELINE_MIN_MS:
    a->baseline_opts.min_ms = strtod(v, &end);
    if(end == v || *end || a->baseline_opts.min_ms < 0)
      return usage_error("--baseline-min-ms %s: expected milliseconds", v);
    break;
  default: a->reports[c - OPT_REPORT] = v; break;
  }
  return RB_EXIT_PASS;
}

static int parse_run_args(int argc, char **argv, struct run_args *a)
{
  int c, code;

  optind = 1;
  opterr = 0;
  while((c = getopt_long(argc, argv, ":", run_options, NULL)) != -1) {
    if(c == '?' || c == ':')
      return getopt_error(argv, c);
    if(c == OPT_PARSE_ONLY)
      a->parse_only = true;
    else if(c == OPT_QUIET)
      a->quiet = true;
    else if(c == OPT_VERBOSE)
      a->verbose = true;
    else if(c == OPT_NO_PROGRESS)
      a->no_progress = true;
    else if((code = take_value(c, optarg, a)))
      return code;
  }
  for(int i = optind; i < argc; i++) {
    if(a->file)
      return usage_error("more than one scenario file given (%s)", argv[i]);
    a->file = argv[i];
  }
  if(a->quiet && a->verbose)
    return usage_error("%s", "--quiet and --verbose exclude each other");
  if(a->cycles_set[0])
    a->sets[a->nsets++] = a->cycles_set; /* applied last: --cycles wins over --set cycles */
  return RB_EXIT_PASS;
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
    return err == RB_ERR_NOMEM ? RB_EXIT_ENV : RB_EXIT_USAGE;
  }
  return RB_EXIT_PASS;
}

static void parse_only(const struct rb_scenario_set *set)
{
  printf("%s: %zu scenario%s OK:", set->file, set->count, set->count == 1 ? "" : "s");
  for(size_t i = 0; i < set->count; i++)
    printf(" %s", set->items[i].name);
  printf("\n");
}

static bool in_shard(size_t k, const void *shard)
{
  return rb_shard_has(shard, k);
}

/* --shard: keep this shard's slice of the scenarios and say what it is. */
static int apply_shard(const struct run_args *a, struct rb_scenario_set *set, struct rb_run_result *run)
{
  struct rb_shard shard;
  size_t all = set->count;
  char msg[256];
  rb_err err;

  if(!strcmp(a->shard, "auto"))
    err = rb_shard_from_env(getenv, a->shards, &shard, msg, sizeof(msg));
  else
    err = rb_shard_parse(a->shard, &shard, msg, sizeof(msg));
  if(err) {
    fprintf(stderr, "rebound: %s%s (see rebound --help)\n", strcmp(a->shard, "auto") ? "--" : "", msg);
    return RB_EXIT_USAGE;
  }
  rb_scenario_set_keep(set, in_shard, &shard);
  run->shard_index = shard.index;
  run->shard_total = shard.total;
  if(set->count)
    printf("shard %u/%u: %zu of the %zu scenarios\n", shard.index, shard.total, set->count, all);
  else
    printf("shard %u/%u: nothing to do (the %zu scenarios went to the other shards): pass\n", shard.index,
           shard.total, all);
  return RB_EXIT_PASS;
}

static int cmd_run(int argc, char **argv)
{
  struct run_args a;
  struct rb_scenario_set set = { 0 };
  struct rb_run_result run = { 0 };
  struct rb_reporter rep = { .out = stdout };
  struct rb_run_opts ro = { .stop = &stop_signal, .rep = &rep };
  struct rb_baseline baseline = { 0 };
  char msg[1024];
  int code;

  memset(&a, 0, sizeof(a));
  a.baseline_opts.pct = 25;
  a.baseline_opts.min_ms = 5;
  if((code = parse_run_args(argc, argv, &a)) || (code = load_scenarios(&a, &set)))
    return code;
  if(a.shard && (code = apply_shard(&a, &set, &run)))
    goto out;
  if(a.parse_only) {
    parse_only(&set);
    goto out;
  }
  if(a.baseline && rb_baseline_load(&baseline, a.baseline, msg, sizeof(msg))) {
    fprintf(stderr, "rebound: %s\n", msg);
    code = RB_EXIT_USAGE;
    goto out;
  }
  rep.quiet = a.quiet;
  rep.verbose = a.verbose;
  /* colours on a TTY unless NO_COLOR (no-color.org); the live line on a TTY unless --no-progress */
  rep.color = isatty(STDOUT_FILENO) && !getenv("NO_COLOR");
  rep.progress = isatty(STDOUT_FILENO) && !a.no_progress;
  if(a.events && !(ro.events = rb_output_open_append(a.events, msg, sizeof(msg)))) {
    fprintf(stderr, "rebound: --events %s\n", msg);
    code = RB_EXIT_USAGE;
    goto out;
  }
  rep.events = rb_output_file(ro.events);
  ro.artifacts = a.artifacts;
  ro.baseline = a.baseline ? &baseline : NULL;
  ro.baseline_opts = a.baseline_opts;
  memcpy(ro.reports, a.reports, sizeof(ro.reports));
  install_signals();
  add_self_to_path();
  code = rb_run(&set, &ro, &run);
  ro.events = NULL; /* rb_run closed them */
out:
  rb_output_close(ro.events, NULL, 0);
  rb_baseline_free(&baseline);
  rb_run_result_free(&run);
  rb_scenario_set_free(&set);
  return code;
}

static const struct option report_options[] = {
  { "json", required_argument, NULL, OPT_REPORT + RB_REPORT_JSON },
  { "junit", required_argument, NULL, OPT_REPORT + RB_REPORT_JUNIT },
  { "html", required_argument, NULL, OPT_REPORT + RB_REPORT_HTML },
  { "metrics", required_argument, NULL, OPT_REPORT + RB_REPORT_METRICS },
  { "quiet", no_argument, NULL, OPT_QUIET },
  { NULL, 0, NULL, 0 },
};

/* `rebound merge A.json B.json ...` (the verdict's exit code) and `rebound report
   RESULTS.json` (0 once rendered): saved results through the same summary, verdict
   rule and report writers as a run. */
static int cmd_merge(int argc, char **argv, bool merge)
{
  const char *reports[RB_REPORT__COUNT] = { NULL };
  struct rb_reporter rep = { .out = stdout, .quiet = true };
  struct rb_run_result run;
  char msg[1024];
  int c, code;
  bool quiet = false;

  optind = 1;
  opterr = 0;
  while((c = getopt_long(argc, argv, ":", report_options, NULL)) != -1) {
    if(c == '?' || c == ':')
      return getopt_error(argv, c);
    if(c == OPT_QUIET)
      quiet = true;
    else
      reports[c - OPT_REPORT] = optarg;
  }
  if(optind >= argc)
    return usage_error("%s: no results file given", argv[0]);
  if(!merge && argc - optind > 1)
    return usage_error("report: one results file, not %s more (rebound merge combines them)", argv[optind + 1]);
  if(rb_run_merge((const char *const *)argv + optind, (size_t)(argc - optind), &run, msg, sizeof(msg))) {
    fprintf(stderr, "rebound %s: %s\n", argv[0], msg);
    return RB_EXIT_USAGE;
  }
  if(!quiet)
    rb_report_summary(&rep, &run);
  code = merge ? rb_run_exit_code(run.verdict, 0) : RB_EXIT_PASS;
  if(rb_report_write_all(reports, &run, stderr))
    code = rb_run_exit_after_output_error(code);
  rb_run_result_free(&run);
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
    return RB_EXIT_ENV;
  }
  return RB_EXIT_PASS;
}

int main(int argc, char **argv)
{
  const char *cmd = argc > 1 ? argv[1] : NULL;

  if(!cmd || !strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
    usage(cmd ? stdout : stderr);
    return cmd ? RB_EXIT_PASS : RB_EXIT_USAGE;
  }
  if(!strcmp(cmd, "--version")) {
    printf("rebound %s\n", REBOUND_VERSION);
    return RB_EXIT_PASS;
  }
  rb_engine_ignore_sigpipe();
  if(!strcmp(cmd, "run"))
    return cmd_run(argc - 1, argv + 1);
  if(!strcmp(cmd, "cleanup"))
    return cmd_cleanup(argc - 1, argv + 1);
  if(!strcmp(cmd, "keys")) {
    rb_scenario_print_keys(stdout);
    return RB_EXIT_PASS;
  }
  if(!strcmp(cmd, "merge") || !strcmp(cmd, "report"))
    return cmd_merge(argc - 1, argv + 1, !strcmp(cmd, "merge"));
  if(!strcmp(cmd, "probe"))
    return rb_cmd_probe(argc - 1, argv + 1);
  if(!strcmp(cmd, "publish"))
    return rb_cmd_publish(argc - 1, argv + 1);
  if(!strcmp(cmd, "play"))
    return rb_cmd_play(argc - 1, argv + 1);
  fprintf(stderr, "rebound: unknown command '%s' (see rebound --help)\n", cmd);
  return RB_EXIT_USAGE;
}
