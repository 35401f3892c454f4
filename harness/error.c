/* error: rb_strerror and the message helper. */
#include "rebound/error.h"

#include <stdarg.h>
#include <stdio.h>

const char *rb_strerror(rb_err err)
{
  switch(err) {
  case RB_OK: return "ok";
  case RB_ERR_NOMEM: return "out of memory";
  case RB_ERR_USAGE: return "usage error";
  case RB_ERR_SCENARIO: return "scenario error";
  case RB_ERR_IO: return "i/o error";
  case RB_ERR_SYSTEM: return "system error";
  case RB_ERR_TIMEOUT: return "timed out";
  case RB_ERR_REFUSED: return "connection refused";
  case RB_ERR_PROTOCOL: return "protocol error";
  case RB_ERR_REJECTED: return "rejected by the server";
  case RB_ERR_CLOSED: return "connection closed by the peer";
  case RB_ERR_SPAWN: return "could not start the target";
  case RB_ERR_NOT_FOUND: return "not found";
  case RB_ERR_INTERRUPTED: return "interrupted";
  case RB_ERR_PORT_BUSY: return "port held by another process";
  case RB_ERR__COUNT: break;
  }
  return "unknown error";
}

rb_err rb_fail(char *msg, size_t msglen, rb_err err, const char *fmt, ...)
{
  va_list ap;

  if(msg && msglen) {
    va_start(ap, fmt);
    vsnprintf(msg, msglen, fmt, ap);
    va_end(ap);
  }
  return err;
}
