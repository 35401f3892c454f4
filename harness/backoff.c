/* backoff: reconnect profiles of real encoders (see include/rebound/backoff.h). */
#include "rebound/backoff.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rebound/clock.h"
#include "rebound/random.h"

#define MAX_RETRIES 1000000u
#define MAX_DELAY_NS (24 * 3600 * RB_NS_PER_S) /* a day: anything longer is a typo */

static const char *const kind_names[] = { "rebound", "obs", "supervisor", "fixed" };

const char *rb_backoff_name(enum rb_backoff_kind kind)
{
  return (size_t)kind < sizeof(kind_names) / sizeof(kind_names[0]) ? kind_names[kind] : "?";
}

void rb_backoff_defaults(enum rb_backoff_kind kind, struct rb_backoff_profile *out)
{
  switch(kind) {
  case RB_BACKOFF_OBS:
    /* libobs/obs-output.c (obsproject/obs-studio): obs_output_create() sets
       reconnect_retry_sec = 2 and reconnect_retry_exp = RECONNECT_RETRY_BASE_EXP (1.5)
       + rand_float(0) * 0.05, once per output; output_reconnect() waits
       reconnect_retry_sec * 1000 ms before the first retry, multiplies the wait by
       reconnect_retry_exp for every later one (uint32_t milliseconds), caps it at
       RECONNECT_RETRY_MAX_MSEC (15 min), and stops once reconnect_retries reaches
       reconnect_retry_max. libobs defaults that to 20; the OBS settings
       (Output/MaxRetries) default to 25, which is what users run. The wait restarts
       from 2 s after a reconnect succeeded. */
    *out = (struct rb_backoff_profile){ RB_BACKOFF_OBS, 2 * RB_NS_PER_S, 0, 1.5, 0.05, 15 * 60 * RB_NS_PER_S, 25 };
    break;
  case RB_BACKOFF_SUPERVISOR:
    /* systemd's RestartSec defaults to 100 ms; Restart=always never gives up by itself. */
    *out = (struct rb_backoff_profile){ RB_BACKOFF_SUPERVISOR, 100 * RB_NS_PER_MS, 100 * RB_NS_PER_MS, 1, 0, 0, 0 };
    break;
  case RB_BACKOFF_FIXED:
    *out = (struct rb_backoff_profile){ RB_BACKOFF_FIXED, 5 * RB_NS_PER_S, 5 * RB_NS_PER_S, 1, 0, 0, 0 };
    break;
  case RB_BACKOFF_REBOUND:
  default:
    *out = (struct rb_backoff_profile){ RB_BACKOFF_REBOUND, 2 * RB_NS_PER_MS, 0, 2, 0.5, 100 * RB_NS_PER_MS, 0 };
    break;
  }
}

/* ---- parsing -------------------------------------------------------------- */

static bool parse_real(const char *s, double lo, double hi, double *out)
{
  char *end;
  double v = strtod(s, &end);

  if(end == s || *end || !isfinite(v) || v < lo || v > hi)
    return false;
  *out = v;
  return true;
}

static bool parse_count(const char *s, unsigned *out)
{
  char *end;
  unsigned long v;

  if(*s < '0' || *s > '9')
    return false;
  v = strtoul(s, &end, 10);
  if(*end || v > MAX_RETRIES)
    return false;
  *out = (unsigned)v;
  return true;
}

static bool parse_delay(const char *s, int64_t *out)
{
  return rb_duration_parse(s, out) && *out >= 0 && *out <= MAX_DELAY_NS;
}

static bool has_interval(enum rb_backoff_kind kind)
{
  return kind == RB_BACKOFF_FIXED || kind == RB_BACKOFF_SUPERVISOR;
}

/* One PARAM of NAME:PARAM,...; a bare duration is the interval (fixed:5s) or the first
   delay (obs:1s). *first_set: first= was given. */
static bool apply_param(struct rb_backoff_profile *p, char *param, bool *first_set, char *why, size_t whylen)
{
  char *eq = strchr(param, '=');
  const char *key = param, *value;

  if(!eq) {
    if(parse_delay(param, has_interval(p->kind) ? &p->interval_ns : &p->first_ns))
      return true;
    snprintf(why, whylen, "bad reconnect parameter '%.40s': expected a duration or key=value", param);
    return false;
  }
  *eq = '\0';
  value = eq + 1;
  *first_set |= !strcmp(key, "first");
  if(!strcmp(key, "first") ? parse_delay(value, &p->first_ns)
     : !strcmp(key, "cap") ? parse_delay(value, &p->cap_ns)
     : !strcmp(key, "factor") ? parse_real(value, 1, 100, &p->factor)
     : !strcmp(key, "jitter") ? parse_real(value, 0, 1, &p->jitter)
     : !strcmp(key, "retries") ? parse_count(value, &p->retries)
     : false)
    return true;
  if(strcmp(key, "first") && strcmp(key, "cap") && strcmp(key, "factor") && strcmp(key, "jitter") &&
     strcmp(key, "retries"))
    snprintf(why, whylen, "unknown reconnect parameter '%.40s': expected first, factor, jitter, cap or retries", key);
  else
    snprintf(why, whylen, "bad value '%.40s' for reconnect parameter %s (first/cap: a duration up to 1 day; "
             "factor: 1 to 100; jitter: 0 to 1; retries: 0 to %u)", value, key, MAX_RETRIES);
  return false;
}

rb_err rb_backoff_parse(const char *text, struct rb_backoff_profile *out, char *why, size_t whylen)
{
  char copy[256], *params, *save = NULL;
  size_t kind;
  bool first_set = false;

  if(strlen(text) >= sizeof(copy))
    return rb_fail(why, whylen, RB_ERR_SCENARIO, "reconnect value too long");
  snprintf(copy, sizeof(copy), "%s", text);
  params = strchr(copy, ':');
  if(params)
    *params++ = '\0';
  for(kind = 0; kind < sizeof(kind_names) / sizeof(kind_names[0]); kind++)
    if(!strcmp(copy, kind_names[kind]))
      break;
  if(kind == sizeof(kind_names) / sizeof(kind_names[0]))
    return rb_fail(why, whylen, RB_ERR_SCENARIO, "bad reconnect '%.60s': expected rebound, obs, supervisor[:D] "
                   "or fixed:D, optionally with ,first=D,factor=X,jitter=X,cap=D,retries=N", text);
  rb_backoff_defaults((enum rb_backoff_kind)kind, out);
  if(params && !*params)
    return rb_fail(why, whylen, RB_ERR_SCENARIO, "reconnect '%.60s': nothing after ':'", text);
  for(char *p = params ? strtok_r(params, ",", &save) : NULL; p; p = strtok_r(NULL, ",", &save))
    if(!apply_param(out, p, &first_set, why, whylen))
      return RB_ERR_SCENARIO;
  if(has_interval(out->kind) && !first_set)
    out->first_ns = out->interval_ns;
  if(out->cap_ns && out->cap_ns < out->first_ns)
    return rb_fail(why, whylen, RB_ERR_SCENARIO, "reconnect '%.60s': cap is below the first delay", text);
  return RB_OK;
}

void rb_backoff_format(const struct rb_backoff_profile *p, char *buf, size_t buflen)
{
  char first[32], cap[32], interval[40] = "";

  rb_duration_format(p->first_ns, first, sizeof(first));
  rb_duration_format(p->cap_ns, cap, sizeof(cap));
  if(has_interval(p->kind)) {
    rb_duration_format(p->interval_ns, interval, sizeof(interval) - 1);
    strcat(interval, ",");
  }
  snprintf(buf, buflen, "%s:%sfirst=%s,factor=%.10g,jitter=%.10g,cap=%s,retries=%u", rb_backoff_name(p->kind),
           interval, first, p->factor, p->jitter, cap, p->retries);
}

/* ---- schedule ------------------------------------------------------------- */

/* Uniform in [0, 1) from the top 53 bits. */
static double unit_random(uint64_t *rng)
{
  return (double)(rb_random_next(rng) >> 11) * (1.0 / 9007199254740992.0);
}

void rb_backoff_init(struct rb_backoff *b, const struct rb_backoff_profile *p, uint64_t seed)
{
  memset(b, 0, sizeof(*b));
  b->profile = *p;
  b->rng = seed ? seed : 1;
  b->factor = p->factor;
  if(p->kind == RB_BACKOFF_OBS)
    b->factor += unit_random(&b->rng) * p->jitter;
}

void rb_backoff_reset(struct rb_backoff *b)
{
  b->attempt = 0;
  b->nominal_ns = 0;
}

/* The nominal delay of the next attempt, before per-retry jitter. */
static int64_t next_nominal(const struct rb_backoff *b)
{
  const struct rb_backoff_profile *p = &b->profile;
  int64_t d;

  if(!b->attempt)
    d = p->first_ns;
  else if(has_interval(p->kind))
    d = p->interval_ns;
  else if(p->kind == RB_BACKOFF_OBS)
    /* libobs keeps the wait in whole milliseconds: (uint32_t)(cur_msec * exp). */
    d = (int64_t)floor((double)(b->nominal_ns / RB_NS_PER_MS) * b->factor) * RB_NS_PER_MS;
  else {
    double next = (double)b->nominal_ns * b->factor;

    d = next > (double)MAX_DELAY_NS ? MAX_DELAY_NS : (int64_t)next;
  }
  if(p->cap_ns && d > p->cap_ns)
    d = p->cap_ns;
  return d;
}

bool rb_backoff_next(struct rb_backoff *b, int64_t *delay_ns)
{
  const struct rb_backoff_profile *p = &b->profile;
  int64_t d;

  if(p->retries && b->attempt >= p->retries)
    return false;
  d = next_nominal(b);
  b->nominal_ns = d;
  b->attempt++;
  /* Everyone but OBS spreads each retry: clients that failed together must not
     retry together. (OBS spreads by its per-client factor instead.) */
  if(p->kind != RB_BACKOFF_OBS && p->jitter > 0 && d > 0) {
    uint64_t span = (uint64_t)((double)d * p->jitter);

    if(span)
      d = d - (int64_t)span + (int64_t)(rb_random_next(&b->rng) % span);
  }
  *delay_ns = d;
  return true;
}

bool rb_backoff_delay(const struct rb_backoff_profile *p, uint64_t seed, unsigned attempt, int64_t *delay_ns)
{
  struct rb_backoff b;
  int64_t d = 0;

  if(!attempt)
    return false;
  rb_backoff_init(&b, p, seed);
  for(unsigned i = 0; i < attempt; i++)
    if(!rb_backoff_next(&b, &d))
      return false;
  *delay_ns = d;
  return true;
}

bool rb_backoff_follows_kick(const struct rb_backoff_profile *p)
{
  return p->kind == RB_BACKOFF_REBOUND;
}

bool rb_backoff_new_client(const struct rb_backoff_profile *p)
{
  return p->kind == RB_BACKOFF_SUPERVISOR;
}

int64_t rb_backoff_worst_wait(const struct rb_backoff_profile *p, unsigned attempts)
{
  struct rb_backoff b;
  int64_t total = 0, d;
  struct rb_backoff_profile plain = *p;

  /* At their longest: OBS's share of the jitter raises its factor; the others'
     jitter only shortens a delay. */
  if(p->kind == RB_BACKOFF_OBS)
    plain.factor += p->jitter;
  plain.jitter = 0;
  rb_backoff_init(&b, &plain, 1);
  for(unsigned i = 0; i < attempts && rb_backoff_next(&b, &d); i++)
    total = total > INT64_MAX - d ? INT64_MAX : total + d;
  return total;
}
