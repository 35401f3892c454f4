/*
 * stats: samples -> p50/p95/p99/max.
 *
 * Percentiles use the nearest-rank method on a sorted copy (the same definition
 * wrk and redis-benchmark report), so a p99 is always a value that was observed.
 */
#ifndef REBOUND_STATS_H
#define REBOUND_STATS_H

#include <stdbool.h>
#include <stddef.h>

struct rb_summary {
  size_t count;
  double min, p50, p95, p99, max, mean;
};

/* Fill s from n samples (n may be 0: everything 0, count 0). Does not modify samples. */
bool rb_stats_summarize(const double *samples, size_t n, struct rb_summary *s);

/* Nearest-rank percentile (0 < p <= 100) of sorted[0..n-1]. */
double rb_stats_percentile(const double *sorted, size_t n, double p);

#endif
