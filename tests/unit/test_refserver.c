/*
 * Unit tests for the reference server's wire format and sessions, driven over
 * byte buffers (no sockets): the parser's limits, hostile input, and the
 * publish/play/relay behaviour including the RTMP-level fault switches.
 */
#include "../../harness/refserver_proto.c"
#include "../../harness/refserver_session.c"

#include "rb_test.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Helpers: building client bytes. */

static void put_message(struct rb_refserver_buf *b, uint32_t chunk, uint32_t csid, uint8_t type,
                        uint32_t sid, uint32_t ts, const void *data, uint32_t len)
{
  struct rb_refserver_message m = { csid, ts, len, sid, type, data };

  CU_ASSERT_EQUAL_FATAL(rb_refserver_write_message(b, chunk, &m), RB_OK);
}

/* Feed everything and collect the messages' types and lengths. */
struct collected {
  int count;
  uint8_t types[64];
  uint32_t lengths[64];
  uint32_t timestamps[64];
  uint8_t first_bytes[64];
};

static rb_err feed_all(struct rb_refserver_reader *r, const uint8_t *p, size_t n, size_t step,
                       struct collected *out)
{
  size_t pos = 0;

  memset(out, 0, sizeof(*out));
  while(pos < n) {
    struct rb_refserver_message m;
    bool have;
    size_t used, len = n - pos < step ? n - pos : step;
    char why[128];
    rb_err err = rb_refserver_reader_feed(r, p + pos, len, &used, &m, &have, why, sizeof(why));

    if(err)
      return err;
    pos += used;
    if(have && out->count < 64) {
      out->types[out->count] = m.type;
      out->lengths[out->count] = m.length;
      out->timestamps[out->count] = m.timestamp;
      out->first_bytes[out->count] = m.length ? m.data[0] : 0;
      out->count++;
    }
  }
  return RB_OK;
}

static void test_reader_single_message(void)
{
  /* fmt 0, csid 3, ts 1000, length 4, type 20, stream id 1 */
  static const uint8_t bytes[] = { 0x03, 0x00, 0x03, 0xe8, 0x00, 0x00, 0x04, 0x14,
                                   0x01, 0x00, 0x00, 0x00, 'a', 'b', 'c', 'd' };
  struct rb_refserver_reader r;
  struct rb_refserver_message m;
  size_t used;
  bool have;

  rb_refserver_reader_init(&r, NULL);
  CU_ASSERT_EQUAL(rb_refserver_reader_feed(&r, bytes, sizeof(bytes), &used, &m, &have, NULL, 0), RB_OK);
  CU_ASSERT_TRUE(have);
  CU_ASSERT_EQUAL(used, sizeof(bytes));
  CU_ASSERT_EQUAL(m.csid, 3);
  CU_ASSERT_EQUAL(m.timestamp, 1000);
  CU_ASSERT_EQUAL(m.length, 4);
  CU_ASSERT_EQUAL(m.type, 20);
  CU_ASSERT_EQUAL(m.stream_id, 1);
  CU_ASSERT_EQUAL(memcmp(m.data, "abcd", 4), 0);
  CU_ASSERT_EQUAL(r.bytes_in, sizeof(bytes));
  rb_refserver_reader_free(&r);
}

/* A 5000-byte message in 128-byte chunks (fmt 3 continuations), fed one byte at a
   time and all at once, arrives whole and intact. */
static void test_reader_multi_chunk_any_split(void)
{
  struct rb_refserver_buf b = { 0 };
  struct rb_refserver_reader r;
  struct collected got;
  uint8_t *payload = malloc(5000);
  size_t steps[] = { 1, 7, 128, 1000000 };

  for(int i = 0; i < 5000; i++)
    payload[i] = (uint8_t)(i * 7);
  put_message(&b, 128, 6, 9, 1, 40, payload, 5000);
  put_message(&b, 128, 4, 8, 1, 41, payload, 3);
  for(size_t s = 0; s < sizeof(steps) / sizeof(steps[0]); s++) {
    rb_refserver_reader_init(&r, NULL);
    CU_ASSERT_EQUAL(feed_all(&r, b.data, b.len, steps[s], &got), RB_OK);
    CU_ASSERT_EQUAL(got.count, 2);
    CU_ASSERT_EQUAL(got.types[0], 9);
    CU_ASSERT_EQUAL(got.lengths[0], 5000);
    CU_ASSERT_EQUAL(got.types[1], 8);
    CU_ASSERT_EQUAL(got.timestamps[1], 41);
    rb_refserver_reader_free(&r);
  }
  /* and the content survives the reassembly */
  {
    struct rb_refserver_message m;
    bool have;
    size_t used;
    rb_refserver_reader_init(&r, NULL);
    CU_ASSERT_EQUAL(rb_refserver_reader_feed(&r, b.data, b.len, &used, &m, &have, NULL, 0), RB_OK);
    CU_ASSERT_TRUE_FATAL(have);
    CU_ASSERT_EQUAL(memcmp(m.data, payload, 5000), 0);
    rb_refserver_reader_free(&r);
  }
  rb_refserver_buf_free(&b);
  free(payload);
}

/* Set Chunk Size from the peer applies to the chunks after it. */
static void test_reader_chunk_size_change(void)
{
  struct rb_refserver_buf b = { 0 };
  struct rb_refserver_reader r;
  struct collected got;
  uint8_t size[4] = { 0, 0, 0x10, 0 }; /* 4096 */
  uint8_t payload[3000] = { 1 };

  put_message(&b, 128, 2, 1, 0, 0, size, 4);
  put_message(&b, 4096, 6, 9, 1, 0, payload, sizeof(payload)); /* a single chunk */
  rb_refserver_reader_init(&r, NULL);
  CU_ASSERT_EQUAL(feed_all(&r, b.data, b.len, 100, &got), RB_OK);
  CU_ASSERT_EQUAL(r.chunk_size, 4096);
  CU_ASSERT_EQUAL(got.count, 2);
  CU_ASSERT_EQUAL(got.lengths[1], 3000);
  rb_refserver_reader_free(&r);

  /* read with the old size, the same bytes are a protocol error or a wrong split:
     proves the test depends on the size change being applied */
  rb_refserver_reader_init(&r, NULL);
  r.chunk_size = 128;
  {
    struct collected other;
    rb_err err = feed_all(&r, b.data + 16, b.len - 16, 100, &other);
    CU_ASSERT_TRUE(err != RB_OK || other.count != 1 || other.lengths[0] != 3000);
  }
  rb_refserver_reader_free(&r);
  rb_refserver_buf_free(&b);
}

static void test_reader_rejects_bad_chunk_size(void)
{
  uint32_t bad[] = { 0, RB_REFSERVER_MAX_CHUNK_SIZE + 1 };

  for(size_t i = 0; i < 2; i++) {
    struct rb_refserver_buf b = { 0 };
    struct rb_refserver_reader r;
    struct collected got;
    uint8_t v[4] = { (uint8_t)(bad[i] >> 24), (uint8_t)(bad[i] >> 16), (uint8_t)(bad[i] >> 8),
                     (uint8_t)bad[i] };

    put_message(&b, 128, 2, 1, 0, 0, v, 4);
    rb_refserver_reader_init(&r, NULL);
    CU_ASSERT_EQUAL(feed_all(&r, b.data, b.len, b.len, &got), RB_ERR_PROTOCOL);
    CU_ASSERT_EQUAL(r.chunk_size, 128);
    rb_refserver_reader_free(&r);
    rb_refserver_buf_free(&b);
  }
}

/* A header announcing 16 MiB - 1 is refused before any payload is buffered. */
static void test_reader_rejects_huge_message(void)
{
  static const uint8_t bytes[] = { 0x06, 0, 0, 0, 0xff, 0xff, 0xff, 0x09, 1, 0, 0, 0, 0x17 };
  struct rb_refserver_budget budget = { 0, 1 << 30 };
  struct rb_refserver_reader r;
  struct rb_refserver_message m;
  size_t used;
  bool have;
  char why[128] = "";

  rb_refserver_reader_init(&r, &budget);
  CU_ASSERT_EQUAL(rb_refserver_reader_feed(&r, bytes, sizeof(bytes), &used, &m, &have, why,
                                           sizeof(why)), RB_ERR_NOMEM);
  CU_ASSERT_FALSE(have);
  CU_ASSERT_EQUAL(budget.used, 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(why, "exceeds the limit"));
  rb_refserver_reader_free(&r);
}

/* Payload memory grows with what arrives and is charged to the shared budget. */
static void test_reader_budget_limits_memory(void)
{
  struct rb_refserver_budget budget = { 0, 16384 };
  struct rb_refserver_buf b = { 0 };
  struct rb_refserver_reader r;
  struct collected got;
  uint8_t *big = calloc(1, 100000);

  put_message(&b, 128, 6, 9, 1, 0, big, 100000);
  rb_refserver_reader_init(&r, &budget);
  CU_ASSERT_EQUAL(feed_all(&r, b.data, b.len, 4096, &got), RB_ERR_NOMEM);
  CU_ASSERT_TRUE(budget.used <= budget.max);
  rb_refserver_reader_free(&r);
  CU_ASSERT_EQUAL(budget.used, 0);
  rb_refserver_buf_free(&b);
  free(big);
}

static void test_reader_rejects_too_many_chunk_streams(void)
{
  struct rb_refserver_buf b = { 0 };
  struct rb_refserver_reader r;
  struct collected got;
  uint8_t x = 0;

  for(uint32_t cs = 3; cs < 3 + RB_REFSERVER_MAX_CHUNK_STREAMS + 1; cs++)
    put_message(&b, 128, cs, 9, 1, 0, &x, 1);
  rb_refserver_reader_init(&r, NULL);
  CU_ASSERT_EQUAL(feed_all(&r, b.data, b.len, b.len, &got), RB_ERR_NOMEM);
  CU_ASSERT_EQUAL(r.nstreams, RB_REFSERVER_MAX_CHUNK_STREAMS);
  rb_refserver_reader_free(&r);
  rb_refserver_buf_free(&b);
}

static void test_reader_rejects_headers_without_context(void)
{
  static const uint8_t fmt1_first[] = { 0x43, 0, 0, 0, 0, 0, 4, 0x14, 'a', 'b', 'c', 'd' };
  static const uint8_t fmt3_first[] = { 0xc3, 'a' };
  /* fmt 0 of 300 bytes, then (after one 128-byte chunk) a fmt 0 on the same csid */
  uint8_t interrupted[12 + 128 + 12];
  struct rb_refserver_reader r;
  struct collected got;

  rb_refserver_reader_init(&r, NULL);
  CU_ASSERT_EQUAL(feed_all(&r, fmt1_first, sizeof(fmt1_first), 64, &got), RB_ERR_PROTOCOL);
  rb_refserver_reader_free(&r);
  rb_refserver_reader_init(&r, NULL);
  CU_ASSERT_EQUAL(feed_all(&r, fmt3_first, sizeof(fmt3_first), 64, &got), RB_ERR_PROTOCOL);
  rb_refserver_reader_free(&r);

  memset(interrupted, 0, sizeof(interrupted));
  memcpy(interrupted, (const uint8_t[]){ 0x03, 0, 0, 0, 0, 0x01, 0x2c, 0x14, 0, 0, 0, 0 }, 12);
  memcpy(interrupted + 140, (const uint8_t[]){ 0x03, 0, 0, 0, 0, 0, 4, 0x14, 0, 0, 0, 0 }, 12);
  rb_refserver_reader_init(&r, NULL);
  CU_ASSERT_EQUAL(feed_all(&r, interrupted, sizeof(interrupted), 64, &got), RB_ERR_PROTOCOL);
  rb_refserver_reader_free(&r);
}

/* Extended timestamps, including on fmt 3 continuation chunks, and the three
   csid encodings round-trip through writer and reader. */
static void test_writer_reader_round_trip(void)
{
  uint32_t csids[] = { 3, 63, 64, 319, 320, 65599 };
  uint8_t payload[300];

  memset(payload, 0xab, sizeof(payload));
  for(size_t i = 0; i < sizeof(csids) / sizeof(csids[0]); i++) {
    struct rb_refserver_buf b = { 0 };
    struct rb_refserver_reader r;
    struct rb_refserver_message m;
    size_t used;
    bool have;

    put_message(&b, 128, csids[i], 9, 7, 0x01000000u + (uint32_t)i, payload, sizeof(payload));
    rb_refserver_reader_init(&r, NULL);
    CU_ASSERT_EQUAL(rb_refserver_reader_feed(&r, b.data, b.len, &used, &m, &have, NULL, 0), RB_OK);
    CU_ASSERT_TRUE_FATAL(have);
    CU_ASSERT_EQUAL(used, b.len);
    CU_ASSERT_EQUAL(m.csid, csids[i]);
    CU_ASSERT_EQUAL(m.timestamp, 0x01000000u + i);
    CU_ASSERT_EQUAL(m.stream_id, 7);
    CU_ASSERT_EQUAL(m.length, sizeof(payload));
    CU_ASSERT_EQUAL(memcmp(m.data, payload, sizeof(payload)), 0);
    rb_refserver_reader_free(&r);
    rb_refserver_buf_free(&b);
  }
}

static void test_buf_limit(void)
{
  struct rb_refserver_buf b = { .limit = 100 };
  uint8_t x[60] = { 0 };
  struct rb_refserver_message m = { 3, 0, 200, 0, 20, NULL };
  uint8_t big[200] = { 0 };

  CU_ASSERT_EQUAL(rb_refserver_buf_append(&b, x, 60), RB_OK);
  CU_ASSERT_EQUAL(rb_refserver_buf_append(&b, x, 60), RB_ERR_NOMEM);
  CU_ASSERT_EQUAL(rb_refserver_buf_pending(&b), 60);
  rb_refserver_buf_consume(&b, 50);
  CU_ASSERT_EQUAL(rb_refserver_buf_append(&b, x, 60), RB_OK);
  CU_ASSERT_EQUAL(rb_refserver_buf_pending(&b), 70);
  m.data = big;
  CU_ASSERT_EQUAL(rb_refserver_write_message(&b, 128, &m), RB_ERR_NOMEM);
  CU_ASSERT_EQUAL(rb_refserver_buf_pending(&b), 70); /* all or nothing */
  rb_refserver_buf_free(&b);
}

/* AMF. */

static void test_amf_read_write(void)
{
  uint8_t buf[256];
  struct rb_rtmp_amf_writer w = { buf, sizeof(buf), 0, false };
  struct rb_rtmp_amf_reader r;
  const char *s;
  size_t n;
  double v;
  char app[16];
  bool found;

  rb_rtmp_amf_put_string(&w, "connect");
  rb_rtmp_amf_put_number(&w, 1.0);
  rb_rtmp_amf_put_object_start(&w);
  rb_rtmp_amf_put_key(&w, "flashVer");
  rb_rtmp_amf_put_string(&w, "LNX 9,0,124,2");
  rb_rtmp_amf_put_key(&w, "nested");
  rb_rtmp_amf_put_object_start(&w);
  rb_rtmp_amf_put_key(&w, "app");
  rb_rtmp_amf_put_string(&w, "wrong");
  rb_rtmp_amf_put_object_end(&w);
  rb_rtmp_amf_put_key(&w, "app");
  rb_rtmp_amf_put_string(&w, "live-with-a-long-name");
  rb_rtmp_amf_put_object_end(&w);
  rb_rtmp_amf_put_null(&w);
  CU_ASSERT_FALSE_FATAL(w.overflow);
  r = (struct rb_rtmp_amf_reader){ buf, w.len, 0 };
  CU_ASSERT_TRUE(rb_rtmp_amf_get_string(&r, &s, &n));
  CU_ASSERT_EQUAL(n, 7);
  CU_ASSERT_TRUE(rb_rtmp_amf_get_number(&r, &v));
  CU_ASSERT_DOUBLE_EQUAL(v, 1.0, 0.0);
  CU_ASSERT_TRUE(rb_rtmp_amf_find_string(&r, "app", app, sizeof(app), &found));
  CU_ASSERT_TRUE(found);
  CU_ASSERT_STRING_EQUAL(app, "live-with-a-lon"); /* truncated to the buffer */
  CU_ASSERT_TRUE(rb_rtmp_amf_skip(&r));
  CU_ASSERT_EQUAL(r.pos, w.len);

  /* the writer refuses to overflow */
  w = (struct rb_rtmp_amf_writer){ buf, 4, 0, false };
  rb_rtmp_amf_put_string(&w, "too long");
  CU_ASSERT_TRUE(w.overflow);
}

static void test_amf_hostile_input(void)
{
  uint8_t deep[2 + 3 * 1000];
  static const uint8_t huge_array[] = { 0x0a, 0xff, 0xff, 0xff, 0xff, 0x05, 0x05 };
  static const uint8_t short_string[] = { 0x02, 0x00, 0x10, 'a' };
  static const uint8_t amf3[] = { 0x11, 0x06 };
  static const uint8_t no_end[] = { 0x03, 0x00, 0x01, 'a', 0x05 };
  struct rb_rtmp_amf_reader r;
  const char *s;
  size_t n;
  double v;
  bool found;
  char out[8];

  /* objects nested far beyond the limit: refused, no stack overflow */
  deep[0] = 0x03;
  for(int i = 0; i < 999; i++) {
    deep[1 + 3 * i] = 0;
    deep[2 + 3 * i] = 1;
    deep[3 + 3 * i] = 'k';
    deep[4 + 3 * i] = 0x03;
  }
  r = (struct rb_rtmp_amf_reader){ deep, sizeof(deep), 0 };
  CU_ASSERT_FALSE(rb_rtmp_amf_skip(&r));
  CU_ASSERT_EQUAL(r.pos, 0);
  r = (struct rb_rtmp_amf_reader){ huge_array, sizeof(huge_array), 0 };
  CU_ASSERT_FALSE(rb_rtmp_amf_skip(&r));
  r = (struct rb_rtmp_amf_reader){ short_string, sizeof(short_string), 0 };
  CU_ASSERT_FALSE(rb_rtmp_amf_get_string(&r, &s, &n));
  CU_ASSERT_FALSE(rb_rtmp_amf_skip(&r));
  CU_ASSERT_FALSE(rb_rtmp_amf_get_number(&r, &v));
  r = (struct rb_rtmp_amf_reader){ amf3, sizeof(amf3), 0 };
  CU_ASSERT_FALSE(rb_rtmp_amf_skip(&r));
  r = (struct rb_rtmp_amf_reader){ no_end, sizeof(no_end), 0 };
  CU_ASSERT_FALSE(rb_rtmp_amf_find_string(&r, "a", out, sizeof(out), &found));
  CU_ASSERT_FALSE(found);
}

/* Sessions: a fake client over byte buffers. */

static int64_t fake_now;
static int64_t fake_clock(void)
{
  return fake_now;
}

struct peer {
  struct rb_refserver_conn *c;
  struct rb_refserver_reader rd;
  size_t handshake_left;
  char log[4096];      /* onStatus codes, "_result", and media as V/A/D, in order */
  int video, audio;
  char first_data_name[32];
};

static void peer_log(struct peer *p, const char *what)
{
  size_t n = strlen(p->log);

  snprintf(p->log + n, sizeof(p->log) - n, "%s%s", n ? " " : "", what);
}

static void peer_on_message(struct peer *p, const struct rb_refserver_message *m)
{
  struct rb_rtmp_amf_reader r = { m->data, m->length, 0 };
  const char *s;
  size_t n;
  char name[64], code[96];
  bool found;
  double txn;

  if(m->type == 9) {
    peer_log(p, "V");
    p->video++;
  } else if(m->type == 8) {
    peer_log(p, "A");
    p->audio++;
  } else if(m->type == 18 && rb_rtmp_amf_get_string(&r, &s, &n)) {
    snprintf(name, sizeof(name), "D:%.*s", (int)(n < 40 ? n : 40), s);
    peer_log(p, name);
  } else if(m->type == 20 && rb_rtmp_amf_get_string(&r, &s, &n)) {
    snprintf(name, sizeof(name), "%.*s", (int)(n < 40 ? n : 40), s);
    if(strcmp(name, "onStatus") == 0 && rb_rtmp_amf_get_number(&r, &txn)
       && rb_rtmp_amf_skip(&r) && rb_rtmp_amf_find_string(&r, "code", code, sizeof(code), &found)
       && found)
      peer_log(p, code);
    else
      peer_log(p, name);
  }
}

/* Read everything the server queued for this peer. */
static void peer_pump(struct peer *p)
{
  struct rb_refserver_buf *out = rb_refserver_conn_output(p->c);

  while(rb_refserver_buf_pending(out) > 0) {
    const uint8_t *d = out->data + out->off;
    size_t len = rb_refserver_buf_pending(out), used;

    if(p->handshake_left) {
      used = len < p->handshake_left ? len : p->handshake_left;
      p->handshake_left -= used;
    } else {
      struct rb_refserver_message m;
      bool have;

      CU_ASSERT_EQUAL_FATAL(rb_refserver_reader_feed(&p->rd, d, len, &used, &m, &have, NULL, 0), RB_OK);
      if(have)
        peer_on_message(p, &m);
    }
    rb_refserver_buf_consume(out, used);
  }
}

static void peer_send(struct rb_refserver *s, struct peer *p, const struct rb_refserver_buf *b)
{
  rb_refserver_conn_input(s, p->c, b->data + b->off, rb_refserver_buf_pending(b));
  peer_pump(p);
}

static void amf_message(struct rb_refserver_buf *b, uint32_t sid, const char *cmd, double txn,
                        const char *arg)
{
  uint8_t buf[512];
  struct rb_rtmp_amf_writer w = { buf, sizeof(buf), 0, false };

  rb_rtmp_amf_put_string(&w, cmd);
  rb_rtmp_amf_put_number(&w, txn);
  if(strcmp(cmd, "connect") == 0) {
    rb_rtmp_amf_put_object_start(&w);
    rb_rtmp_amf_put_key(&w, "app");
    rb_rtmp_amf_put_string(&w, arg);
    rb_rtmp_amf_put_key(&w, "tcUrl");
    rb_rtmp_amf_put_string(&w, "rtmp://127.0.0.1/live");
    rb_rtmp_amf_put_object_end(&w);
  } else {
    rb_rtmp_amf_put_null(&w);
    if(arg)
      rb_rtmp_amf_put_string(&w, arg);
  }
  put_message(b, 128, 3, 20, sid, 0, buf, (uint32_t)w.len);
}

static void peer_open(struct rb_refserver *s, struct peer *p)
{
  struct rb_refserver_buf b = { 0 };
  uint8_t hs[1 + 1536 + 1536];

  memset(p, 0, sizeof(*p));
  p->c = rb_refserver_conn_new(s, "test", p);
  CU_ASSERT_PTR_NOT_NULL_FATAL(p->c);
  rb_refserver_reader_init(&p->rd, NULL);
  p->handshake_left = 1 + 2 * 1536;
  memset(hs, 0x5a, sizeof(hs));
  hs[0] = 3;
  rb_refserver_buf_append(&b, hs, sizeof(hs));
  amf_message(&b, 0, "connect", 1, "live");
  amf_message(&b, 0, "createStream", 2, NULL);
  peer_send(s, p, &b);
  rb_refserver_buf_free(&b);
  CU_ASSERT_EQUAL(p->handshake_left, 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(p->log, "_result"));
  CU_ASSERT_FALSE(rb_refserver_conn_closing(p->c));
}

static void peer_command(struct rb_refserver *s, struct peer *p, const char *cmd, const char *arg)
{
  struct rb_refserver_buf b = { 0 };

  amf_message(&b, 1, cmd, 0, arg);
  peer_send(s, p, &b);
  rb_refserver_buf_free(&b);
}

static void peer_media(struct rb_refserver *s, struct peer *p, uint8_t type, uint32_t ts,
                       const uint8_t *data, uint32_t len)
{
  struct rb_refserver_buf b = { 0 };

  put_message(&b, 128, type == 8 ? 4 : type == 9 ? 6 : 5, type, 1, ts, data, len);
  peer_send(s, p, &b);
  rb_refserver_buf_free(&b);
}

static void peer_close(struct rb_refserver *s, struct peer *p)
{
  rb_refserver_conn_free(s, p->c);
  rb_refserver_reader_free(&p->rd);
  p->c = NULL;
}

/* Drain the pending queue as the event loop would, so queued peers are not
   left referencing freed ones. */
static void drain(struct rb_refserver *s)
{
  while(rb_refserver_next_pending(s))
    ;
}

static const uint8_t avc_header[] = { 0x17, 0x00, 0, 0, 0, 0x01, 0x42, 0xc0, 0x1e };
static const uint8_t aac_header[] = { 0xaf, 0x00, 0x12, 0x10 };
static const uint8_t keyframe[] = { 0x17, 0x01, 0, 0, 0, 0xaa };
static const uint8_t interframe[] = { 0x27, 0x01, 0, 0, 0, 0xbb };
static const uint8_t aac_frame[] = { 0xaf, 0x01, 0x21 };

static void publish_headers(struct rb_refserver *s, struct peer *p)
{
  uint8_t meta[128];
  struct rb_rtmp_amf_writer w = { meta, sizeof(meta), 0, false };

  rb_rtmp_amf_put_string(&w, "@setDataFrame");
  rb_rtmp_amf_put_string(&w, "onMetaData");
  rb_rtmp_amf_put_object_start(&w);
  rb_rtmp_amf_put_key(&w, "width");
  rb_rtmp_amf_put_number(&w, 160);
  rb_rtmp_amf_put_object_end(&w);
  peer_media(s, p, 18, 0, meta, (uint32_t)w.len);
  peer_media(s, p, 9, 0, avc_header, sizeof(avc_header));
  peer_media(s, p, 8, 0, aac_header, sizeof(aac_header));
}

static void test_session_publish_play_relay(void)
{
  struct rb_refserver_config cfg = { 0 };
  struct rb_refserver *s = rb_refserver_new(&cfg);
  struct peer pub, early, late;

  peer_open(s, &pub);
  peer_command(s, &pub, "releaseStream", "cam");
  peer_command(s, &pub, "FCPublish", "cam");
  peer_command(s, &pub, "publish", "cam?token=1");
  CU_ASSERT_PTR_NOT_NULL(strstr(pub.log, "NetStream.Publish.Start"));
  peer_open(s, &early);
  peer_command(s, &early, "play", "cam");
  CU_ASSERT_PTR_NOT_NULL(strstr(early.log, "NetStream.Play.Reset NetStream.Play.Start"));
  publish_headers(s, &pub);
  peer_media(s, &pub, 9, 40, interframe, sizeof(interframe)); /* dropped: no keyframe yet */
  peer_media(s, &pub, 8, 40, aac_frame, sizeof(aac_frame));
  peer_media(s, &pub, 9, 80, keyframe, sizeof(keyframe));
  peer_media(s, &pub, 9, 120, interframe, sizeof(interframe));
  peer_pump(&early);
  CU_ASSERT_PTR_NOT_NULL(strstr(early.log, "D:onMetaData V A A V V"));

  /* a late player gets metadata (without @setDataFrame) and both sequence headers
     first, then waits for a keyframe */
  peer_open(s, &late);
  peer_command(s, &late, "play", "cam");
  CU_ASSERT_PTR_NOT_NULL(strstr(late.log, "NetStream.Play.Start D:|RtmpSampleAccess D:onMetaData V A"));
  peer_media(s, &pub, 9, 160, interframe, sizeof(interframe));
  peer_media(s, &pub, 9, 200, keyframe, sizeof(keyframe));
  peer_pump(&early);
  peer_pump(&late);
  CU_ASSERT_EQUAL(late.video, 2); /* header + the keyframe */
  CU_ASSERT_EQUAL(early.video, 5);

  /* graceful unpublish: players are told, the name is free at once */
  peer_command(s, &pub, "FCUnpublish", "cam");
  peer_pump(&early);
  CU_ASSERT_PTR_NOT_NULL(strstr(early.log, "NetStream.Play.UnpublishNotify"));
  peer_close(s, &pub);
  peer_open(s, &pub);
  peer_command(s, &pub, "publish", "cam");
  CU_ASSERT_PTR_NOT_NULL(strstr(pub.log, "NetStream.Publish.Start"));
  peer_pump(&late);
  CU_ASSERT_PTR_NOT_NULL(strstr(late.log, "NetStream.Play.PublishNotify"));

  /* a second publisher on the same name is refused */
  {
    struct peer twin;
    peer_open(s, &twin);
    peer_command(s, &twin, "publish", "cam");
    CU_ASSERT_PTR_NOT_NULL(strstr(twin.log, "NetStream.Publish.BadName"));
    CU_ASSERT_PTR_NULL(strstr(twin.log, "NetStream.Publish.Start"));
    peer_close(s, &twin);
  }
  /* the publisher's socket ends without deleteStream: players are told too */
  peer_close(s, &pub);
  peer_pump(&late);
  CU_ASSERT_PTR_NOT_NULL(strstr(late.log, "NetStream.Play.UnpublishNotify"));
  drain(s);
  peer_close(s, &early);
  peer_close(s, &late);
  CU_ASSERT_EQUAL(rb_refserver_conn_count(s), 0);
  CU_ASSERT_PTR_NULL(s->streams);
  CU_ASSERT_EQUAL(s->budget.used, 0);
  rb_refserver_free(s);
}

static void test_session_reject_publish(void)
{
  struct rb_refserver_config cfg = { .reject_publish_code = "NetStream.Publish.Rejected" };
  struct rb_refserver *s = rb_refserver_new(&cfg);
  struct peer pub;

  peer_open(s, &pub);
  peer_command(s, &pub, "publish", "cam");
  CU_ASSERT_PTR_NOT_NULL(strstr(pub.log, "NetStream.Publish.Rejected"));
  CU_ASSERT_PTR_NULL(strstr(pub.log, "Publish.Start"));
  CU_ASSERT_FALSE(rb_refserver_conn_closing(pub.c));
  peer_close(s, &pub);
  rb_refserver_free(s);
}

/* --chunk-size: announced after connect, except the protocol's default 128, which the
   server writes without a word (its ~190-byte connect reply then spans two chunks). */
static void test_session_chunk_size(void)
{
  static const uint32_t sizes[] = { 0, 65536, 128 }, want[] = { RB_REFSERVER_OUT_CHUNK_SIZE, 65536, 128 };

  for(size_t i = 0; i < 3; i++) {
    struct rb_refserver_config cfg = { .out_chunk_size = sizes[i] };
    struct rb_refserver *s = rb_refserver_new(&cfg);
    struct peer p;

    peer_open(s, &p); /* asserts that the connect _result was read */
    CU_ASSERT_EQUAL(p.rd.chunk_size, want[i]);
    peer_close(s, &p);
    rb_refserver_free(s);
  }
}

static bool publish_ok(struct rb_refserver *s, bool graceful_end)
{
  struct peer p;
  bool ok;

  peer_open(s, &p);
  peer_command(s, &p, "publish", "cam");
  ok = strstr(p.log, "NetStream.Publish.Start") != NULL;
  CU_ASSERT_TRUE(ok || strstr(p.log, "NetStream.Publish.BadName") != NULL);
  if(graceful_end)
    peer_command(s, &p, "deleteStream", NULL);
  peer_close(s, &p);
  drain(s);
  return ok;
}

static void test_session_stale_stream(void)
{
  struct rb_refserver_config cfg = { .stale_ns = 2 * RB_NS_PER_S, .now = fake_clock };
  struct rb_refserver *s;

  fake_now = 100 * RB_NS_PER_S;
  cfg.stale_all_until = fake_now + cfg.stale_ns;
  s = rb_refserver_new(&cfg);
  /* just after the (re)start every publish is refused */
  CU_ASSERT_FALSE(publish_ok(s, true));
  fake_now += cfg.stale_ns;
  CU_ASSERT_TRUE(publish_ok(s, true));
  /* graceful end: the name is free at once */
  CU_ASSERT_TRUE(publish_ok(s, false)); /* this one ends abruptly */
  CU_ASSERT_FALSE(publish_ok(s, true));
  fake_now += cfg.stale_ns - 1;
  CU_ASSERT_FALSE(publish_ok(s, true));
  fake_now += 1;
  CU_ASSERT_TRUE(publish_ok(s, true));
  CU_ASSERT_TRUE(publish_ok(s, true));
  rb_refserver_free(s);

  /* without the switch an abrupt end frees the name */
  cfg = (struct rb_refserver_config){ .now = fake_clock };
  s = rb_refserver_new(&cfg);
  CU_ASSERT_TRUE(publish_ok(s, false));
  CU_ASSERT_TRUE(publish_ok(s, false));
  rb_refserver_free(s);
}

/* A player that never reads is dropped when its queue is full, the publisher
   is not affected. */
static void test_session_slow_player_dropped(void)
{
  struct rb_refserver_config cfg = { 0 };
  struct rb_refserver *s = rb_refserver_new(&cfg);
  struct peer pub, slow;
  uint8_t *frame = calloc(1, 100000);
  int i;

  frame[0] = 0x17;
  frame[1] = 0x01;
  peer_open(s, &pub);
  peer_command(s, &pub, "publish", "cam");
  peer_open(s, &slow);
  peer_command(s, &slow, "play", "cam");
  for(i = 0; i < 200 && !rb_refserver_conn_closing(slow.c); i++) {
    struct rb_refserver_buf b = { 0 };
    put_message(&b, 128, 6, 9, 1, (uint32_t)i, frame, 100000);
    rb_refserver_conn_input(s, pub.c, b.data, b.len);
    rb_refserver_buf_free(&b);
    rb_refserver_buf_consume(rb_refserver_conn_output(pub.c), SIZE_MAX);
  }
  CU_ASSERT_TRUE(rb_refserver_conn_closing(slow.c));
  CU_ASSERT_PTR_NOT_NULL(strstr(rb_refserver_conn_close_reason(slow.c), "output queue full"));
  CU_ASSERT_TRUE(i > 10);
  CU_ASSERT_FALSE(rb_refserver_conn_closing(pub.c));
  drain(s);
  peer_close(s, &slow);
  peer_close(s, &pub);
  CU_ASSERT_EQUAL(s->budget.used, 0);
  rb_refserver_free(s);
  free(frame);
}

static void test_session_protocol_errors_close(void)
{
  struct rb_refserver_config cfg = { 0 };
  struct rb_refserver *s = rb_refserver_new(&cfg);
  struct rb_refserver_conn *c;
  uint8_t v6 = 6;
  struct rb_refserver_buf b = { 0 };
  uint8_t hs[1 + 1536 + 1536] = { 3 };

  c = rb_refserver_conn_new(s, "t", NULL);
  CU_ASSERT_EQUAL(rb_refserver_conn_input(s, c, &v6, 1), RB_ERR_PROTOCOL);
  CU_ASSERT_TRUE(rb_refserver_conn_closing(c));
  CU_ASSERT_PTR_NOT_NULL(strstr(rb_refserver_conn_close_reason(c), "version 6"));
  CU_ASSERT_PTR_EQUAL(rb_refserver_next_pending(s), c);
  CU_ASSERT_PTR_NULL(rb_refserver_next_pending(s));
  rb_refserver_conn_free(s, c);

  /* publish before connect */
  c = rb_refserver_conn_new(s, "t", NULL);
  rb_refserver_buf_append(&b, hs, sizeof(hs));
  amf_message(&b, 1, "publish", 0, "x");
  CU_ASSERT_EQUAL(rb_refserver_conn_input(s, c, b.data, b.len), RB_ERR_PROTOCOL);
  CU_ASSERT_TRUE(rb_refserver_conn_closing(c));
  rb_refserver_conn_free(s, c);
  rb_refserver_buf_free(&b);
  CU_ASSERT_PTR_NULL(s->pending_head);
  rb_refserver_free(s);
}

static uint32_t lcg(uint32_t *x)
{
  *x = *x * 1103515245u + 12345u;
  return *x >> 8;
}

/* Random bytes, and random mutations of a valid session, never crash the reader or
   the session and never exceed the budget. */
static void test_garbage_never_crashes(void)
{
  uint8_t *junk = malloc(65536);
  struct rb_refserver_buf valid = { 0 }, player = { 0 };
  uint8_t hs[1 + 1536 + 1536];
  uint32_t x = 12345;

  memset(hs, 0, sizeof(hs));
  hs[0] = 3;
  rb_refserver_buf_append(&valid, hs, sizeof(hs));
  amf_message(&valid, 0, "connect", 1, "live");
  amf_message(&valid, 0, "createStream", 2, NULL);
  amf_message(&valid, 1, "publish", 3, "cam");
  put_message(&valid, 128, 6, 9, 1, 0, keyframe, sizeof(keyframe));
  rb_refserver_buf_append(&player, hs, sizeof(hs));
  amf_message(&player, 0, "connect", 1, "live");
  amf_message(&player, 1, "play", 3, "cam");

  for(int round = 0; round < 400; round++) {
    struct rb_refserver_config cfg = { .memory_budget = 4 << 20 };
    struct rb_refserver *s = rb_refserver_new(&cfg);
    struct rb_refserver_conn *c = rb_refserver_conn_new(s, "fuzz", NULL);
    struct rb_refserver_conn *p = rb_refserver_conn_new(s, "player", NULL);
    size_t len;

    /* a player on the fuzzed publisher's stream, so relaying is exercised too */
    CU_ASSERT_EQUAL(rb_refserver_conn_input(s, p, player.data, player.len), RB_OK);
    if(round % 2 == 0) {
      /* a valid prefix, then one mutated byte, then garbage */
      len = valid.len;
      memcpy(junk, valid.data, len);
      junk[sizeof(hs) + lcg(&x) % (len - sizeof(hs))] ^= (uint8_t)(1 + lcg(&x) % 255);
      for(size_t i = len; i < 8192; i++)
        junk[i] = (uint8_t)lcg(&x);
      len = 8192;
    } else {
      memcpy(junk, hs, sizeof(hs));
      len = sizeof(hs) + lcg(&x) % (65536 - sizeof(hs));
      for(size_t i = sizeof(hs); i < len; i++)
        junk[i] = (uint8_t)lcg(&x);
    }
    for(size_t pos = 0; pos < len && !rb_refserver_conn_closing(c);) {
      size_t n = 1 + lcg(&x) % 300;
      if(n > len - pos)
        n = len - pos;
      rb_refserver_conn_input(s, c, junk + pos, n);
      CU_ASSERT_TRUE(s->budget.used <= s->budget.max);
      pos += n;
    }
    drain(s);
    rb_refserver_free(s);
  }
  rb_refserver_buf_free(&valid);
  rb_refserver_buf_free(&player);
  free(junk);
}

int main(void)
{
  static const struct rb_test_case cases[] = {
    RB_TEST(test_reader_single_message),
    RB_TEST(test_reader_multi_chunk_any_split),
    RB_TEST(test_reader_chunk_size_change),
    RB_TEST(test_reader_rejects_bad_chunk_size),
    RB_TEST(test_reader_rejects_huge_message),
    RB_TEST(test_reader_budget_limits_memory),
    RB_TEST(test_reader_rejects_too_many_chunk_streams),
    RB_TEST(test_reader_rejects_headers_without_context),
    RB_TEST(test_writer_reader_round_trip),
    RB_TEST(test_buf_limit),
    RB_TEST(test_amf_read_write),
    RB_TEST(test_amf_hostile_input),
    RB_TEST(test_session_publish_play_relay),
    RB_TEST(test_session_reject_publish),
    RB_TEST(test_session_chunk_size),
    RB_TEST(test_session_stale_stream),
    RB_TEST(test_session_slow_player_dropped),
    RB_TEST(test_session_protocol_errors_close),
    RB_TEST(test_garbage_never_crashes),
    RB_TEST_END
  };

  return rb_test_main("refserver", cases);
}
