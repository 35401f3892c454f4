/*
 * refserver: the core of rebound's reference RTMP server, without sockets.
 *
 * Two layers, both pure functions of the bytes they are given so that unit tests
 * and fuzzers can drive them:
 *  - the wire format (harness/refserver_proto.c): chunk-stream reader with every
 *    peer-announced size checked before it is trusted, chunked writer, and an
 *    output buffer with a size limit, over rtmp_wire's headers and AMF0;
 *  - the sessions (harness/refserver_session.c): handshake, connect, createStream,
 *    publish/play, relay from a publisher to its players with cached metadata and
 *    sequence headers, and the fault switches that live at the RTMP level
 *    (--reject-publish, --stale-stream).
 * harness/refserver.c owns the sockets, the event loop and the process-level
 * switches (workers, crash, hang, start delay, SO_REUSEADDR).
 *
 * Only rtmp_wire is shared with the harness: the refserver is a separate program.
 */
#ifndef REBOUND_REFSERVER_H
#define REBOUND_REFSERVER_H

#include "rebound/error.h"
#include "rebound/rtmp_wire.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Limits applied to every connection; each protects memory or the stack. */
#define RB_REFSERVER_MAX_MESSAGE (8u << 20)       /* largest message accepted */
#define RB_REFSERVER_MAX_CHUNK_SIZE (16u << 20)   /* largest Set Chunk Size accepted */
#define RB_REFSERVER_MAX_CHUNK_STREAMS 64         /* distinct chunk stream ids per connection */
#define RB_REFSERVER_MAX_OUTPUT (8u << 20)        /* unsent bytes queued for one peer */
#define RB_REFSERVER_DEFAULT_BUDGET ((size_t)512 << 20) /* all connections together */
#define RB_REFSERVER_HANDSHAKE_SIZE 1536
#define RB_REFSERVER_OUT_CHUNK_SIZE 4096          /* what the server announces and writes */
#define RB_REFSERVER_DEFAULT_CHUNK_SIZE 128       /* the protocol's: never announced */

/* Memory shared by all connections: message assembly and output buffers draw on
   it, so a thousand hostile peers cannot together exhaust the machine. */
struct rb_refserver_budget {
  size_t used;
  size_t max;
};

/* One complete RTMP message. data stays valid until the next call into the reader
   that produced it. */
struct rb_refserver_message {
  uint32_t csid;
  uint32_t timestamp;
  uint32_t length;
  uint32_t stream_id;
  uint8_t type;
  const uint8_t *data;
};

struct rb_refserver_chunk_stream;

/* Incremental chunk-stream reader. Initialise with rb_refserver_reader_init; the
   fields below the line are private. */
struct rb_refserver_reader {
  uint32_t chunk_size;        /* the peer's current Set Chunk Size */
  uint32_t max_message;       /* RB_REFSERVER_MAX_MESSAGE unless a test lowers it */
  uint64_t bytes_in;          /* every byte consumed, for acknowledgements */
  struct rb_refserver_budget *budget;
  /* private */
  struct rb_refserver_chunk_stream *streams;
  uint32_t nstreams;
  uint8_t header[18];
  uint32_t header_len;
  bool in_payload;
  uint32_t chunk_left;
  struct rb_refserver_chunk_stream *current;
  struct rb_refserver_chunk_stream *emitted;
};

/* budget may be NULL (no shared limit). */
void rb_refserver_reader_init(struct rb_refserver_reader *r, struct rb_refserver_budget *budget);
void rb_refserver_reader_free(struct rb_refserver_reader *r);

/* Consume bytes from buf until one message is complete or buf is used up.
   *used says how many bytes were consumed; *have_msg whether msg was filled.
   Set Chunk Size and Abort are applied here (and still returned).
   Returns RB_ERR_PROTOCOL for malformed input, RB_ERR_NOMEM when a limit would
   be exceeded; the reader must then be freed, not fed again. */
rb_err rb_refserver_reader_feed(struct rb_refserver_reader *r, const uint8_t *buf, size_t len,
                                size_t *used, struct rb_refserver_message *msg, bool *have_msg,
                                char *errmsg, size_t errlen);

/* A byte queue with a limit on what may be pending. */
struct rb_refserver_buf {
  uint8_t *data;
  size_t off;     /* first unsent byte */
  size_t len;     /* end of data */
  size_t cap;
  size_t limit;   /* most pending bytes allowed; 0 = RB_REFSERVER_MAX_OUTPUT */
  struct rb_refserver_budget *budget;
};

/* Append n bytes; RB_ERR_NOMEM when the limit or the budget would be exceeded
   (nothing is appended then). */
rb_err rb_refserver_buf_append(struct rb_refserver_buf *b, const void *p, size_t n);
size_t rb_refserver_buf_pending(const struct rb_refserver_buf *b);
void rb_refserver_buf_consume(struct rb_refserver_buf *b, size_t n);
void rb_refserver_buf_free(struct rb_refserver_buf *b);

/* Append m as chunks of chunk_size (first chunk fmt 0, then fmt 3). All or nothing. */
rb_err rb_refserver_write_message(struct rb_refserver_buf *out, uint32_t chunk_size,
                                  const struct rb_refserver_message *m);

/* Sessions. */
struct rb_refserver_config {
  const char *reject_publish_code; /* NULL: accept publishes */
  int64_t stale_ns;                /* 0: an abrupt unpublish frees the name at once */
  int64_t stale_all_until;         /* monotonic ns; every publish before it is refused */
  bool http_flv_stall;             /* HTTP-FLV: answer 200 and the FLV header, then send nothing */
  size_t memory_budget;            /* 0: RB_REFSERVER_DEFAULT_BUDGET */
  uint32_t out_chunk_size;         /* 0: RB_REFSERVER_OUT_CHUNK_SIZE; 128 (the protocol's
                                      default) is written without a Set Chunk Size */
  FILE *log;                       /* one line per event; NULL: quiet */
  int64_t (*now)(void);            /* NULL: rb_clock_now; tests pass a fake clock */
};

struct rb_refserver;
struct rb_refserver_conn;

struct rb_refserver *rb_refserver_new(const struct rb_refserver_config *cfg);
/* Frees every connection still open, then the server. */
void rb_refserver_free(struct rb_refserver *s);

/* A new peer; user is the caller's handle (the event loop's connection). */
struct rb_refserver_conn *rb_refserver_conn_new(struct rb_refserver *s, const char *peer, void *user);
/* A peer of the HTTP-FLV port: GET /APP/NAME.flv is answered with that stream as FLV. */
struct rb_refserver_conn *rb_refserver_conn_new_http(struct rb_refserver *s, const char *peer, void *user);
/* Feed bytes read from the peer. On error the connection is already marked closing
   with the reason; the caller only has to stop reading it. */
rb_err rb_refserver_conn_input(struct rb_refserver *s, struct rb_refserver_conn *c,
                               const uint8_t *buf, size_t len);
/* Mark c closing (first reason wins) and queue it; it is freed by the caller
   when rb_refserver_next_pending returns it. */
void rb_refserver_conn_close(struct rb_refserver *s, struct rb_refserver_conn *c, const char *why);
/* Next connection that has output to send or is closing, or NULL. Each connection
   appears at most once until it is returned. */
struct rb_refserver_conn *rb_refserver_next_pending(struct rb_refserver *s);
/* Detach c from its stream (an unpublish without deleteStream counts as abrupt)
   and free it. Other connections may become pending. */
void rb_refserver_conn_free(struct rb_refserver *s, struct rb_refserver_conn *c);

bool rb_refserver_conn_closing(const struct rb_refserver_conn *c);
const char *rb_refserver_conn_close_reason(const struct rb_refserver_conn *c);
struct rb_refserver_buf *rb_refserver_conn_output(struct rb_refserver_conn *c);
void *rb_refserver_conn_user(const struct rb_refserver_conn *c);
uint64_t rb_refserver_conn_id(const struct rb_refserver_conn *c);
size_t rb_refserver_conn_count(const struct rb_refserver *s);

/* --pull URL (harness/refserver_pull.c): relay rtmp://HOST:PORT/APP/STREAM from an
   origin into this server, listening at self_endpoint ("127.0.0.1:1935"), from a
   thread of its own; repull = false: after the origin is lost, never again. */
rb_err rb_refserver_pull_start(const char *url, const char *self_endpoint, bool repull, bool quiet, char *msg,
                               size_t msglen);

#endif
