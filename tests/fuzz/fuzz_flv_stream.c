/*
 * libFuzzer target: what an HTTP-FLV server sends. The stream reader must stay
 * inside its bounded buffer and the bytes it is given, whatever they contain and
 * however they are split; every tag it returns lies inside the buffer.
 */
#include <stdint.h>
#include <stdlib.h>

#include "rebound/flv.h"
#include "rebound/media.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct rb_flv_reader r;
  size_t off = 0, step = size ? (size_t)data[0] % 97 + 1 : 1;

  rb_flv_reader_init(&r, 64 * 1024);
  while(off < size) {
    size_t n = size - off < step ? size - off : step;
    struct rb_flv_tag t;
    bool have;
    uint64_t seq;
    int64_t send_ns;

    if(rb_flv_reader_push(&r, data + off, n, NULL, 0))
      break;
    off += n;
    while(rb_flv_reader_next(&r, &t, &have, NULL, 0) == RB_OK && have)
      if(t.type == RB_MEDIA_VIDEO)
        rb_media_parse_sei(t.data, t.len, &seq, &send_ns);
  }
  rb_flv_reader_free(&r);
  return 0;
}
