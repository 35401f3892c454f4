/*
 * libFuzzer target: a player's view of a received video tag. rb_media_parse_sei
 * must stay inside the bytes it is given whatever they contain, and the verifier
 * must take any sequence of frames.
 */
#include <stdint.h>
#include <stdlib.h>

#include "rebound/media.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static struct rb_media_verifier v; /* large: not on the stack */
  struct rb_media_frame f = { RB_MEDIA_VIDEO, 0, data, size };
  uint64_t seq;
  int64_t send_ns;
  /* A copy of exactly size bytes, so that ASan sees any read past the end. */
  uint8_t *copy = malloc(size ? size : 1);

  if(!copy)
    return 0;
  for(size_t i = 0; i < size; i++)
    copy[i] = data[i];
  f.data = copy;
  rb_media_parse_sei(copy, size, &seq, &send_ns);
  rb_media_verifier_init(&v);
  rb_media_verifier_feed(&v, &f, 0);
  rb_media_verifier_mark_reconnect(&v);
  rb_media_verifier_feed(&v, &f, INT64_MAX);
  rb_media_verifier_feed(&v, &f, INT64_MIN);
  free(copy);
  return 0;
}
