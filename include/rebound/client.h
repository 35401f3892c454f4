/*
 * client: one RTMP session on librtmp, with a deadline on every step.
 *
 * librtmp alone can hang forever: RTMP_Connect0 does a blocking connect() with no
 * timeout, its per-recv timeout restarts on every byte (a peer that trickles bytes
 * keeps it alive forever), writes raise SIGPIPE, and RTMP_ConnectStream waits for
 * a Publish.Start that a rejecting server never sends. This module therefore:
 *  - makes the TCP connection itself (non-blocking connect + poll) and hands the
 *    socket to librtmp (RTMP_Connect1);
 *  - sets SO_RCVTIMEO/SO_SNDTIMEO and sends with MSG_NOSIGNAL semantics (SIGPIPE
 *    is also ignored process-wide by the programs);
 *  - arms a watchdog per step that shuts the socket down when the step's overall
 *    deadline passes, so even a trickling peer cannot stretch a step;
 *  - reads onStatus / _error itself and surfaces the code and description.
 *
 * A client is used by one thread at a time, except rb_client_abort(), which any
 * thread may call to make a blocked step return promptly.
 */
#ifndef REBOUND_CLIENT_H
#define REBOUND_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rebound/error.h"
#include "rebound/media.h"

struct rb_client;

struct rb_client_opts {
  const char *url;         /* librtmp URL of the *application*: rtmp://host:port/app
                              (rtmps://, rtmpt:// too), optionally followed by a space
                              and librtmp options ("live=1 conn=S:x") */
  int64_t step_timeout_ns; /* deadline for each network step (connect, handshake,
                              connect command, createStream, publish/play); 0 = 5s */
  bool keep_chunk_size;    /* a deliberate bug, for tests and keep_across_reconnect:
                              a reconnect keeps sending with the previous connection's
                              chunk size and never announces it (obs-studio#877). A
                              step that then fails returns RB_ERR_PROTOCOL saying so. */
};

/* Per-step durations of the last successful steps, in milliseconds (0 if not run). */
struct rb_client_timings {
  double tcp_ms;           /* TCP connect */
  double handshake_ms;     /* RTMP C0..S2 handshake */
  double connect_ms;       /* connect command -> _result */
  double create_stream_ms; /* createStream -> _result */
  double start_ms;         /* publish/play -> Publish.Start / Play.Start */
};

/* The last status the server sent (onStatus or _error), or the local reason. */
struct rb_client_status {
  char code[96];         /* "NetStream.Publish.BadName", "NetConnection.Connect.Rejected", ... */
  char description[256]; /* the server's description, made printable */
};

/* One command message from the server (_result, _error, onStatus, close, ...),
   decoded and checked. */
struct rb_client_command {
  char name[64];                  /* command name, made printable */
  double txn;                     /* transaction id; 0 if not a number */
  double number;                  /* the fourth value if a number (createStream's id), else 0 */
  bool has_info;                  /* an info object with a code was found */
  bool is_error;                  /* ... and its level was "error" */
  struct rb_client_status status; /* its code and description; empty without info */
};

/* Decode the body of a command message. amf3: an AMF3 command message (type 17),
   whose first byte is a format byte before the AMF0 values. The shape and the
   nesting depth are checked before anything is decoded, so any bytes are safe
   here; malformed input returns RB_ERR_PROTOCOL. The client decodes every
   command it receives with this (exposed for the fuzzers and unit tests). */
rb_err rb_client_parse_command(const uint8_t *body, size_t len, bool amf3,
                               struct rb_client_command *out, char *msg, size_t msglen);

rb_err rb_client_create(struct rb_client **out, const struct rb_client_opts *opts,
                        char *msg, size_t msglen);

/* TCP connect + handshake + NetConnection.connect to the app. Every connection
   starts from the protocol's defaults, whatever the previous one negotiated:
   chunk size 128 both ways until Set Chunk Size, no window acknowledgement size
   until the server sends one, no stream id until createStream. */
rb_err rb_client_connect(struct rb_client *c, char *msg, size_t msglen);

/* createStream alone (what `rebound probe` measures); rb_client_publish and
   rb_client_play call it themselves when it has not been done. */
rb_err rb_client_create_stream(struct rb_client *c, char *msg, size_t msglen);

/* createStream + publish(stream, "live"); returns once NetStream.Publish.Start
   arrives. A refusal returns RB_ERR_REJECTED with rb_client_last_status() set;
   msg then reads like "rejected: NetStream.Publish.BadName (Stream already publishing)". */
rb_err rb_client_publish(struct rb_client *c, const char *stream, char *msg, size_t msglen);

/* createStream + play(stream); returns once NetStream.Play.Start (or Play.Reset)
   arrives. Play.StreamNotFound / Failed -> RB_ERR_REJECTED. */
rb_err rb_client_play(struct rb_client *c, const char *stream, char *msg, size_t msglen);

/* Send one media message on the published stream (bounded by the step timeout). */
rb_err rb_client_write(struct rb_client *c, const struct rb_media_frame *frame,
                       char *msg, size_t msglen);

/* Receive the next audio/video/data message of the played stream, handling
   control and command messages in between; bounded by deadline (absolute
   monotonic ns). The frame's data stays valid until the next call on c.
   A status that ends the stream (Play.Stop, UnpublishNotify) returns RB_ERR_CLOSED. */
rb_err rb_client_read(struct rb_client *c, struct rb_media_frame *frame, int64_t deadline,
                      char *msg, size_t msglen);

/* Wait until the peer closes or resets the connection, or deadline passes,
   without sending anything (used by idle holders). RB_ERR_CLOSED when it did,
   RB_ERR_TIMEOUT when not. */
rb_err rb_client_wait_closed(struct rb_client *c, int64_t deadline);

/* From any thread: make a blocked step of c return promptly (shutdown(2)). */
void rb_client_abort(struct rb_client *c);

/* From any thread: the network under the current session died and the client
   knows it (as after a dropped Wi-Fi): the session's next step fails as closed,
   and the client may connect again (unlike after rb_client_abort). */
void rb_client_cut(struct rb_client *c);

/* Close. polite = true: librtmp's RTMP_Close (deleteStream etc.). polite = false:
   send nothing at all — drain what is readable, then close(2) — so a server side
   that closed first stays in FIN_WAIT2/TIME_WAIT instead of being reset. */
void rb_client_close(struct rb_client *c, bool polite);

/* Close (politely if still connected) and free. NULL is fine. */
void rb_client_destroy(struct rb_client *c);

const struct rb_client_status *rb_client_last_status(const struct rb_client *c);
const struct rb_client_timings *rb_client_last_timings(const struct rb_client *c);

/* The socket, or -1. */
int rb_client_fd(const struct rb_client *c);

/* The local TCP port of the current connection, or 0. */
uint16_t rb_client_local_port(const struct rb_client *c);

#endif
