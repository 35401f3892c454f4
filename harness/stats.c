/* stats: summaries of timing samples (nearest-rank percentiles). */
#include "rebound/stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int compare_doubles(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;

  return (x > y) - (x < y);
}

double rb_stats_percentile(const double *sorted, size_t n, double p)
{
  size_t rank;

  if(n == 0)
    return 0;
  rank = (size_t)ceil(p / 100.0 * (double)n);
  if(rank < 1)
    rank = 1;
  if(rank > n)
    rank = n;
  return sorted[rank - 1];
}

bool rb_stats_summarize(const double *samples, size_t n, struct rb_summary *s)
{
  double *sorted, sum = 0;

  memset(s, 0, sizeof(*s));
  if(n == 0)
    return true;
  if(!(sorted = malloc(n * sizeof(*sorted))))
    return false;
  memcpy(sorted, samples, n * sizeof(*sorted));
  qsort(sorted, n, sizeof(*sorted), compare_doubles);
  for(size_t i = 0; i < n; i++)
    sum += sorted[i];
  s->count = n;
  s->min = sorted[0];
  s->max = sorted[n - 1];
  s->mean = sum / (double)n;
  s->p50 = rb_stats_percentile(sorted, n, 50);
  s->p95 = rb_stats_percentile(sorted, n, 95);
  s->p99 = rb_stats_percentile(sorted, n, 99);
  free(sorted);
  return true;
}
