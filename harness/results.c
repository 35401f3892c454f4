/* results: small helpers over the plain result structures. */
#include "rebound/results.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

void rb_cycle_add_failure(struct rb_cycle_result *c, const char *fmt, ...)
{
  va_list ap;

  c->pass = false;
  if(c->nfailures >= RB_MAX_FAILURES)
    return;
  va_start(ap, fmt);
  vsnprintf(c->failures[c->nfailures++], RB_FAILURE_LEN, fmt, ap);
  va_end(ap);
}

/* Collect one timing of every cycle that reached it. */
static void summarize_field(const struct rb_scenario_result *r, size_t offset, struct rb_summary *out)
{
  double *samples = malloc((r->ncycles ? r->ncycles : 1) * sizeof(*samples));
  size_t n = 0;

  if(!samples)
    return;
  for(size_t i = 0; i < r->ncycles; i++) {
    double v = *(const double *)(const void *)((const char *)&r->cycles[i] + offset);

    if(v >= 0)
      samples[n++] = v;
  }
  rb_stats_summarize(samples, n, out);
  free(samples);
}

void rb_scenario_result_summarize(struct rb_scenario_result *r)
{
  summarize_field(r, offsetof(struct rb_cycle_result, ready_ms), &r->ready);
  summarize_field(r, offsetof(struct rb_cycle_result, rebind_ms), &r->rebind);
  summarize_field(r, offsetof(struct rb_cycle_result, reconnect_ms), &r->reconnect);
}

void rb_run_result_free(struct rb_run_result *r)
{
  if(!r)
    return;
  for(size_t i = 0; i < r->nscenarios; i++)
    free(r->scenarios[i].cycles);
  free(r->scenarios);
  r->scenarios = NULL;
  r->nscenarios = 0;
}
