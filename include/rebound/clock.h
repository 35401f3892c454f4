/*
 * clock: monotonic time and human durations.
 *
 * All of rebound measures with CLOCK_MONOTONIC in nanoseconds (int64_t), which is
 * system-wide on Linux: a timestamp taken in the refserver can be compared with one
 * taken in the harness. Deadlines are absolute monotonic times.
 */
#ifndef REBOUND_CLOCK_H
#define REBOUND_CLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RB_NS_PER_MS INT64_C(1000000)
#define RB_NS_PER_S INT64_C(1000000000)

/* CLOCK_MONOTONIC now, in nanoseconds. */
int64_t rb_clock_now(void);

/* now + timeout_ns, saturating. */
int64_t rb_clock_deadline(int64_t timeout_ns);

/* Milliseconds left until deadline (>= 0), rounded up: for poll(). */
int rb_clock_ms_left(int64_t deadline);

/* (b - a) in milliseconds as a double. */
double rb_clock_ms(int64_t a, int64_t b);

/* Sleep for ns (restarting on EINTR); for backoff between polls only. */
void rb_clock_sleep(int64_t ns);

/* Parse "250ms", "2s", "1m", "1.5s", "0", or a plain number of seconds into
   nanoseconds. Accepts us, ms, s, m, h. Rejects negatives, garbage, overflow.
   Returns false on error. */
bool rb_duration_parse(const char *text, int64_t *out_ns);

/* Format ns as the shortest readable duration ("250ms", "2s", "1m30s"). */
void rb_duration_format(int64_t ns, char *buf, size_t buflen);

#endif
