/*
 * media: what publishers send and what players verify.
 *
 * The built-in source is a short H.264 + AAC clip (compiled into the binary) that
 * loops with rewritten, monotonic timestamps; `media = FILE.flv` loops a user's
 * file the same way. Every video frame gets an SEI NAL (user data unregistered,
 * rebound's UUID) carrying a sequence number and the monotonic send time, so a
 * player can count gaps and duplicates and measure end-to-end latency.
 */
#ifndef REBOUND_MEDIA_H
#define REBOUND_MEDIA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rebound/error.h"

enum rb_media_type {
  RB_MEDIA_AUDIO = 8, /* RTMP/FLV tag types */
  RB_MEDIA_VIDEO = 9,
  RB_MEDIA_DATA = 18
};

struct rb_media_frame {
  uint8_t type;          /* enum rb_media_type */
  uint32_t timestamp_ms; /* RTMP timestamp */
  const uint8_t *data;   /* FLV tag body (e.g. video: frame type/codec byte, AVC packet type, cts, NALs) */
  size_t len;
};

struct rb_media_source;

/* path NULL = the built-in clip. */
rb_err rb_media_source_open(struct rb_media_source **out, const char *path, char *msg, size_t msglen);
void rb_media_source_close(struct rb_media_source *s);

/* The frames to send right after Publish.Start: onMetaData (@setDataFrame),
   AVC and AAC sequence headers. Returns how many were written to frames (<= max).
   Valid until the source is closed. */
size_t rb_media_headers(struct rb_media_source *s, struct rb_media_frame *frames, size_t max);

/* The next frame in send order. Video frames carry an SEI with seq and send_ns
   (seq must be passed by the caller, one per video frame). Timestamps continue
   monotonically across loops of the clip. *is_video tells the caller whether seq
   was consumed. Data valid until the next call. */
rb_err rb_media_next(struct rb_media_source *s, uint64_t seq, int64_t send_ns,
                     struct rb_media_frame *frame, bool *is_video, char *msg, size_t msglen);

/* Restart timestamps at base_ms (for a new RTMP session after a reconnect). */
void rb_media_rebase(struct rb_media_source *s, uint32_t base_ms);

/* Find rebound's SEI in a video tag body; true with seq and send_ns if present. */
bool rb_media_parse_sei(const uint8_t *data, size_t len, uint64_t *seq, int64_t *send_ns);

#define RB_MEDIA_MAX_LATENCIES 4096

/* Play-side bookkeeping of one stream. */
struct rb_media_verifier {
  uint64_t received;             /* video frames with rebound's SEI */
  uint64_t gaps;                 /* missing sequence numbers, total */
  uint64_t duplicates;           /* repeated or out-of-order numbers */
  uint64_t lost_after_reconnect; /* missing numbers after the first frame following a reconnect */
  uint64_t last_seq;
  bool have_last;
  bool after_reconnect;          /* set by rb_media_verifier_mark_reconnect */
  bool reconnect_anchor;         /* first frame after the reconnect seen */
  size_t nlatencies;
  double latencies_ms[RB_MEDIA_MAX_LATENCIES]; /* ring of the most recent samples */
  size_t latency_next;
};

void rb_media_verifier_init(struct rb_media_verifier *v);
/* Feed one received frame (non-video and SEI-less frames are ignored). */
void rb_media_verifier_feed(struct rb_media_verifier *v, const struct rb_media_frame *f, int64_t now_ns);
/* The connection was re-established: the gap across the outage is counted in gaps,
   but from the first frame after now on, missing numbers count as lost_after_reconnect. */
void rb_media_verifier_mark_reconnect(struct rb_media_verifier *v);

#endif
