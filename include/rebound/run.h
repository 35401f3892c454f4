/*
 * run: a whole `rebound run` -- every scenario of a set in turn, the run's verdict,
 * the exit code, the baseline comparison, the report files and the artifacts folder.
 *
 * The decisions a CI gates on live here, in the core library, so they are unit
 * tested; cli.c only parses arguments into rb_run_opts.
 *
 * Verdict rule: the run's verdict is the worst of its scenarios' by the rank
 *   pass = xfail = xpass < fail < error < interrupted
 * (an expected failure that failed, or passed, does not fail the run; a stop signal
 * makes the run interrupted whatever ran before).
 *
 * Exit code: 0 pass, 1 fail, 3 error, 128 + signal interrupted. A --baseline
 * regression turns 0 into 1. A report file that cannot be written (or events that
 * were lost) turns 0 and 1 into 3: the gate must not pass, nor blame the server,
 * when its own results are missing; 3 and 128 + signal stay as they are.
 */
#ifndef REBOUND_RUN_H
#define REBOUND_RUN_H

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>

#include "rebound/baseline.h"
#include "rebound/output.h"
#include "rebound/report.h"
#include "rebound/results.h"
#include "rebound/scenario.h"

enum {
  RB_EXIT_PASS = 0,
  RB_EXIT_FAIL = 1,
  RB_EXIT_USAGE = 2,
  RB_EXIT_ENV = 3
};

struct rb_run_opts {
  const char *artifacts;             /* --artifacts; NULL: a temporary folder, removed if the run passes */
  volatile sig_atomic_t *stop;       /* set by the caller's signal handler (holds the signal number) */
  struct rb_reporter *rep;           /* console and --events; may be NULL (quiet) */
  const struct rb_baseline *baseline;/* --baseline; NULL: none */
  struct rb_baseline_opts baseline_opts;
  const char *reports[RB_REPORT__COUNT]; /* --json/--junit/--html paths; NULL: not asked */
  struct rb_output *events;          /* --events, open (rep->events is its stream); closed by rb_run */
};

/* The worse of two verdicts by the rank above. */
enum rb_verdict rb_verdict_worst(enum rb_verdict a, enum rb_verdict b);

/* The run's verdict from its scenarios (interrupted when a stop was requested). */
enum rb_verdict rb_run_verdict(const struct rb_run_result *run, bool stopped);

/* Exit code for a verdict; sig is the stop signal for an interrupted run (0: SIGINT). */
int rb_run_exit_code(enum rb_verdict v, int sig);

/* A baseline regression fails a passing run; anything else stays. */
int rb_run_exit_after_baseline(int code, bool regressed);

/* Lost output (a report or events that could not be written) is an environment
   error unless the run already ended in one or was interrupted. */
int rb_run_exit_after_output_error(int code);

/* Run every scenario of set (sc's auto ports are filled in) into run and conclude:
   summary, baseline, reports, results.json in the artifacts, cleanup. Returns the
   process exit code. run is the caller's to free (rb_run_result_free). */
int rb_run(struct rb_scenario_set *set, const struct rb_run_opts *o, struct rb_run_result *run);

/* `rebound merge`: the results files of shards (or any runs) as one run. Scenarios in
   file order; the verdict by the rule above over every scenario, and no better than
   any file's own verdict (an interrupted shard interrupts the merge). RB_ERR_USAGE
   naming the file for one that cannot be loaded (rb_report_load_json) or that repeats
   a scenario of an earlier one. */
rb_err rb_run_merge(const char *const *paths, size_t n, struct rb_run_result *out, char *msg, size_t msglen);

#endif
