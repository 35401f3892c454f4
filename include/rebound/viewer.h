/*
 * viewer: the players that never speak RTMP, one session per call.
 *
 * An HTTP-FLV session is one endless GET whose body is cut into FLV tags as it
 * arrives (rb_flv_reader); an HLS session polls the media playlist the way a live
 * player does (the live edge first, then every new segment, reloading after the
 * target duration, or half of it when nothing changed), judges each playlist
 * against the last (rb_hls_track), and demuxes and decodes every new segment
 * (rb_mpegts_scan). Both hand each of rebound's SEI sequence numbers to the sink,
 * which feeds the same verifier as the RTMP players. Every step has a deadline
 * (connect, first byte, silence, whole GET), and the sink's stopping() aborts a
 * blocked transfer. Threads, reconnects and counters belong to the fleet.
 */
#ifndef REBOUND_VIEWER_H
#define REBOUND_VIEWER_H

#include <stdbool.h>
#include <stdint.h>

#include "rebound/error.h"
#include "rebound/hls.h"
#include "rebound/mpegts.h"

struct rb_viewer_sink {
  void *arg;
  bool (*stopping)(void *arg);
  void (*on_socket)(void *arg, int fd);          /* see rb_http_request */
  void (*on_sei)(void *arg, uint64_t seq, int64_t send_ns);
  /* HLS: one new segment was taken (first_send_ns: its first SEI's send time, 0 if none). */
  void (*on_segment)(void *arg, int64_t first_send_ns, const struct rb_mpegts_result *r);
  /* HLS: the next segment follows EXT-X-DISCONTINUITY: the numbers may jump there. */
  void (*on_discontinuity)(void *arg);
  /* HLS: the playlist went back (why: the reset's sentence). */
  void (*on_change)(void *arg, enum rb_hls_change change, const char *why);
  /* Sleep until deadline unless stopping; false when stopping. */
  bool (*wait_until)(void *arg, int64_t deadline);
};

/* Play url as HTTP-FLV until the stream ends or fails; never returns RB_OK. */
rb_err rb_viewer_flv_session(const char *url, int64_t step_timeout_ns, const struct rb_viewer_sink *sink,
                             char *msg, size_t msglen);

/* Poll the HLS media playlist url until a request fails; tracker carries what was
   seen across sessions. Never returns RB_OK. */
rb_err rb_viewer_hls_session(const char *url, int64_t step_timeout_ns, struct rb_hls_tracker *tracker,
                             const struct rb_viewer_sink *sink, char *msg, size_t msglen);

#endif
