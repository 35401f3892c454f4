/*
 * error: the one error type of rebound.
 *
 * Every fallible function returns an rb_err; RB_OK is zero so `if(err) goto out;`
 * reads naturally. Human detail goes to a caller-supplied buffer (char *msg, size_t
 * msglen), never to stderr from inside a module. The numbers are stable: they may
 * appear in JSON results and logs, so new codes are only ever appended.
 *
 * Failures of the *target* (did not rebind, rejected a publish) are results recorded
 * on a cycle, not errors; rb_err is for things that stop rebound itself from
 * doing its job, and for the client library's per-step outcome.
 */
#ifndef REBOUND_ERROR_H
#define REBOUND_ERROR_H

#include <stddef.h>

typedef enum rb_err {
  RB_OK = 0,
  RB_ERR_NOMEM = 1,       /* out of memory */
  RB_ERR_USAGE = 2,       /* bad command-line arguments */
  RB_ERR_SCENARIO = 3,    /* scenario file or --set value is invalid */
  RB_ERR_IO = 4,          /* reading or writing a file failed */
  RB_ERR_SYSTEM = 5,      /* a system call failed (fork, socket, ...) */
  RB_ERR_TIMEOUT = 6,     /* a deadline passed */
  RB_ERR_REFUSED = 7,     /* TCP connection refused */
  RB_ERR_PROTOCOL = 8,    /* the peer broke the RTMP protocol */
  RB_ERR_REJECTED = 9,    /* the server answered with an error status */
  RB_ERR_CLOSED = 10,     /* the peer closed or reset the connection */
  RB_ERR_SPAWN = 11,      /* the target could not be started */
  RB_ERR_NOT_FOUND = 12,  /* a file, program or stream does not exist */
  RB_ERR_INTERRUPTED = 13,/* stopped by a signal or a stop request */
  RB_ERR_PORT_BUSY = 14,  /* the port is held by a process rebound did not start */
  RB_ERR__COUNT
} rb_err;

/* A short lowercase phrase for err; never NULL, also for unknown values. */
const char *rb_strerror(rb_err err);

/* snprintf into msg if msg is not NULL and msglen > 0; returns err for tail calls:
   `return rb_fail(msg, msglen, RB_ERR_IO, "%s: %s", path, strerror(errno));` */
rb_err rb_fail(char *msg, size_t msglen, rb_err err, const char *fmt, ...)
  __attribute__((format(printf, 4, 5)));

#endif
