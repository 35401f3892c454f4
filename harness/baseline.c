/* baseline: p99 regressions against an earlier run's JSON (see baseline.h). */
#include "rebound/baseline.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

rb_err rb_baseline_load(struct rb_baseline *b, const char *path, char *msg, size_t msglen)
{
  json_error_t jerr;
  json_t *doc;

  memset(b, 0, sizeof(*b));
  snprintf(b->path, sizeof(b->path), "%s", path);
  if(!(doc = json_load_file(path, 0, &jerr)))
    return rb_fail(msg, msglen, RB_ERR_IO, "--baseline %s:%d: %s", path, jerr.line, jerr.text);
  if(json_integer_value(json_object_get(doc, "schema")) != 1 || !json_is_array(json_object_get(doc, "scenarios"))) {
    json_decref(doc);
    return rb_fail(msg, msglen, RB_ERR_USAGE, "--baseline %s: not a rebound results file (schema 1)", path);
  }
  b->doc = doc;
  return RB_OK;
}

void rb_baseline_free(struct rb_baseline *b)
{
  if(b && b->doc)
    json_decref(b->doc);
  if(b)
    b->doc = NULL;
}

/* p99 of metric in the old scenario named name; NAN when absent or without samples. */
static double old_p99(const struct rb_baseline *b, const char *name, const char *metric)
{
  json_t *scenarios = json_object_get(b->doc, "scenarios"), *s, *v;
  char key[32];
  size_t i;

  snprintf(key, sizeof(key), "%s_ms", metric);
  json_array_foreach(scenarios, i, s) {
    if(!json_is_string(json_object_get(s, "name")) || strcmp(json_string_value(json_object_get(s, "name")), name))
      continue;
    v = json_object_get(json_object_get(json_object_get(s, "summary"), key), "p99");
    return json_is_number(v) ? json_number_value(v) : NAN;
  }
  return NAN;
}

bool rb_baseline_compare(const struct rb_baseline *b, const struct rb_run_result *run,
                         const struct rb_baseline_opts *o, struct rb_baseline_row *rows, size_t max,
                         size_t *nrows)
{
  static const char *const metrics[] = { "rebind", "reconnect" };
  bool regressed = false;

  *nrows = 0;
  for(size_t i = 0; i < run->nscenarios; i++) {
    const struct rb_scenario_result *s = &run->scenarios[i];
    const struct rb_summary *now[] = { &s->rebind, &s->reconnect };

    for(size_t m = 0; m < 2 && *nrows < max; m++) {
      struct rb_baseline_row *row = &rows[(*nrows)++];

      snprintf(row->scenario, sizeof(row->scenario), "%s", s->name);
      row->metric = metrics[m];
      row->old_p99 = old_p99(b, s->name, metrics[m]);
      row->new_p99 = now[m]->count ? now[m]->p99 : NAN;
      row->judged = !isnan(row->old_p99) && !isnan(row->new_p99);
      row->regressed = row->judged && row->new_p99 > row->old_p99 * (1 + o->pct / 100.0) &&
                       row->new_p99 - row->old_p99 >= o->min_ms;
      regressed |= row->regressed;
    }
  }
  return regressed;
}

void rb_baseline_print(FILE *out, const struct rb_baseline *b, const struct rb_baseline_opts *o,
                       const struct rb_baseline_row *rows, size_t nrows)
{
  fprintf(out, "\nbaseline %s (regression: p99 > +%.0f%% and >= +%.1f ms)\n", b->path, o->pct, o->min_ms);
  fprintf(out, "  %-28s %-10s %10s %10s %9s\n", "scenario", "p99 of", "before", "now", "change");
  for(size_t i = 0; i < nrows; i++) {
    const struct rb_baseline_row *r = &rows[i];

    if(!r->judged) {
      fprintf(out, "  %-28s %-10s %10s %10s %9s\n", r->scenario, r->metric,
              isnan(r->old_p99) ? "-" : "", isnan(r->new_p99) ? "-" : "", "not compared");
      continue;
    }
    fprintf(out, "  %-28s %-10s %8.1fms %8.1fms %+8.0f%%%s\n", r->scenario, r->metric, r->old_p99, r->new_p99,
            r->old_p99 > 0 ? (r->new_p99 - r->old_p99) / r->old_p99 * 100.0 : 0.0,
            r->regressed ? "  REGRESSED" : "");
  }
}

bool rb_baseline_parse_pct(const char *text, double *pct)
{
  char *end;
  double v = strtod(text, &end);

  if(end == text || (*end && strcmp(end, "%")) || !isfinite(v) || v < 0 || v > 100000)
    return false;
  *pct = v;
  return true;
}
