/*
 * http: every HTTP request rebound makes, through libcurl: bounded GETs (ready URLs,
 * stats pages, HLS playlists and segments) and the endless GET of an HTTP-FLV stream.
 * No proxy, no signals, only http/https, a deadline on every step, a cap on what is
 * kept, and an abort that works while a transfer is blocked.
 */
#ifndef REBOUND_HTTP_H
#define REBOUND_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rebound/error.h"

#define RB_HTTP_MAX_BODY (4 * 1024 * 1024)

/* curl_global_init, once per process, whichever thread comes first (it is not
   thread-safe itself). Every function here calls it; other users of libcurl must too. */
void rb_http_global_init(void);

/* What a CURLcode means in rb_err terms (refused, timeout, closed, ...). */
rb_err rb_http_error(int curl_code);

/* GET url before deadline (absolute monotonic ns). On RB_OK *body is a NUL-terminated
   copy of the body (caller frees) and *status the HTTP status. */
rb_err rb_http_get(const char *url, int64_t deadline, char **body, long *status, char *msg, size_t msglen);

/* A request with the players' extras. */
struct rb_http_request {
  const char *url;
  int64_t deadline;             /* fetch: the whole transfer; stream: connect + response header */
  int64_t idle_ns;              /* stream: longest silence once the body has begun */
  size_t max_body;              /* fetch: 0 = RB_HTTP_MAX_BODY */
  bool require_2xx;             /* fetch: another status is an error (stream: always) */
  void *handle;                 /* a CURL * from rb_http_handle_new, kept for keep-alive; NULL = one-off */
  void *arg;
  bool (*stopping)(void *arg);  /* polled during the transfer: true aborts it (may be NULL) */
  void (*on_socket)(void *arg, int fd); /* the transfer's socket, -1 when closed: for a shutdown() abort */
};

void *rb_http_handle_new(void);
void rb_http_handle_free(void *handle);

/* GET into memory (binary-safe: *len; data is also NUL-terminated; caller frees).
   With require_2xx a status outside 2xx is RB_ERR_NOT_FOUND for 404/410 and
   RB_ERR_PROTOCOL otherwise, with the status in msg and *status. */
rb_err rb_http_fetch(const struct rb_http_request *rq, uint8_t **data, size_t *len, long *status, char *msg,
                     size_t msglen);

/* GET and hand the body to on_data as it arrives, until the server ends it (RB_ERR_CLOSED),
   a step misses its deadline (RB_ERR_TIMEOUT), on_data returns an error (returned, with
   its msg) or stopping (RB_ERR_INTERRUPTED). */
typedef rb_err (*rb_http_data_fn)(void *arg, const uint8_t *data, size_t len, char *msg, size_t msglen);
rb_err rb_http_stream(const struct rb_http_request *rq, rb_http_data_fn on_data, void *data_arg, char *msg,
                      size_t msglen);

#endif
