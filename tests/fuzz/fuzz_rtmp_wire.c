/*
 * libFuzzer target: rtmp_wire, the bytes every RTMP reader of rebound trusts.
 * The input is read as chunk headers at every offset (with and without the
 * fmt 3 extended-timestamp state), as AMF0 under the client's strict rules and
 * the server's lenient ones, and as a message body that is written as chunks
 * and read back. Invariants are trapped: a parser never claims bytes it was not
 * given, NEED_MORE always asks for more than it has, a walk never moves past
 * the end, and a written message reads back whole.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rebound/rtmp_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void headers(const uint8_t *data, size_t size)
{
  for(size_t off = 0; off < size && off < 64; off++)
    for(int ext = 0; ext < 2; ext++) {
      struct rb_rtmp_chunk_header h;
      size_t need;

      if(rb_rtmp_chunk_header(data + off, size - off, ext, &h, &need) == RB_RTMP_NEED_MORE) {
        if(need <= size - off || need > RB_RTMP_MAX_CHUNK_HEADER)
          __builtin_trap();
      } else if(need != h.len || h.len > size - off || h.len > RB_RTMP_MAX_CHUNK_HEADER ||
                h.csid > RB_RTMP_MAX_CSID || h.fmt > 3) {
        __builtin_trap();
      }
    }
}

static void amf(const uint8_t *data, size_t size)
{
  static const struct rb_rtmp_amf_rules strict = { RB_RTMP_AMF_MAX_DEPTH, false };
  struct rb_rtmp_amf_reader r = { data, size, 0 };
  bool strict_ok = rb_rtmp_amf_well_formed(data, size, &strict);
  char out[16];
  bool found;

  /* what the strict rules take, the lenient ones take too */
  if(strict_ok && !rb_rtmp_amf_well_formed(data, size, NULL))
    __builtin_trap();
  while(r.pos < r.len && rb_rtmp_amf_skip(&r))
    ;
  if(r.pos > r.len)
    __builtin_trap();
  r.pos = 0;
  rb_rtmp_amf_find_string(&r, "code", out, sizeof(out), &found);
  if(r.pos > r.len || (found && strlen(out) >= sizeof(out)))
    __builtin_trap();
}

static void roundtrip(const uint8_t *data, size_t size)
{
  uint32_t chunk = size > 0 ? (uint32_t)data[0] + 1 : 128;
  uint32_t ts = size > 4 ? (uint32_t)data[1] << 24 | (uint32_t)data[2] << 16 | data[3] : 0;
  struct rb_rtmp_message m = { 3, ts, (uint32_t)size, 1, 9, data };
  size_t cap = rb_rtmp_chunk_bound(m.length, chunk), n, pos = 0, got = 0;
  uint8_t *out = malloc(cap);

  if(!out)
    return;
  n = rb_rtmp_chunk_write(out, cap, chunk, &m);
  if(n == 0 || n > cap)
    __builtin_trap();
  while(pos < n) {
    struct rb_rtmp_chunk_header h;
    size_t need, take = size - got < chunk ? size - got : chunk;

    if(rb_rtmp_chunk_header(out + pos, n - pos, ts >= 0xffffff, &h, &need) != RB_RTMP_PARSED ||
       pos + h.len + take > n || (take && memcmp(out + pos + h.len, data + got, take)))
      __builtin_trap();
    pos += h.len + take;
    got += take;
  }
  if(got != size)
    __builtin_trap();
  free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  headers(data, size);
  amf(data, size);
  roundtrip(data, size);
  return 0;
}
