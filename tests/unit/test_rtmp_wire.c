/* Unit tests of rtmp_wire: chunk headers, the chunked writer, AMF0. */
#include "rebound/rtmp_wire.h"

#include <stdlib.h>
#include <string.h>

#include "rb_test.h"

/* Every proper prefix of a header asks for more bytes, never for fewer than it
   has, and the whole header parses to exactly its length. */
static void check_prefixes(const uint8_t *h, size_t len, bool fmt3_ext)
{
  struct rb_rtmp_chunk_header ch;
  size_t need;

  for(size_t n = 0; n < len; n++) {
    CU_ASSERT_EQUAL(rb_rtmp_chunk_header(h, n, fmt3_ext, &ch, &need), RB_RTMP_NEED_MORE);
    CU_ASSERT(need > n && need <= len);
  }
  CU_ASSERT_EQUAL(rb_rtmp_chunk_header(h, len, fmt3_ext, &ch, &need), RB_RTMP_PARSED);
  CU_ASSERT_EQUAL(need, len);
  CU_ASSERT_EQUAL(ch.len, len);
}

static void test_basic_header_forms(void)
{
  static const uint8_t one[] = { 0x03 }, two[] = { 0x40, 0x05 }, three[] = { 0x81, 0x10, 0x02 };
  struct rb_rtmp_chunk_header h;
  size_t need;

  CU_ASSERT_EQUAL(rb_rtmp_basic_header(one, 1, &h, &need), RB_RTMP_PARSED);
  CU_ASSERT_EQUAL(h.fmt, 0);
  CU_ASSERT_EQUAL(h.csid, 3);
  CU_ASSERT_EQUAL(h.basic_len, 1);
  CU_ASSERT_EQUAL(rb_rtmp_basic_header(two, 1, &h, &need), RB_RTMP_NEED_MORE);
  CU_ASSERT_EQUAL(need, 2);
  CU_ASSERT_EQUAL(rb_rtmp_basic_header(two, 2, &h, &need), RB_RTMP_PARSED);
  CU_ASSERT_EQUAL(h.fmt, 1);
  CU_ASSERT_EQUAL(h.csid, 64 + 5);
  CU_ASSERT_EQUAL(rb_rtmp_basic_header(three, 2, &h, &need), RB_RTMP_NEED_MORE);
  CU_ASSERT_EQUAL(need, 3);
  CU_ASSERT_EQUAL(rb_rtmp_basic_header(three, 3, &h, &need), RB_RTMP_PARSED);
  CU_ASSERT_EQUAL(h.fmt, 2);
  CU_ASSERT_EQUAL(h.csid, 64 + 0x10 + 256 * 2);
  CU_ASSERT_EQUAL(rb_rtmp_basic_header(NULL, 0, &h, &need), RB_RTMP_NEED_MORE);
  CU_ASSERT_EQUAL(need, 1);
}

static void test_message_headers(void)
{
  /* fmt 0, csid 4: ts 0x010203, length 0x000100, type 9, stream id 1 (LE) */
  static const uint8_t full[] = { 0x04, 1, 2, 3, 0, 1, 0, 9, 1, 0, 0, 0 };
  /* fmt 0 with an extended timestamp 0x12345678 */
  static const uint8_t ext[] = { 0x04, 0xff, 0xff, 0xff, 0, 0, 4, 20, 0, 0, 0, 0, 0x12, 0x34, 0x56, 0x78 };
  static const uint8_t fmt1[] = { 0x44, 0, 0, 40, 0, 0, 7, 8 };
  static const uint8_t fmt2[] = { 0x84, 0, 0, 40 };
  static const uint8_t fmt3[] = { 0xc4 };
  static const uint8_t fmt3_ext[] = { 0xc4, 0, 0, 0, 9 };
  struct rb_rtmp_chunk_header h;
  size_t need;

  check_prefixes(full, sizeof(full), false);
  rb_rtmp_chunk_header(full, sizeof(full), false, &h, &need);
  CU_ASSERT_EQUAL(h.timestamp, 0x010203);
  CU_ASSERT_EQUAL(h.length, 256);
  CU_ASSERT_EQUAL(h.type, 9);
  CU_ASSERT_EQUAL(h.stream_id, 1);
  CU_ASSERT_FALSE(h.extended);
  check_prefixes(ext, sizeof(ext), false);
  rb_rtmp_chunk_header(ext, sizeof(ext), false, &h, &need);
  CU_ASSERT_TRUE(h.extended);
  CU_ASSERT_EQUAL(h.timestamp, 0x12345678);
  CU_ASSERT_EQUAL(h.length, 4);
  check_prefixes(fmt1, sizeof(fmt1), false);
  rb_rtmp_chunk_header(fmt1, sizeof(fmt1), false, &h, &need);
  CU_ASSERT_EQUAL(h.timestamp, 40);
  CU_ASSERT_EQUAL(h.length, 7);
  CU_ASSERT_EQUAL(h.type, 8);
  CU_ASSERT_EQUAL(h.stream_id, 0);
  check_prefixes(fmt2, sizeof(fmt2), false);
  check_prefixes(fmt3, sizeof(fmt3), false);
  /* a fmt 3 chunk repeats the extended timestamp when its stream had one */
  check_prefixes(fmt3_ext, sizeof(fmt3_ext), true);
  rb_rtmp_chunk_header(fmt3_ext, sizeof(fmt3_ext), true, &h, &need);
  CU_ASSERT_EQUAL(h.timestamp, 9);
}

/* Read back what the writer wrote: headers, csid, payload, continuation chunks. */
static void check_roundtrip(uint32_t csid, uint32_t ts, uint32_t length, uint32_t chunk)
{
  uint8_t *data = malloc(length ? length : 1), *out, *back = malloc(length ? length : 1);
  struct rb_rtmp_message m = { csid, ts, length, 7, 9, data };
  size_t cap = rb_rtmp_chunk_bound(length, chunk), n, pos = 0, got = 0;
  uint32_t want_csid = csid < 2 || csid > RB_RTMP_MAX_CSID ? 3 : csid;
  int chunks = 0;

  for(uint32_t i = 0; i < length; i++)
    data[i] = (uint8_t)(i * 7 + 1);
  out = malloc(cap);
  CU_ASSERT_EQUAL(rb_rtmp_chunk_write(out, cap - 1, chunk, &m), 0); /* too small: nothing */
  n = rb_rtmp_chunk_write(out, cap, chunk, &m);
  CU_ASSERT_FATAL(n > 0 && n <= cap);
  while(pos < n) {
    struct rb_rtmp_chunk_header h;
    size_t need, take;

    CU_ASSERT_EQUAL_FATAL(rb_rtmp_chunk_header(out + pos, n - pos, ts >= 0xffffff, &h, &need),
                          RB_RTMP_PARSED);
    CU_ASSERT_EQUAL(h.fmt, chunks ? 3u : 0u);
    CU_ASSERT_EQUAL(h.csid, want_csid);
    CU_ASSERT_EQUAL(h.timestamp, chunks && ts < 0xffffff ? 0 : ts);
    if(!chunks) {
      CU_ASSERT_EQUAL(h.length, length);
      CU_ASSERT_EQUAL(h.stream_id, 7);
      CU_ASSERT_EQUAL(h.type, 9);
    }
    pos += h.len;
    take = length - got < chunk ? length - got : chunk;
    CU_ASSERT_FATAL(pos + take <= n);
    memcpy(back + got, out + pos, take);
    got += take;
    pos += take;
    chunks++;
  }
  CU_ASSERT_EQUAL(pos, n);
  CU_ASSERT_EQUAL(got, length);
  CU_ASSERT_EQUAL(memcmp(back, data, length), 0);
  CU_ASSERT_EQUAL(chunks, length ? (int)((length + chunk - 1) / chunk) : 1);
  free(out);
  free(back);
  free(data);
}

static void test_chunk_writer(void)
{
  uint8_t out[64];
  struct rb_rtmp_message big = { 3, 0, 0x1000000, 0, 9, NULL };

  check_roundtrip(3, 1000, 10000, 128);
  check_roundtrip(64, 0xffffff, 300, 128);        /* extended, 2-byte basic header */
  check_roundtrip(320, 0x7fffffff, 4097, 4096);   /* extended, 3-byte basic header */
  check_roundtrip(RB_RTMP_MAX_CSID, 5, 1, 1);
  check_roundtrip(70000, 5, 0, 128);              /* no such csid: written on 3; empty */
  CU_ASSERT_EQUAL(rb_rtmp_chunk_write(out, sizeof(out), 0, &big), 0);
  CU_ASSERT_EQUAL(rb_rtmp_chunk_write(out, sizeof(out), 128, &big), 0); /* > 24 bits */
  CU_ASSERT_EQUAL(rb_rtmp_chunk_bound(10, 0), 0);
}

/* An object nested depth deep: {"k":{"k":...{}}} */
static size_t nested(uint8_t *b, unsigned depth)
{
  size_t n = 0;

  for(unsigned i = 0; i < depth; i++) {
    if(i)
      b[n++] = 0, b[n++] = 1, b[n++] = 'k';
    b[n++] = 0x03;
  }
  for(unsigned i = 0; i < depth; i++)
    b[n++] = 0, b[n++] = 0, b[n++] = 0x09;
  return n;
}

static void test_amf_walker_bounds(void)
{
  static const struct rb_rtmp_amf_rules strict = { RB_RTMP_AMF_MAX_DEPTH, false };
  static const struct rb_rtmp_amf_rules shallow = { 2, true };
  static const uint8_t reference[] = { 0x07, 0x00, 0x01 };
  static const uint8_t typed[] = { 0x10, 0x00, 0x01, 'T', 0x00, 0x00, 0x09 };
  static const uint8_t huge_array[] = { 0x0a, 0xff, 0xff, 0xff, 0xff, 0x05, 0x05 };
  static const uint8_t long_string[] = { 0x0c, 0x00, 0x00, 0x00, 0x02, 'h', 'i' };
  static const uint8_t empty_key[] = { 0x03, 0x00, 0x00, 0x05, 0x00, 0x00, 0x09 };
  uint8_t b[1024];
  size_t n;
  struct rb_rtmp_amf_reader r;

  n = nested(b, RB_RTMP_AMF_MAX_DEPTH);
  CU_ASSERT_TRUE(rb_rtmp_amf_well_formed(b, n, &strict));
  n = nested(b, RB_RTMP_AMF_MAX_DEPTH + 1);
  CU_ASSERT_FALSE(rb_rtmp_amf_well_formed(b, n, &strict));
  r = (struct rb_rtmp_amf_reader){ b, n, 0 };
  CU_ASSERT_FALSE(rb_rtmp_amf_skip(&r));
  CU_ASSERT_EQUAL(r.pos, 0); /* a failed walk leaves the position */
  n = nested(b, 3);
  CU_ASSERT_FALSE(rb_rtmp_amf_well_formed(b, n, &shallow));
  n = nested(b, 2);
  CU_ASSERT_TRUE(rb_rtmp_amf_well_formed(b, n, &shallow));
  /* every proper prefix of a valid value is refused */
  n = nested(b, 5);
  for(size_t i = 1; i < n; i++)
    CU_ASSERT_FALSE(rb_rtmp_amf_well_formed(b, i, &strict));
  /* references and typed objects only when the rules allow them */
  CU_ASSERT_FALSE(rb_rtmp_amf_well_formed(reference, sizeof(reference), &strict));
  CU_ASSERT_TRUE(rb_rtmp_amf_well_formed(reference, sizeof(reference), NULL));
  CU_ASSERT_FALSE(rb_rtmp_amf_well_formed(typed, sizeof(typed), &strict));
  CU_ASSERT_TRUE(rb_rtmp_amf_well_formed(typed, sizeof(typed), NULL));
  /* lengths beyond the bytes */
  CU_ASSERT_FALSE(rb_rtmp_amf_well_formed(huge_array, sizeof(huge_array), NULL));
  CU_ASSERT_TRUE(rb_rtmp_amf_well_formed(long_string, sizeof(long_string), &strict));
  CU_ASSERT_FALSE(rb_rtmp_amf_well_formed(long_string, sizeof(long_string) - 1, &strict));
  CU_ASSERT_TRUE(rb_rtmp_amf_well_formed(empty_key, sizeof(empty_key), &strict));
  /* a sequence is whole values only; AMF3 and reserved markers are refused */
  CU_ASSERT_TRUE(rb_rtmp_amf_well_formed((const uint8_t *)"\x05\x06", 2, &strict));
  CU_ASSERT_FALSE(rb_rtmp_amf_well_formed((const uint8_t *)"\x05\x11", 2, NULL));
  CU_ASSERT_TRUE(rb_rtmp_amf_well_formed(b, 0, &strict));
}

static void test_amf_bomb_is_cheap(void)
{
  size_t depth = 100000, n = 0;
  uint8_t *b = malloc(1 + 3 * depth);

  CU_ASSERT_FATAL(b != NULL);
  b[n++] = 0x03;
  for(size_t i = 0; i < depth; i++)
    b[n++] = 0, b[n++] = 0, b[n++] = 0x03;
  CU_ASSERT_FALSE(rb_rtmp_amf_well_formed(b, n, NULL)); /* no recursion: no stack overflow */
  free(b);
}

static void test_status_encoders(void)
{
  uint8_t buf[512];
  struct rb_rtmp_amf_writer w = { buf, sizeof(buf), 0, false };
  struct rb_rtmp_amf_reader r;
  const char *s;
  size_t n;
  double v;
  char code[64];
  bool found;

  rb_rtmp_amf_put_status(&w, "onStatus", 0, "error", "NetStream.Publish.BadName", "busy");
  CU_ASSERT_FALSE_FATAL(w.overflow);
  r = (struct rb_rtmp_amf_reader){ buf, w.len, 0 };
  CU_ASSERT_TRUE(rb_rtmp_amf_get_string(&r, &s, &n));
  CU_ASSERT(n == 8 && !memcmp(s, "onStatus", 8));
  CU_ASSERT_TRUE(rb_rtmp_amf_get_number(&r, &v));
  CU_ASSERT_TRUE(rb_rtmp_amf_skip(&r)); /* null */
  CU_ASSERT_TRUE(rb_rtmp_amf_find_string(&r, "code", code, sizeof(code), &found));
  CU_ASSERT_TRUE(found);
  CU_ASSERT_STRING_EQUAL(code, "NetStream.Publish.BadName");
  CU_ASSERT_EQUAL(r.pos, w.len);
  w = (struct rb_rtmp_amf_writer){ buf, sizeof(buf), 0, false };
  rb_rtmp_amf_put_result(&w, 4, true, 1);
  r = (struct rb_rtmp_amf_reader){ buf, w.len, 0 };
  CU_ASSERT_TRUE(rb_rtmp_amf_get_string(&r, &s, &n));
  CU_ASSERT_TRUE(rb_rtmp_amf_get_number(&r, &v));
  CU_ASSERT_DOUBLE_EQUAL(v, 4, 0);
  CU_ASSERT_TRUE(rb_rtmp_amf_skip(&r));
  CU_ASSERT_TRUE(rb_rtmp_amf_get_number(&r, &v));
  CU_ASSERT_DOUBLE_EQUAL(v, 1, 0);
  CU_ASSERT_EQUAL(r.pos, w.len);
  /* overflow is sticky */
  w = (struct rb_rtmp_amf_writer){ buf, 10, 0, false };
  rb_rtmp_amf_put_status(&w, "onStatus", 0, "status", "x", "y");
  CU_ASSERT_TRUE(w.overflow);
}

int main(void)
{
  static const struct rb_test_case cases[] = {
    RB_TEST(test_basic_header_forms),
    RB_TEST(test_message_headers),
    RB_TEST(test_chunk_writer),
    RB_TEST(test_amf_walker_bounds),
    RB_TEST(test_amf_bomb_is_cheap),
    RB_TEST(test_status_encoders),
    RB_TEST_END
  };

  return rb_test_main("rtmp_wire", cases);
}
