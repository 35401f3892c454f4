/*
 * report (metrics): the Prometheus text exposition format (version 0.0.4), for node
 * exporter's textfile collector and dashboards. Names follow Prometheus' conventions:
 * rebound_ prefix, base units (seconds), no _total on gauges (each file is a snapshot
 * of one run, not a counter); every scenario is a `scenario` label. The tests check
 * the output with `promtool check metrics`.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "rebound/report.h"
#include "rebound/sockdiag.h"

/* A label value: backslash, double quote and newline escaped, as the format says. */
static void label(FILE *f, const char *v)
{
  for(; *v; v++) {
    if(*v == '\\' || *v == '"')
      fputc('\\', f), fputc(*v, f);
    else if(*v == '\n')
      fputs("\\n", f);
    else
      fputc(*v, f);
  }
}

static void family(FILE *f, const char *name, const char *type, const char *help)
{
  fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* name{scenario="s"[,extra]} value */
static void sample(FILE *f, const char *name, const char *scenario, const char *extra, double value)
{
  fputs(name, f);
  if(scenario || extra) {
    fputc('{', f);
    if(scenario) {
      fputs("scenario=\"", f);
      label(f, scenario);
      fputc('"', f);
    }
    if(extra)
      fprintf(f, "%s%s", scenario ? "," : "", extra);
    fputc('}', f);
  }
  fprintf(f, " %.9g\n", value);
}

/* One-hot over every verdict: the StateSet pattern, so an alert can test result="fail". */
static void verdict_samples(FILE *f, const char *name, const char *scenario, enum rb_verdict v)
{
  char extra[48];

  for(const struct rb_word *w = rb_verdict_words; w->word; w++) {
    snprintf(extra, sizeof(extra), "result=\"%s\"", w->word);
    sample(f, name, scenario, extra, w->value == (int)v);
  }
}

static void cycles(FILE *f, const struct rb_run_result *run)
{
  family(f, "rebound_scenario_cycles", "gauge", "Cycles of the scenario by result.");
  for(size_t i = 0; i < run->nscenarios; i++) {
    const struct rb_scenario_result *s = &run->scenarios[i];
    size_t passed = 0;

    for(size_t k = 0; k < s->ncycles; k++)
      passed += s->cycles[k].pass;
    sample(f, "rebound_scenario_cycles", s->name, "result=\"pass\"", (double)passed);
    sample(f, "rebound_scenario_cycles", s->name, "result=\"fail\"", (double)(s->ncycles - passed));
  }
}

/* A summary in seconds from the scenario's millisecond summary. */
static void timing(FILE *f, const struct rb_run_result *run, const char *name, const char *help, size_t offset)
{
  char sum[64], count[64];

  snprintf(sum, sizeof(sum), "%s_sum", name);
  snprintf(count, sizeof(count), "%s_count", name);
  family(f, name, "summary", help);
  for(size_t i = 0; i < run->nscenarios; i++) {
    const struct rb_scenario_result *s = &run->scenarios[i];
    const struct rb_summary *m = (const struct rb_summary *)(const void *)((const char *)s + offset);

    if(m->count) {
      sample(f, name, s->name, "quantile=\"0.5\"", m->p50 / 1e3);
      sample(f, name, s->name, "quantile=\"0.95\"", m->p95 / 1e3);
      sample(f, name, s->name, "quantile=\"0.99\"", m->p99 / 1e3);
    }
    sample(f, sum, s->name, NULL, m->mean * (double)m->count / 1e3);
    sample(f, count, s->name, NULL, (double)m->count);
  }
}

/* Whether some scenario has samples of the summary at offset. */
static bool any_samples(const struct rb_run_result *run, size_t offset)
{
  for(size_t i = 0; i < run->nscenarios; i++)
    if(((const struct rb_summary *)(const void *)((const char *)&run->scenarios[i] + offset))->count)
      return true;
  return false;
}

static void stale(FILE *f, const struct rb_run_result *run)
{
  family(f, "rebound_scenario_stale_windows", "gauge",
         "Cycles in which a republish was refused for a while after the restart (a stale stream).");
  for(size_t i = 0; i < run->nscenarios; i++) {
    size_t n = 0;

    for(size_t k = 0; k < run->scenarios[i].ncycles; k++)
      n += run->scenarios[i].cycles[k].stale_ms > 0;
    sample(f, "rebound_scenario_stale_windows", run->scenarios[i].name, NULL, (double)n);
  }
  family(f, "rebound_scenario_stale_window_max_seconds", "gauge", "Longest window a republish was refused.");
  for(size_t i = 0; i < run->nscenarios; i++) {
    double max = 0;

    for(size_t k = 0; k < run->scenarios[i].ncycles; k++)
      if(run->scenarios[i].cycles[k].stale_ms > max)
        max = run->scenarios[i].cycles[k].stale_ms;
    sample(f, "rebound_scenario_stale_window_max_seconds", run->scenarios[i].name, NULL, max / 1e3);
  }
}

static void sockets(FILE *f, const struct rb_run_result *run)
{
  family(f, "rebound_restart_sockets", "gauge",
         "Sockets on the port at the restarts of the scenario, summed over its cycles, by TCP state.");
  for(size_t i = 0; i < run->nscenarios; i++) {
    const struct rb_scenario_result *s = &run->scenarios[i];

    for(int st = 1; st < RB_TCP_STATE_MAX; st++) {
      char extra[48];
      double n = 0;

      for(size_t k = 0; k < s->ncycles; k++)
        n += s->cycles[k].states_at_restart[st];
      if(!n && st != RB_TCP_LISTEN && st != RB_TCP_FIN_WAIT2 && st != RB_TCP_TIME_WAIT)
        continue;
      snprintf(extra, sizeof(extra), "state=\"%s\"", rb_tcp_state_name(st));
      sample(f, "rebound_restart_sockets", s->name, extra, n);
    }
  }
}

static const struct { const char *name, *help; size_t offset; bool only_with_samples; } timings[] = {
  { "rebound_ready_seconds", "Restart to ready, per cycle.", offsetof(struct rb_scenario_result, ready), false },
  { "rebound_rebind_seconds", "Restart to the port LISTENed by the new process, per cycle.",
    offsetof(struct rb_scenario_result, rebind), false },
  { "rebound_reconnect_seconds", "Restart to every publisher and player up again, per cycle.",
    offsetof(struct rb_scenario_result, reconnect), false },
  { "rebound_reconnect_publishers_seconds", "Restart to every publisher publishing again, per cycle.",
    offsetof(struct rb_scenario_result, reconnect_publishers), false },
  { "rebound_reconnect_players_seconds", "Restart to every player playing again, per cycle.",
    offsetof(struct rb_scenario_result, reconnect_players), false },
  { "rebound_first_frame_seconds", "Restart to every player's first frame again, per cycle.",
    offsetof(struct rb_scenario_result, first_frame), false },
  /* HTTP players: only when a scenario has them */
  { "rebound_flv_recovery_seconds", "Restart to every HTTP-FLV player receiving media again, per cycle.",
    offsetof(struct rb_scenario_result, flv_recovery), true },
  { "rebound_hls_recovery_seconds", "Restart to every HLS player's first new segment, per cycle.",
    offsetof(struct rb_scenario_result, hls_recovery), true },
};

rb_err rb_report_metrics_to(FILE *f, const void *arg, char *msg, size_t msglen)
{
  const struct rb_run_result *run = arg;

  (void)msg;
  (void)msglen;
  family(f, "rebound_run_result", "gauge", "1 for the verdict of the whole run, 0 for the others.");
  verdict_samples(f, "rebound_run_result", NULL, run->verdict);
  family(f, "rebound_scenario_result", "gauge", "1 for the verdict of the scenario, 0 for the others.");
  for(size_t i = 0; i < run->nscenarios; i++)
    verdict_samples(f, "rebound_scenario_result", run->scenarios[i].name, run->scenarios[i].verdict);
  cycles(f, run);
  for(size_t i = 0; i < sizeof(timings) / sizeof(timings[0]); i++)
    if(!timings[i].only_with_samples || any_samples(run, timings[i].offset))
      timing(f, run, timings[i].name, timings[i].help, timings[i].offset);
  family(f, "rebound_scenario_first_ready_seconds", "gauge", "Start to ready of the first start.");
  for(size_t i = 0; i < run->nscenarios; i++)
    sample(f, "rebound_scenario_first_ready_seconds", run->scenarios[i].name, NULL,
           run->scenarios[i].first_ready_ms / 1e3);
  stale(f, run);
  sockets(f, run);
  family(f, "rebound_scenario_exercised_classic_bug", "gauge",
         "1 when some restart saw FIN_WAIT2/TIME_WAIT sockets (the SO_REUSEADDR condition).");
  for(size_t i = 0; i < run->nscenarios; i++)
    sample(f, "rebound_scenario_exercised_classic_bug", run->scenarios[i].name, NULL,
           run->scenarios[i].exercised_classic);
  return RB_OK;
}
