/* Unit tests of the flv module: header and tag framing, and the stream reader fed
   the built-in clip in every split and one byte at a time, plus hostile input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rb_test.h"
#include "rebound/flv.h"
#include "rebound/media.h"

static void put_be(uint8_t *p, uint64_t v, unsigned n)
{
  for(unsigned i = n; i-- > 0; v >>= 8)
    p[i] = (uint8_t)v;
}

/* Count the clip's tags with the whole-buffer parser. */
static size_t count_clip_tags(void)
{
  const uint8_t *b = rb_media_clip_flv;
  size_t len = rb_media_clip_flv_len, off, used, n = 0;
  struct rb_flv_tag t;

  CU_ASSERT_EQUAL_FATAL(rb_flv_parse_header(b, len, &off, NULL, 0), RB_OK);
  CU_ASSERT_FATAL(off >= RB_FLV_HEADER_MIN + RB_FLV_TRAILER);
  while(off < len) {
    CU_ASSERT_EQUAL_FATAL(rb_flv_parse_tag(b + off, len - off, true, &t, &used, NULL, 0), RB_OK);
    CU_ASSERT_FATAL(used > 0);
    off += used;
    n++;
  }
  return n;
}

static void test_header(void)
{
  uint8_t h[13] = { 'F', 'L', 'V', 1, 5, 0, 0, 0, 9, 0, 0, 0, 0 };
  size_t used;
  char msg[160];

  for(size_t n = 0; n < sizeof(h); n++) {
    CU_ASSERT_EQUAL(rb_flv_parse_header(h, n, &used, NULL, 0), RB_OK);
    CU_ASSERT_EQUAL(used, 0); /* incomplete: more bytes needed */
  }
  CU_ASSERT_EQUAL(rb_flv_parse_header(h, sizeof(h), &used, NULL, 0), RB_OK);
  CU_ASSERT_EQUAL(used, 13);
  /* An HTML error page is refused on its first byte, not after a timeout. */
  CU_ASSERT_EQUAL(rb_flv_parse_header((const uint8_t *)"<", 1, &used, msg, sizeof(msg)), RB_ERR_PROTOCOL);
  CU_ASSERT_PTR_NOT_NULL(strstr(msg, "signature"));
  h[3] = 2;
  CU_ASSERT_EQUAL(rb_flv_parse_header(h, sizeof(h), &used, NULL, 0), RB_ERR_PROTOCOL);
  h[3] = 1;
  put_be(h + 5, 8, 4);
  CU_ASSERT_EQUAL(rb_flv_parse_header(h, sizeof(h), &used, NULL, 0), RB_ERR_PROTOCOL);
  put_be(h + 5, 0x7fffffff, 4);
  CU_ASSERT_EQUAL(rb_flv_parse_header(h, sizeof(h), &used, NULL, 0), RB_ERR_PROTOCOL);
}

static void test_tag(void)
{
  uint8_t t[11 + 3 + 4] = { 9, 0, 0, 3, 0x12, 0x34, 0x56, 0x01, 0, 0, 0, 0x17, 1, 0 };
  struct rb_flv_tag tag;
  size_t used;
  char msg[160];

  put_be(t + 14, 14, 4);
  for(size_t n = 0; n < sizeof(t); n++) {
    CU_ASSERT_EQUAL(rb_flv_parse_tag(t, n, false, &tag, &used, NULL, 0), RB_OK);
    CU_ASSERT_EQUAL(used, 0);
  }
  CU_ASSERT_EQUAL_FATAL(rb_flv_parse_tag(t, sizeof(t), false, &tag, &used, NULL, 0), RB_OK);
  CU_ASSERT_EQUAL(used, sizeof(t));
  CU_ASSERT_EQUAL(tag.type, 9);
  CU_ASSERT_EQUAL(tag.timestamp_ms, 0x01123456u); /* the extended byte is the top 8 bits */
  CU_ASSERT_EQUAL(tag.len, 3);
  CU_ASSERT_PTR_EQUAL(tag.data, t + 11);
  /* A file may end without the last trailer, a stream may not. */
  CU_ASSERT_EQUAL(rb_flv_parse_tag(t, 14, true, &tag, &used, NULL, 0), RB_OK);
  CU_ASSERT_EQUAL(used, 14);
  CU_ASSERT_EQUAL(rb_flv_parse_tag(t, 16, true, &tag, &used, msg, sizeof(msg)), RB_ERR_PROTOCOL);
  CU_ASSERT_EQUAL(rb_flv_parse_tag(t, 12, true, &tag, &used, msg, sizeof(msg)), RB_ERR_PROTOCOL);
  CU_ASSERT_PTR_NOT_NULL(strstr(msg, "runs past"));
  put_be(t + 14, 15, 4);
  CU_ASSERT_EQUAL(rb_flv_parse_tag(t, sizeof(t), false, &tag, &used, msg, sizeof(msg)), RB_ERR_PROTOCOL);
  CU_ASSERT_PTR_NOT_NULL(strstr(msg, "previous-tag-size"));
  put_be(t + 14, 14, 4);
  t[0] = 9 | 0x20;
  CU_ASSERT_EQUAL(rb_flv_parse_tag(t, sizeof(t), false, &tag, &used, msg, sizeof(msg)), RB_ERR_PROTOCOL);
  CU_ASSERT_PTR_NOT_NULL(strstr(msg, "encrypted"));
}

/* Feed the clip in pieces of `step` bytes; every tag comes out once, in order, with
   rebound's own parser agreeing on the count. */
static size_t read_in_steps(size_t step)
{
  struct rb_flv_reader r;
  struct rb_flv_tag t;
  size_t n = 0;
  bool have;

  rb_flv_reader_init(&r, 1u << 20);
  for(size_t off = 0; off < rb_media_clip_flv_len; off += step) {
    size_t k = rb_media_clip_flv_len - off < step ? rb_media_clip_flv_len - off : step;

    CU_ASSERT_EQUAL_FATAL(rb_flv_reader_push(&r, rb_media_clip_flv + off, k, NULL, 0), RB_OK);
    for(;;) {
      CU_ASSERT_EQUAL_FATAL(rb_flv_reader_next(&r, &t, &have, NULL, 0), RB_OK);
      if(!have)
        break;
      CU_ASSERT(t.type == 8 || t.type == 9 || t.type == 18);
      n++;
    }
  }
  CU_ASSERT(r.cap <= r.max);
  rb_flv_reader_free(&r);
  return n;
}

static void test_reader_splits(void)
{
  size_t want = count_clip_tags();

  CU_ASSERT_FATAL(want > 10);
  CU_ASSERT_EQUAL(read_in_steps(1), want);
  CU_ASSERT_EQUAL(read_in_steps(7), want);
  CU_ASSERT_EQUAL(read_in_steps(4096), want);
  CU_ASSERT_EQUAL(read_in_steps(rb_media_clip_flv_len), want);
}

/* The SEI the publisher writes survives the reader: the verifier counts it. */
static void test_reader_feeds_verifier(void)
{
  struct rb_media_source *s = NULL;
  struct rb_media_verifier v;
  struct rb_media_frame f;
  struct rb_flv_reader r;
  struct rb_flv_tag t;
  uint8_t hdr[13], th[11], tr[4];
  uint64_t seq = 0;
  bool video, have;

  CU_ASSERT_EQUAL_FATAL(rb_media_source_open(&s, NULL, NULL, 0), RB_OK);
  rb_flv_write_header(hdr);
  rb_media_verifier_init(&v);
  rb_flv_reader_init(&r, 1u << 20);
  CU_ASSERT_EQUAL(rb_flv_reader_push(&r, hdr, sizeof(hdr), NULL, 0), RB_OK);
  for(int i = 0; i < 200; i++) {
    CU_ASSERT_EQUAL_FATAL(rb_media_next(s, seq, 1000, &f, &video, NULL, 0), RB_OK);
    if(video)
      seq++;
    rb_flv_write_tag_header(th, f.type, f.timestamp_ms, f.len);
    rb_flv_write_trailer(tr, f.len);
    CU_ASSERT_EQUAL(rb_flv_reader_push(&r, th, sizeof(th), NULL, 0), RB_OK);
    CU_ASSERT_EQUAL(rb_flv_reader_push(&r, f.data, f.len, NULL, 0), RB_OK);
    CU_ASSERT_EQUAL(rb_flv_reader_push(&r, tr, sizeof(tr), NULL, 0), RB_OK);
    while(rb_flv_reader_next(&r, &t, &have, NULL, 0) == RB_OK && have) {
      struct rb_media_frame g = { t.type, t.timestamp_ms, t.data, t.len };

      rb_media_verifier_feed(&v, &g, 2000);
    }
  }
  CU_ASSERT(seq > 10);
  CU_ASSERT_EQUAL(v.received, seq);
  CU_ASSERT_EQUAL(v.gaps, 0);
  CU_ASSERT_EQUAL(v.duplicates, 0);
  rb_flv_reader_free(&r);
  rb_media_source_close(s);
}

/* A peer announcing a 16 MB tag gets an error once the buffer limit is reached. */
static void test_reader_bounded(void)
{
  uint8_t hdr[13] = { 'F', 'L', 'V', 1, 5, 0, 0, 0, 9, 0, 0, 0, 0 };
  uint8_t big[11] = { 9, 0xff, 0xff, 0xff };
  uint8_t zeros[4096] = { 0 };
  struct rb_flv_reader r;
  struct rb_flv_tag t;
  bool have;
  rb_err err = RB_OK;
  char msg[160];
  int pushes = 0;

  rb_flv_reader_init(&r, 64 * 1024);
  CU_ASSERT_EQUAL(rb_flv_reader_push(&r, hdr, sizeof(hdr), NULL, 0), RB_OK);
  CU_ASSERT_EQUAL(rb_flv_reader_push(&r, big, sizeof(big), NULL, 0), RB_OK);
  while(!err && pushes++ < 100) {
    CU_ASSERT_EQUAL(rb_flv_reader_next(&r, &t, &have, NULL, 0), RB_OK);
    CU_ASSERT(!have);
    err = rb_flv_reader_push(&r, zeros, sizeof(zeros), msg, sizeof(msg));
  }
  CU_ASSERT_EQUAL(err, RB_ERR_NOMEM);
  CU_ASSERT(pushes <= 17);
  CU_ASSERT(r.cap <= 64 * 1024);
  rb_flv_reader_free(&r);
  /* Not FLV at all: an error on the first bytes. */
  rb_flv_reader_init(&r, 64 * 1024);
  CU_ASSERT_EQUAL(rb_flv_reader_push(&r, (const uint8_t *)"<html>", 6, NULL, 0), RB_OK);
  CU_ASSERT_EQUAL(rb_flv_reader_next(&r, &t, &have, msg, sizeof(msg)), RB_ERR_PROTOCOL);
  rb_flv_reader_free(&r);
}

static const struct rb_test_case cases[] = {
  RB_TEST(test_header),
  RB_TEST(test_tag),
  RB_TEST(test_reader_splits),
  RB_TEST(test_reader_feeds_verifier),
  RB_TEST(test_reader_bounded),
  RB_TEST_END
};

int main(void)
{
  return rb_test_main("flv", cases);
}
