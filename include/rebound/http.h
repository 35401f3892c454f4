/*
 * http: one bounded HTTP GET through libcurl, for stats pages (stat_url).
 * No proxy, no signals, a hard deadline, and a cap on the body size.
 */
#ifndef REBOUND_HTTP_H
#define REBOUND_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "rebound/error.h"

#define RB_HTTP_MAX_BODY (4 * 1024 * 1024)

/* GET url before deadline (absolute monotonic ns). On RB_OK *body is a NUL-terminated
   copy of the body (caller frees) and *status the HTTP status. */
rb_err rb_http_get(const char *url, int64_t deadline, char **body, long *status, char *msg, size_t msglen);

#endif
