/*
 * mpegts: what is inside one HLS segment, read with FFmpeg's libraries.
 *
 * libavformat demuxes the MPEG-TS (from memory: nothing touches the disk),
 * libavcodec decodes its H.264, and every access unit is searched for rebound's
 * SEI (rb_media_parse_sei_annexb). A segment "decodes" when the decoder produced
 * pictures and reported no error: a server that cuts segments in the wrong place
 * or mangles the stream across a restart shows up here, not only in the numbers.
 * Debian's FFmpeg is used rather than a demuxer of our own: it is the code real
 * players (ffplay, mpv, VLC's avformat path) run, and it is well kept.
 */
#ifndef REBOUND_MPEGTS_H
#define REBOUND_MPEGTS_H

#include <stddef.h>
#include <stdint.h>

#include "rebound/error.h"

struct rb_mpegts_result {
  unsigned video_packets;   /* H.264 access units demuxed */
  unsigned pictures;        /* pictures the decoder produced */
  unsigned decode_errors;   /* packets the decoder refused */
  unsigned seis;            /* rebound SEIs found */
};

typedef void (*rb_mpegts_sei_fn)(void *arg, uint64_t seq, int64_t send_ns);

/* Demux and decode len bytes of MPEG-TS; fn is called for every rebound SEI, in
   stream order. RB_ERR_PROTOCOL when the bytes are not MPEG-TS with H.264 in it. */
rb_err rb_mpegts_scan(const uint8_t *data, size_t len, rb_mpegts_sei_fn fn, void *arg,
                      struct rb_mpegts_result *res, char *msg, size_t msglen);

#endif
