/*
 * flv: the FLV container's framing, for a whole file (media = FILE.flv) and for a
 * stream that arrives in pieces (the HTTP-FLV player).
 *
 * Pure and bounded: the parsers read only inside the bytes they are given and trust
 * no size before checking it; the stream reader's buffer never grows past the limit
 * it was given, so a peer that announces a huge tag gets an error, not our memory.
 * What a tag means (AVC, AAC, onMetaData, rebound's SEI) is media's business.
 */
#ifndef REBOUND_FLV_H
#define REBOUND_FLV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rebound/error.h"

#define RB_FLV_HEADER_MIN 9          /* signature, version, flags, data offset */
#define RB_FLV_TAG_HEADER 11         /* type, size (24), timestamp (24+8), stream id (24) */
#define RB_FLV_TRAILER 4             /* PreviousTagSize after every tag */
#define RB_FLV_MAX_HEADER 1024       /* a larger data offset is not an FLV file we accept */

struct rb_flv_tag {
  uint8_t type;          /* 8 audio, 9 video, 18 script data (enum rb_media_type) */
  uint32_t timestamp_ms;
  const uint8_t *data;   /* the tag body, inside the caller's buffer */
  size_t len;
};

/* The file header at buf, with PreviousTagSize0. RB_OK with *used > 0 when it is
   complete, *used == 0 when more bytes are needed; RB_ERR_PROTOCOL when buf is not
   an FLV file. */
rb_err rb_flv_parse_header(const uint8_t *buf, size_t len, size_t *used, char *msg, size_t msglen);

/* One tag at buf and the PreviousTagSize after it. RB_OK with *used > 0 and *tag
   filled when it is complete, *used == 0 when more bytes are needed. final: no more
   bytes will follow (a file), so a missing last trailer is accepted. RB_ERR_PROTOCOL
   for a trailer that does not match or an encrypted tag. */
rb_err rb_flv_parse_tag(const uint8_t *buf, size_t len, bool final, struct rb_flv_tag *tag, size_t *used,
                        char *msg, size_t msglen);

/* Writing: the 13 bytes that start a stream (header with audio and video flags, and
   PreviousTagSize0), and the 11 bytes before / 4 after a tag body of len bytes. */
void rb_flv_write_header(uint8_t out[RB_FLV_HEADER_MIN + RB_FLV_TRAILER]);
void rb_flv_write_tag_header(uint8_t out[RB_FLV_TAG_HEADER], uint8_t type, uint32_t timestamp_ms, size_t len);
void rb_flv_write_trailer(uint8_t out[RB_FLV_TRAILER], size_t len);

/* Incremental reader of an FLV stream: push bytes as they arrive, then take tags. */
struct rb_flv_reader {
  size_t max;            /* the most bytes ever buffered (one tag must fit) */
  uint64_t tags;         /* tags returned so far */
  uint64_t offset;       /* stream offset of buf[0], for messages */
  /* private */
  uint8_t *buf;
  size_t len, off, cap;
  bool have_header;
};

void rb_flv_reader_init(struct rb_flv_reader *r, size_t max);
void rb_flv_reader_free(struct rb_flv_reader *r);

/* Append n bytes. RB_ERR_NOMEM when they would make the buffer exceed max (the
   peer announced a tag larger than we accept) or memory is short. */
rb_err rb_flv_reader_push(struct rb_flv_reader *r, const uint8_t *data, size_t n, char *msg, size_t msglen);

/* The next complete tag: RB_OK with *have set; the tag's data stays valid until the
   next push. RB_ERR_PROTOCOL for a stream that is not FLV; the reader must then be
   freed, not used again. */
rb_err rb_flv_reader_next(struct rb_flv_reader *r, struct rb_flv_tag *tag, bool *have, char *msg, size_t msglen);

#endif
