/* results: small helpers over the plain result structures. */
#include "rebound/results.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

bool rb_scenario_add_warning(struct rb_scenario_result *r, const char *fmt, ...)
{
  va_list ap;

  if(r->nwarnings >= RB_MAX_WARNINGS)
    return false;
  va_start(ap, fmt);
  vsnprintf(r->warnings[r->nwarnings++], RB_FAILURE_LEN, fmt, ap);
  va_end(ap);
  return true;
}

void rb_cycle_result_begin(struct rb_cycle_result *c, unsigned index)
{
  c->index = index;
  c->pass = true;
  c->ready_ms = c->rebind_ms = c->reconnect_ms = -1;
  c->reconnect_publishers_ms = c->reconnect_players_ms = c->first_frame_ms = -1;
  c->recovery_ms = -1;
  c->last_back_ms = c->drain_ms = -1;
  c->flv.recovery_ms = c->hls.recovery_ms = -1;
}

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

void rb_cycle_set_arrivals(struct rb_cycle_result *c, const double *ms, size_t n)
{
  size_t points = n < RB_ARRIVAL_POINTS ? n : RB_ARRIVAL_POINTS;

  c->narrivals = points;
  c->last_back_ms = n ? ms[n - 1] : -1;
  rb_stats_summarize(ms, n, &c->arrival);
  for(size_t k = 1; k <= points; k++) {
    size_t idx = (k * n + points - 1) / points - 1; /* ceil(k n / points) - 1 */

    c->arrivals[k - 1].ms = ms[idx];
    c->arrivals[k - 1].back = (unsigned)(idx + 1);
  }
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
  summarize_field(r, offsetof(struct rb_cycle_result, reconnect_publishers_ms), &r->reconnect_publishers);
  summarize_field(r, offsetof(struct rb_cycle_result, reconnect_players_ms), &r->reconnect_players);
  summarize_field(r, offsetof(struct rb_cycle_result, first_frame_ms), &r->first_frame);
  summarize_field(r, offsetof(struct rb_cycle_result, recovery_ms), &r->recovery);
  summarize_field(r, offsetof(struct rb_cycle_result, last_back_ms), &r->last_back);
  summarize_field(r, offsetof(struct rb_cycle_result, flv.recovery_ms), &r->flv_recovery);
  summarize_field(r, offsetof(struct rb_cycle_result, hls.recovery_ms), &r->hls_recovery);
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
