/*
 * run: the scenarios of one `rebound run`, its verdict, exit code, reports and
 * artifacts folder (see run.h for the rules).
 */
#include "rebound/run.h"

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "rebound/engine.h"
#include "rebound/output.h"

#define MAX_BASELINE_ROWS 64

static int rank(enum rb_verdict v)
{
  switch(v) {
  case RB_VERDICT_PASS: case RB_VERDICT_XFAIL: case RB_VERDICT_XPASS: return 0;
  case RB_VERDICT_FAIL: return 1;
  case RB_VERDICT_ERROR: return 2;
  case RB_VERDICT_INTERRUPTED: return 3;
  }
  return 2; /* an unknown value is never better than an error */
}

enum rb_verdict rb_verdict_worst(enum rb_verdict a, enum rb_verdict b)
{
  return rank(b) > rank(a) ? b : a;
}

enum rb_verdict rb_run_verdict(const struct rb_run_result *run, bool stopped)
{
  enum rb_verdict v = RB_VERDICT_PASS;

  for(size_t i = 0; i < run->nscenarios; i++)
    v = rb_verdict_worst(v, run->scenarios[i].verdict);
  return stopped ? RB_VERDICT_INTERRUPTED : v;
}

int rb_run_exit_code(enum rb_verdict v, int sig)
{
  switch(v) {
  case RB_VERDICT_FAIL: return RB_EXIT_FAIL;
  case RB_VERDICT_ERROR: return RB_EXIT_ENV;
  case RB_VERDICT_INTERRUPTED: return 128 + (sig ? sig : SIGINT);
  default: return RB_EXIT_PASS;
  }
}

int rb_run_exit_after_baseline(int code, bool regressed)
{
  return regressed && code == RB_EXIT_PASS ? RB_EXIT_FAIL : code;
}

int rb_run_exit_after_output_error(int code)
{
  return code == RB_EXIT_PASS || code == RB_EXIT_FAIL ? RB_EXIT_ENV : code;
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

static void run_scenarios(struct rb_scenario_set *set, const struct rb_run_opts *o, const char *artifacts,
                          struct rb_run_result *run)
{
  struct rb_engine_opts eo = { .artifacts_dir = artifacts, .stop = o->stop };

  if(o->rep) {
    eo.on_event = rb_report_event;
    eo.event_arg = o->rep;
  }
  for(size_t i = 0; i < set->count && !(o->stop && *o->stop); i++)
    rb_engine_run_scenario(&set->items[i], &eo, &run->scenarios[run->nscenarios++]);
  run->verdict = rb_run_verdict(run, o->stop && *o->stop);
}

/* --baseline: print the comparison; a regression fails an otherwise passing run. */
static int compare_baseline(const struct rb_run_opts *o, const struct rb_run_result *run, FILE *out, int code)
{
  struct rb_baseline_row rows[MAX_BASELINE_ROWS];
  size_t n;
  bool regressed = rb_baseline_compare(o->baseline, run, &o->baseline_opts, rows, MAX_BASELINE_ROWS, &n);

  rb_baseline_print(out, o->baseline, &o->baseline_opts, rows, n);
  if(regressed)
    fprintf(out, "result: fail (p99 regressed against the baseline)\n");
  return rb_run_exit_after_baseline(code, regressed);
}

/* Every file asked for; false when any of them (or the events) was lost. */
static bool write_outputs(const struct rb_run_opts *o, const struct rb_run_result *run)
{
  bool ok = rb_report_write_all(o->reports, run, stderr) == 0;
  char msg[1024];

  if(o->events) {
    if(o->rep)
      o->rep->events = NULL;
    if(rb_output_close(o->events, msg, sizeof(msg))) {
      fprintf(stderr, "rebound: --events %s\n", msg);
      ok = false;
    }
  }
  return ok;
}

/* The results always go into the artifacts too, next to the logs they refer to. */
static void save_results(const char *artifacts, const struct rb_run_result *run, FILE *out, bool tell)
{
  char path[PATH_MAX + 16], msg[1024];

  if(snprintf(path, sizeof(path), "%s/results.json", artifacts) >= (int)sizeof(path))
    return;
  if(rb_report_write_json(path, run, msg, sizeof(msg)))
    fprintf(stderr, "rebound: %s\n", msg);
  else if(tell)
    fprintf(out, "results saved in %s\n", path);
}

/* Without the folder or the memory for the results nothing can run. */
static bool prepare(struct rb_scenario_set *set, const struct rb_run_opts *o, struct rb_run_result *run,
                    char *temp, size_t templen)
{
  char msg[1024];

  if(!o->artifacts && make_temp_artifacts(temp, templen, msg, sizeof(msg))) {
    fprintf(stderr, "rebound: %s\n", msg);
    return false;
  }
  snprintf(run->scenario_file, sizeof(run->scenario_file), "%s", set->file);
  run->seed = set->count ? set->items[0].seed : 1;
  if(set->count && !(run->scenarios = calloc(set->count, sizeof(*run->scenarios)))) {
    fprintf(stderr, "rebound: out of memory\n");
    return false;
  }
  return true;
}

int rb_run(struct rb_scenario_set *set, const struct rb_run_opts *o, struct rb_run_result *run)
{
  char temp[PATH_MAX] = "";
  const char *artifacts;
  FILE *out = o->rep ? o->rep->out : stdout;
  bool outputs_ok;
  int code;

  if(!prepare(set, o, run, temp, sizeof(temp))) {
    write_outputs(&(struct rb_run_opts){ .rep = o->rep, .events = o->events }, run); /* closes the events */
    return RB_EXIT_ENV;
  }
  artifacts = o->artifacts ? o->artifacts : temp;
  run_scenarios(set, o, artifacts, run);
  if(o->rep)
    rb_report_summary(o->rep, run);
  code = rb_run_exit_code(run->verdict, o->stop ? *o->stop : 0);
  if(o->baseline && run->verdict != RB_VERDICT_INTERRUPTED)
    code = compare_baseline(o, run, out, code);
  outputs_ok = write_outputs(o, run);
  if(!outputs_ok)
    code = rb_run_exit_after_output_error(code);
  save_results(artifacts, run, out, !outputs_ok && !temp[0]);
  if(temp[0] && code == RB_EXIT_PASS)
    nftw(temp, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
  else if(temp[0])
    fprintf(out, "artifacts kept in %s\n", temp);
  fflush(out);
  return code;
}

/* Move part's scenarios into out (part keeps none). */
static rb_err take_scenarios(struct rb_run_result *out, struct rb_run_result *part, const char *path,
                             const char *const *paths, const size_t *owner, char *msg, size_t msglen)
{
  struct rb_scenario_result *grown;

  for(size_t i = 0; i < part->nscenarios; i++)
    for(size_t k = 0; k < out->nscenarios; k++)
      if(!strcmp(out->scenarios[k].name, part->scenarios[i].name))
        return rb_fail(msg, msglen, RB_ERR_USAGE, "%s: scenario '%s' is also in %s (the same shard twice, or "
                       "shards of different splits?)", path, part->scenarios[i].name, paths[owner[k]]);
  if(!part->nscenarios)
    return RB_OK;
  if(!(grown = realloc(out->scenarios, (out->nscenarios + part->nscenarios) * sizeof(*grown))))
    return rb_fail(msg, msglen, RB_ERR_NOMEM, "out of memory");
  out->scenarios = grown;
  memcpy(out->scenarios + out->nscenarios, part->scenarios, part->nscenarios * sizeof(*grown));
  out->nscenarios += part->nscenarios;
  part->nscenarios = 0;
  return RB_OK;
}

rb_err rb_run_merge(const char *const *paths, size_t n, struct rb_run_result *out, char *msg, size_t msglen)
{
  size_t *owner = NULL, total = 0;
  enum rb_verdict files = RB_VERDICT_PASS;
  rb_err err = RB_OK;

  memset(out, 0, sizeof(*out));
  for(size_t i = 0; i < n && !err; i++) {
    struct rb_run_result part;
    size_t *grown;

    if((err = rb_report_load_json(paths[i], &part, msg, msglen)))
      break;
    if(!i) {
      snprintf(out->scenario_file, sizeof(out->scenario_file), "%s", part.scenario_file);
      out->seed = part.seed;
    }
    files = rb_verdict_worst(files, part.verdict); /* an interrupted shard interrupts the whole */
    if(!(grown = realloc(owner, (total + part.nscenarios + 1) * sizeof(*owner))))
      err = rb_fail(msg, msglen, RB_ERR_NOMEM, "out of memory");
    else {
      owner = grown;
      for(size_t k = 0; k < part.nscenarios; k++)
        owner[total + k] = i;
      total += part.nscenarios;
      err = take_scenarios(out, &part, paths[i], paths, owner, msg, msglen);
    }
    rb_run_result_free(&part);
  }
  free(owner);
  if(err)
    rb_run_result_free(out);
  else
    out->verdict = rb_verdict_worst(rb_run_verdict(out, false), files);
  return err;
}
