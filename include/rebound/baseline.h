/*
 * baseline: compare a run with an earlier run's JSON (--baseline OLD.json).
 *
 * A regression is a p99 of rebind or reconnect time that grew by more than
 * pct percent AND by at least min_ms milliseconds (small absolute changes on a
 * fast server are noise, not regressions). Scenarios are matched by name;
 * ones missing from either side are listed but not judged.
 */
#ifndef REBOUND_BASELINE_H
#define REBOUND_BASELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "rebound/error.h"
#include "rebound/results.h"

struct rb_baseline_opts {
  double pct;    /* default 25 */
  double min_ms; /* default 5 */
};

struct rb_baseline_row {
  char scenario[128];
  const char *metric;  /* "rebind" or "reconnect" */
  double old_p99, new_p99;
  bool judged;         /* both sides had samples */
  bool regressed;
};

struct rb_baseline {
  void *doc;           /* the parsed old JSON (jansson) */
  char path[512];
};

/* Read and check OLD.json (schema 1). RB_ERR_IO / RB_ERR_USAGE with a one-line msg. */
rb_err rb_baseline_load(struct rb_baseline *b, const char *path, char *msg, size_t msglen);
void rb_baseline_free(struct rb_baseline *b);

/* Compare; rows gets up to max rows. Returns whether anything regressed. */
bool rb_baseline_compare(const struct rb_baseline *b, const struct rb_run_result *run,
                         const struct rb_baseline_opts *o, struct rb_baseline_row *rows, size_t max,
                         size_t *nrows);

/* The comparison table. */
void rb_baseline_print(FILE *out, const struct rb_baseline *b, const struct rb_baseline_opts *o,
                       const struct rb_baseline_row *rows, size_t nrows);

/* Parse "25%" or "25" into a percentage; false on nonsense. */
bool rb_baseline_parse_pct(const char *text, double *pct);

#endif
