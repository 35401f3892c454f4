/* Writing FLV files in unit tests (test_media, test_mpegts), with the flv module's
   own writer so the tests and rebound agree on the framing. */
#ifndef REBOUND_TEST_FLV_H
#define REBOUND_TEST_FLV_H

#include <stdio.h>

#include "rebound/flv.h"

static inline void rb_test_write_flv_tag(FILE *f, uint8_t type, uint32_t ts, const uint8_t *data, size_t len)
{
  uint8_t h[RB_FLV_TAG_HEADER], trailer[RB_FLV_TRAILER];

  rb_flv_write_tag_header(h, type, ts, len);
  rb_flv_write_trailer(trailer, len);
  fwrite(h, 1, sizeof(h), f);
  fwrite(data, 1, len, f);
  fwrite(trailer, 1, sizeof(trailer), f);
}

#endif
