/*
 * hls: an HLS media playlist, and what a player learns from one poll to the next.
 *
 * Pure and bounded (no I/O): rb_hls_parse reads an M3U8 media playlist into a fixed
 * structure (the newest RB_HLS_MAX_SEGMENTS segments are kept), and rb_hls_track
 * compares it with what the player saw before, the way a live player does: which
 * segments are new, and whether the server went back in its media sequence. RFC 8216
 * says the media sequence never decreases; a server that restarts may start again
 * only if it says so with EXT-X-DISCONTINUITY (or a larger
 * EXT-X-DISCONTINUITY-SEQUENCE). A restart to a lower number without either is what
 * stalls real players (srs#3506, videojs/http-streaming#985): a reset.
 */
#ifndef REBOUND_HLS_H
#define REBOUND_HLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rebound/error.h"

#define RB_HLS_MAX_SEGMENTS 64
#define RB_HLS_MAX_URI 512
#define RB_HLS_MAX_PLAYLIST (256 * 1024)

struct rb_hls_segment {
  uint64_t seq;            /* media sequence number */
  double duration_s;       /* EXTINF */
  bool discontinuity;      /* EXT-X-DISCONTINUITY before it */
  char uri[RB_HLS_MAX_URI];
};

struct rb_hls_playlist {
  uint64_t media_sequence;        /* of the first segment listed (EXT-X-MEDIA-SEQUENCE, default 0) */
  uint64_t discontinuity_sequence;/* EXT-X-DISCONTINUITY-SEQUENCE, default 0 */
  double target_duration_s;       /* EXT-X-TARGETDURATION (required) */
  bool endlist;
  bool any_discontinuity;         /* some segment carries EXT-X-DISCONTINUITY */
  size_t nsegments;               /* kept: the newest ones, at most RB_HLS_MAX_SEGMENTS */
  struct rb_hls_segment segments[RB_HLS_MAX_SEGMENTS];
};

/* Parse text (NUL-terminated). RB_ERR_PROTOCOL with a reason for what no player
   could play: no #EXTM3U, a master playlist, no or a bad EXT-X-TARGETDURATION, a bad
   number, a URI longer than RB_HLS_MAX_URI. */
rb_err rb_hls_parse(const char *text, struct rb_hls_playlist *pl, char *msg, size_t msglen);

/* What one player has seen, across polls and reconnects. Zero it to start. */
struct rb_hls_tracker {
  bool have;
  uint64_t first_seq;       /* media sequence of the last playlist */
  uint64_t last_seq;        /* newest segment taken */
  uint64_t discontinuity_seq;
  uint64_t resets;          /* went back without a discontinuity: a failure */
  uint64_t restarts;        /* went back and said so: allowed */
};

enum rb_hls_change {
  RB_HLS_SAME,              /* the sequence goes on */
  RB_HLS_RESTART_SIGNALLED, /* went back, with EXT-X-DISCONTINUITY or a new discontinuity sequence */
  RB_HLS_RESET              /* went back without: players that track the sequence stall */
};

/* Judge pl against t and update t. *first_new is the index in pl->segments of the
   first segment to fetch (pl->nsegments: none); on the first playlist that is the
   newest one (a live player starts at the live edge). For RB_HLS_RESET, why gets
   the sentence for the report. */
enum rb_hls_change rb_hls_track(struct rb_hls_tracker *t, const struct rb_hls_playlist *pl, size_t *first_new,
                                char *why, size_t whylen);

/* How long a player waits before reloading: the target duration after a playlist
   that changed, half of it after one that did not (RFC 8216 6.3.4), in ns. */
int64_t rb_hls_reload_ns(const struct rb_hls_playlist *pl, bool changed);

#endif
