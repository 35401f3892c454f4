/* clock: monotonic time and durations. */
#include "rebound/clock.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int64_t rb_clock_now(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * RB_NS_PER_S + ts.tv_nsec;
}

int64_t rb_clock_deadline(int64_t timeout_ns)
{
  int64_t now = rb_clock_now();

  if(timeout_ns > INT64_MAX - now)
    return INT64_MAX;
  return now + timeout_ns;
}

int rb_clock_ms_left(int64_t deadline)
{
  int64_t left = deadline - rb_clock_now();

  if(left <= 0)
    return 0;
  left = (left + RB_NS_PER_MS - 1) / RB_NS_PER_MS;
  return left > 1000000 ? 1000000 : (int)left;
}

double rb_clock_ms(int64_t a, int64_t b)
{
  return (double)(b - a) / (double)RB_NS_PER_MS;
}

void rb_clock_sleep(int64_t ns)
{
  struct timespec ts;

  if(ns <= 0)
    return;
  ts.tv_sec = ns / RB_NS_PER_S;
  ts.tv_nsec = ns % RB_NS_PER_S;
  while(nanosleep(&ts, &ts) == -1 && errno == EINTR)
    ;
}

bool rb_duration_parse(const char *text, int64_t *out_ns)
{
  static const struct { const char *suffix; double ns; } units[] = {
    { "us", 1e3 }, { "ms", 1e6 }, { "s", 1e9 }, { "m", 60e9 }, { "h", 3600e9 }, { "", 1e9 },
  };
  char *end;
  double value;

  if(!text || !*text || *text == '-' || *text == '+' || *text == ' ')
    return false;
  errno = 0;
  value = strtod(text, &end);
  if(errno || end == text || !isfinite(value) || value < 0)
    return false;
  /* Reject hex floats, "inf", "nan": strtod accepts them, people do not mean them. */
  for(const char *p = text; p < end; p++)
    if(!(*p >= '0' && *p <= '9') && *p != '.')
      return false;
  for(size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
    if(strcmp(end, units[i].suffix))
      continue;
    value *= units[i].ns;
    if(value > 9.2e18)
      return false;
    *out_ns = (int64_t)llround(value);
    return true;
  }
  return false;
}

void rb_duration_format(int64_t ns, char *buf, size_t buflen)
{
  if(ns % RB_NS_PER_S == 0 && ns >= 60 * RB_NS_PER_S && ns % (60 * RB_NS_PER_S) == 0)
    snprintf(buf, buflen, "%lldm", (long long)(ns / (60 * RB_NS_PER_S)));
  else if(ns % RB_NS_PER_S == 0)
    snprintf(buf, buflen, "%llds", (long long)(ns / RB_NS_PER_S));
  else if(ns % RB_NS_PER_MS == 0)
    snprintf(buf, buflen, "%lldms", (long long)(ns / RB_NS_PER_MS));
  else
    snprintf(buf, buflen, "%.3fms", (double)ns / (double)RB_NS_PER_MS);
}
