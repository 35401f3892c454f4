/*
 * probe: is the target ready?
 *
 * Each kind of readiness is polled at short intervals (sub-millisecond at first,
 * backing off to a few ms) until it holds or the deadline passes; never a fixed
 * sleep, never an unbounded wait.
 */
#ifndef REBOUND_PROBE_H
#define REBOUND_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "rebound/error.h"
#include "rebound/types.h"

struct rb_ready {
  enum rb_ready_kind kind;
  const char *host;     /* RB_READY_TCP */
  uint16_t port;        /* LISTEN, TCP */
  const char *url;      /* RB_READY_RTMP: rtmp URL of the app */
  const char *http_url; /* RB_READY_HTTP */
};

/* Called between polls; return false to give up early (e.g. the target's main
   process exited, or a stop was requested). May be NULL. */
typedef bool (*rb_probe_keep_going)(void *arg);

/* Poll until ready or deadline (absolute, monotonic ns). On success *ready_at
   holds the monotonic time readiness was first observed. Returns RB_ERR_TIMEOUT
   at the deadline, RB_ERR_INTERRUPTED if keep_going said stop. */
rb_err rb_probe_wait(const struct rb_ready *r, int64_t deadline, rb_probe_keep_going keep_going,
                     void *arg, int64_t *ready_at, char *msg, size_t msglen);

/* One attempt of each kind, bounded by deadline. */
bool rb_probe_listen_once(uint16_t port);
rb_err rb_probe_tcp_once(const char *host, uint16_t port, int64_t deadline, char *msg, size_t msglen);
rb_err rb_probe_http_once(const char *url, int64_t deadline, char *msg, size_t msglen);

/* Find a free TCP port on 127.0.0.1, outside the kernel's ephemeral range (see probe.c). */
rb_err rb_probe_free_port(uint16_t *port, char *msg, size_t msglen);

#endif
