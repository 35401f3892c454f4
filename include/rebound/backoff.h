/*
 * backoff: when a client that lost its server tries again, as real encoders do.
 *
 * A reconnect profile (the scenario key `reconnect`) is a schedule of delays: the
 * delay before each retry after a session ended, and the point where the client
 * gives up. The module is pure: a profile, a seed and the attempt number decide the
 * delay, so a run replays exactly and every profile has an exact unit test.
 *
 * Profiles (text form NAME[:PARAM,...], PARAM = DURATION or key=value with keys
 * first, factor, jitter, cap, retries):
 *  - rebound     rebound's own fast client: 2 ms doubling to 100 ms, each delay drawn
 *                from [d/2, d) (jitter 0.5), never gives up; it also retries the
 *                moment the engine sees the port LISTEN again (rb_backoff_follows_kick).
 *  - obs         OBS Studio (libobs/obs-output.c): 2 s, then x1.5 per retry plus a
 *                per-client random share of 0.05, in whole milliseconds, capped at
 *                15 min; gives up after 25 retries (the OBS settings' default).
 *  - supervisor  an encoder that exits on a write error and is restarted by its
 *                supervisor (systemd Restart=always, RestartSec=): a brand-new client
 *                (new handshake, default chunk size, new stream id) every
 *                `supervisor:D` (default 100 ms, systemd's RestartSec default).
 *  - fixed:D     a constant delay D (ffmpeg's fifo muxer: recovery_wait_time 5 s,
 *                its first recovery immediate: fixed:5s,first=0).
 */
#ifndef REBOUND_BACKOFF_H
#define REBOUND_BACKOFF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rebound/error.h"

enum rb_backoff_kind {
  RB_BACKOFF_REBOUND,
  RB_BACKOFF_OBS,
  RB_BACKOFF_SUPERVISOR,
  RB_BACKOFF_FIXED
};

struct rb_backoff_profile {
  enum rb_backoff_kind kind;
  int64_t first_ns;   /* delay before the first retry after a session ended */
  int64_t interval_ns;/* fixed, supervisor: the delay of every later retry (0 for the
                         others, whose later delays grow from the first by factor) */
  double factor;      /* obs, rebound: each later delay = the previous one x factor */
  double jitter;      /* obs: this client's factor is factor + U[0, jitter), drawn once
                         (as libobs draws it once per output); others: each delay is
                         drawn from [d x (1 - jitter), d) */
  int64_t cap_ns;     /* no delay beyond this (0 = no cap) */
  unsigned retries;   /* give up after this many retries in a row without a session
                         that got up (0 = never) */
};

/* One client's schedule. Fields are read-only for callers. */
struct rb_backoff {
  struct rb_backoff_profile profile;
  uint64_t rng;       /* rb_random state, from the seed */
  double factor;      /* this client's factor (obs: with its jitter) */
  int64_t nominal_ns; /* the last delay before per-retry jitter (0 = none yet) */
  unsigned attempt;   /* retries since the last session that got up */
};

/* The built-in defaults of a profile kind. */
void rb_backoff_defaults(enum rb_backoff_kind kind, struct rb_backoff_profile *out);

/* Parse "obs", "obs:retries=20", "fixed:5s,first=0", "supervisor:2s", ... A bare
   duration is the interval of fixed and supervisor (and their first delay unless
   first= is given), the first delay of the others. RB_ERR_SCENARIO with a one-line
   reason in why on bad text. */
rb_err rb_backoff_parse(const char *text, struct rb_backoff_profile *out, char *why, size_t whylen);

/* The profile in its full text form ("obs:first=2s,factor=1.5,..."), for reports. */
void rb_backoff_format(const struct rb_backoff_profile *p, char *buf, size_t buflen);

/* "rebound", "obs", "supervisor", "fixed". */
const char *rb_backoff_name(enum rb_backoff_kind kind);

/* Start a schedule; seed 0 is replaced by 1 (see random.h). */
void rb_backoff_init(struct rb_backoff *b, const struct rb_backoff_profile *p, uint64_t seed);

/* A session got up: the next failure starts the schedule from the first delay. */
void rb_backoff_reset(struct rb_backoff *b);

/* The delay before the next retry, in ns; false when the client gives up (its
   retries are exhausted; the delay is then untouched). */
bool rb_backoff_next(struct rb_backoff *b, int64_t *delay_ns);

/* The same schedule as a pure function: the delay before retry `attempt` (1-based,
   counted since the last session that got up) of a client seeded with seed; false
   when that client gives up before it. Equal to the attempt-th rb_backoff_next(). */
bool rb_backoff_delay(const struct rb_backoff_profile *p, uint64_t seed, unsigned attempt, int64_t *delay_ns);

/* Whether clients of this profile retry at once when the engine sees the port
   LISTEN again: only rebound's own; a real encoder cannot know. */
bool rb_backoff_follows_kick(const struct rb_backoff_profile *p);

/* Whether every retry is a brand-new client (a restarted process). */
bool rb_backoff_new_client(const struct rb_backoff_profile *p);

/* The longest a client of this profile can wait over its first `attempts` retries:
   the sum of their delays at their longest (OBS: factor + jitter; the others:
   without the jitter that shortens them), capped. The engine uses it to tell a
   reconnect window too short for the profile. */
int64_t rb_backoff_worst_wait(const struct rb_backoff_profile *p, unsigned attempts);

#endif
