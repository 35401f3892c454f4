/* Unit tests of the media module: the built-in clip, SEI in and out, the loop,
   user FLV files, and the play-side verifier. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "rb_test.h"
#include "rb_test_flv.h"
#include "rebound/flv.h"
#include "rebound/media.h"

static char tmpdir[] = "/tmp/rb-test-media-XXXXXX";

static void put_be(uint8_t *p, uint64_t v, unsigned n)
{
  for(unsigned i = n; i-- > 0; v >>= 8)
    p[i] = (uint8_t)v;
}

static void test_headers(void)
{
  struct rb_media_source *s = NULL;
  struct rb_media_frame h[4];
  char msg[256];
  size_t n;

  CU_ASSERT_EQUAL_FATAL(rb_media_source_open(&s, NULL, msg, sizeof(msg)), RB_OK);
  n = rb_media_headers(s, h, 4);
  CU_ASSERT_EQUAL_FATAL(n, 3);
  /* @setDataFrame, onMetaData, then an ECMA array or object. */
  CU_ASSERT_EQUAL(h[0].type, RB_MEDIA_DATA);
  CU_ASSERT_FATAL(h[0].len > 30);
  CU_ASSERT(!memcmp(h[0].data, "\x02\x00\x0d@setDataFrame\x02\x00\x0aonMetaData", 29));
  CU_ASSERT(h[0].data[29] == 8 || h[0].data[29] == 3);
  /* AVC keyframe, sequence header, AVCDecoderConfigurationRecord version 1,
     baseline profile, one SPS. */
  CU_ASSERT_EQUAL(h[1].type, RB_MEDIA_VIDEO);
  CU_ASSERT_FATAL(h[1].len > 16);
  CU_ASSERT_EQUAL(h[1].data[0], 0x17);
  CU_ASSERT_EQUAL(h[1].data[1], 0);
  CU_ASSERT_EQUAL(h[1].data[5], 1);
  CU_ASSERT_EQUAL(h[1].data[6], 66);
  CU_ASSERT_EQUAL(h[1].data[9] & 3, 3);
  CU_ASSERT_EQUAL(h[1].data[10] & 0x1f, 1);
  /* AAC sequence header: AudioSpecificConfig, AAC-LC (object type 2). */
  CU_ASSERT_EQUAL(h[2].type, RB_MEDIA_AUDIO);
  CU_ASSERT_FATAL(h[2].len >= 4);
  CU_ASSERT_EQUAL(h[2].data[0] >> 4, 10);
  CU_ASSERT_EQUAL(h[2].data[1], 0);
  CU_ASSERT_EQUAL(h[2].data[2] >> 3, 2);
  CU_ASSERT_EQUAL(rb_media_headers(s, h, 1), 1);
  rb_media_source_close(s);
}

/* A video tag body holding just the SEI with 4-byte NAL lengths. */
static size_t sei_tag(uint8_t *out, uint64_t seq, int64_t ns)
{
  uint8_t nal[RB_MEDIA_SEI_MAX];
  size_t n = rb_media_build_sei(seq, ns, nal);

  memcpy(out, "\x27\x01\x00\x00\x00", 5);
  put_be(out + 5, n, 4);
  memcpy(out + 9, nal, n);
  return 9 + n;
}

static void test_sei_round_trip(void)
{
  static const struct { uint64_t seq; int64_t ns; } cases[] = {
    { 0, 0 }, { 1, 3 }, { 0x0000000100000002ull, 0x0000000000000001ll },
    { UINT64_MAX, INT64_MAX }, { 0x0300000003000000ull, -1 }, { 123456789, 987654321012345ll },
  };

  for(size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    uint8_t tag[128], nal[RB_MEDIA_SEI_MAX];
    size_t n = rb_media_build_sei(cases[i].seq, cases[i].ns, nal), len;
    uint64_t seq = 0;
    int64_t ns = 0;

    CU_ASSERT(n <= RB_MEDIA_SEI_MAX);
    CU_ASSERT_EQUAL(nal[0], 6);
    CU_ASSERT_EQUAL(nal[n - 1], 0x80);
    /* No start code emulation inside the NAL unit: 00 00 03 only as an
       escape, which is followed by a byte <= 3. */
    for(size_t j = 0; j + 2 < n; j++) {
      CU_ASSERT(!(nal[j] == 0 && nal[j + 1] == 0 && nal[j + 2] <= 2));
      if(nal[j] == 0 && nal[j + 1] == 0 && nal[j + 2] == 3)
        CU_ASSERT(j + 3 < n && nal[j + 3] <= 3);
    }
    len = sei_tag(tag, cases[i].seq, cases[i].ns);
    CU_ASSERT_TRUE(rb_media_parse_sei(tag, len, &seq, &ns));
    CU_ASSERT_EQUAL(seq, cases[i].seq);
    CU_ASSERT_EQUAL(ns, cases[i].ns);
  }
  /* Zeros everywhere need escapes: the NAL gets longer than the 36 raw bytes. */
  {
    uint8_t nal[RB_MEDIA_SEI_MAX];

    CU_ASSERT(rb_media_build_sei(0, 0, nal) > 36);
    CU_ASSERT_EQUAL(rb_media_build_sei(0x0101010101010101ull, 0x0101010101010101ll, nal), 36);
  }
}

static void test_next_loops_with_sei(void)
{
  struct rb_media_source *s = NULL;
  char msg[256];
  uint32_t last = 0, first = UINT32_MAX;
  uint64_t seq = 0, videos = 0;
  int64_t ns = 1000;

  CU_ASSERT_EQUAL_FATAL(rb_media_source_open(&s, NULL, msg, sizeof(msg)), RB_OK);
  for(int i = 0; i < 400; i++) { /* ~2.9 passes over the 2 s clip */
    struct rb_media_frame f;
    bool is_video;
    uint64_t got_seq;
    int64_t got_ns;
    uint32_t expect = rb_media_next_timestamp(s);

    CU_ASSERT_EQUAL_FATAL(rb_media_next(s, seq, ns, &f, &is_video, msg, sizeof(msg)), RB_OK);
    CU_ASSERT_EQUAL(f.timestamp_ms, expect);
    CU_ASSERT(f.timestamp_ms >= last);
    if(first == UINT32_MAX)
      first = f.timestamp_ms;
    last = f.timestamp_ms;
    CU_ASSERT(f.type == RB_MEDIA_AUDIO || f.type == RB_MEDIA_VIDEO);
    CU_ASSERT_EQUAL(is_video, f.type == RB_MEDIA_VIDEO);
    if(is_video) {
      CU_ASSERT_TRUE(rb_media_parse_sei(f.data, f.len, &got_seq, &got_ns));
      CU_ASSERT_EQUAL(got_seq, seq);
      CU_ASSERT_EQUAL(got_ns, ns);
      seq++;
      ns += 40000000;
      videos++;
    } else {
      CU_ASSERT_FALSE(rb_media_parse_sei(f.data, f.len, &got_seq, &got_ns));
    }
  }
  CU_ASSERT(videos > 100);
  CU_ASSERT(last - first > 4000); /* two full passes and more */
  rb_media_rebase(s, 5000);
  CU_ASSERT_EQUAL(rb_media_next_timestamp(s), 5000);
  rb_media_source_close(s);
}

/* What a publisher sends, as an FLV file: ffmpeg must decode every frame. */
static void test_stream_decodes(void)
{
  struct rb_media_source *s = NULL;
  struct rb_media_frame h[3], fr;
  char msg[256], path[256], cmd[600];
  FILE *f;
  bool is_video;
  size_t n;
  int status, videos = 0;

  snprintf(path, sizeof(path), "%s/out.flv", tmpdir);
  f = fopen(path, "wb");
  CU_ASSERT_PTR_NOT_NULL_FATAL(f);
  fwrite("FLV\x01\x05\x00\x00\x00\x09\x00\x00\x00\x00", 1, 13, f);
  CU_ASSERT_EQUAL_FATAL(rb_media_source_open(&s, NULL, msg, sizeof(msg)), RB_OK);
  n = rb_media_headers(s, h, 3);
  for(size_t i = 1; i < n; i++) /* the sequence headers; @setDataFrame is RTMP-only */
    rb_test_write_flv_tag(f, h[i].type, h[i].timestamp_ms, h[i].data, h[i].len);
  for(uint64_t i = 0, seq = 0; i < 300; i++) {
    CU_ASSERT_EQUAL_FATAL(rb_media_next(s, seq, (int64_t)i * 7, &fr, &is_video, msg, sizeof(msg)), RB_OK);
    seq += is_video;
    videos += is_video;
    rb_test_write_flv_tag(f, fr.type, fr.timestamp_ms, fr.data, fr.len);
  }
  fclose(f);
  rb_media_source_close(s);
  snprintf(cmd, sizeof(cmd),
           "timeout 60 ffmpeg -nostdin -v error -xerror -i %s -f null - > %s/ffmpeg.log 2>&1 && "
           "test ! -s %s/ffmpeg.log", path, tmpdir, tmpdir);
  status = system(cmd);
  CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  snprintf(cmd, sizeof(cmd),
           "timeout 60 ffprobe -v error -count_frames -select_streams v -show_entries "
           "stream=codec_name,nb_read_frames -of csv=p=0 %s | grep -qx 'h264,%d'", path, videos);
  status = system(cmd);
  CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void test_user_files(void)
{
  struct rb_media_source *s = NULL;
  char msg[256], path[256];
  FILE *f;

  CU_ASSERT_NOT_EQUAL(rb_media_source_open(&s, "/nonexistent/x.flv", msg, sizeof(msg)), RB_OK);
  CU_ASSERT_PTR_NULL(s);
  CU_ASSERT_PTR_NOT_NULL(strstr(msg, "/nonexistent/x.flv"));

  snprintf(path, sizeof(path), "%s/garbage.flv", tmpdir);
  f = fopen(path, "wb");
  CU_ASSERT_PTR_NOT_NULL_FATAL(f);
  fputs("this is not a video file at all", f);
  fclose(f);
  CU_ASSERT_EQUAL(rb_media_source_open(&s, path, msg, sizeof(msg)), RB_ERR_PROTOCOL);
  CU_ASSERT_PTR_NOT_NULL(strstr(msg, "not an FLV file"));
  CU_ASSERT_PTR_NULL(strchr(msg, '\n'));

  /* The clip cut inside the first tag's body, and inside the last trailer. */
  {
    const size_t cuts[] = { 13 + 11 + 5, rb_media_clip_flv_len - 1, rb_media_clip_flv_len - 3 };

    for(size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
      snprintf(path, sizeof(path), "%s/cut.flv", tmpdir);
      f = fopen(path, "wb");
      CU_ASSERT_PTR_NOT_NULL_FATAL(f);
      fwrite(rb_media_clip_flv, 1, cuts[i], f);
      fclose(f);
      CU_ASSERT_EQUAL(rb_media_source_open(&s, path, msg, sizeof(msg)), RB_ERR_PROTOCOL);
      CU_ASSERT_PTR_NOT_NULL(strstr(msg, "cut.flv: "));
    }
  }

  /* The whole clip from a file works like the built-in one. */
  snprintf(path, sizeof(path), "%s/clip.flv", tmpdir);
  f = fopen(path, "wb");
  CU_ASSERT_PTR_NOT_NULL_FATAL(f);
  fwrite(rb_media_clip_flv, 1, rb_media_clip_flv_len, f);
  fclose(f);
  CU_ASSERT_EQUAL_FATAL(rb_media_source_open(&s, path, msg, sizeof(msg)), RB_OK);
  {
    struct rb_media_frame h[3];

    CU_ASSERT_EQUAL(rb_media_headers(s, h, 3), 3);
  }
  rb_media_source_close(s);
}

static void test_parse_sei_hostile(void)
{
  uint8_t valid[128], buf[512];
  size_t vlen = sei_tag(valid, 42, 4242);
  uint64_t seq;
  int64_t ns;

  srand(12345);
  /* Every prefix of a valid tag is handled; only the complete one matches. */
  for(size_t len = 0; len < vlen; len++) {
    uint8_t *copy = malloc(len ? len : 1); /* exact size, so ASan sees overreads */

    memcpy(copy, valid, len);
    CU_ASSERT_FALSE(rb_media_parse_sei(copy, len, &seq, &ns));
    free(copy);
  }
  CU_ASSERT_TRUE(rb_media_parse_sei(valid, vlen, &seq, &ns));
  CU_ASSERT_FALSE(rb_media_parse_sei(NULL, 0, &seq, &ns));
  /* Random bodies, some with a valid AVC header and random NAL lengths. */
  for(int round = 0; round < 20000; round++) {
    size_t len = (size_t)rand() % sizeof(buf);
    uint8_t *copy;

    for(size_t i = 0; i < len; i++)
      buf[i] = (uint8_t)(rand() % 4 == 0 ? 0 : rand() % 3 == 0 ? 0xff : rand());
    if(len >= 5 && round % 2) {
      buf[0] = 0x27;
      buf[1] = 1;
    }
    if(len >= 10 && round % 3 == 0)
      buf[9] = 6; /* an SEI NAL header behind a random length */
    copy = malloc(len ? len : 1);
    memcpy(copy, buf, len);
    rb_media_parse_sei(copy, len, &seq, &ns);
    free(copy);
  }
  /* Mutations of the valid tag. */
  for(int round = 0; round < 20000; round++) {
    uint8_t *copy = malloc(vlen);

    memcpy(copy, valid, vlen);
    copy[(size_t)rand() % vlen] = (uint8_t)rand();
    copy[(size_t)rand() % vlen] = (uint8_t)rand();
    rb_media_parse_sei(copy, vlen, &seq, &ns);
    free(copy);
  }
}

static struct rb_media_frame video_with(uint8_t *buf, uint64_t seq, int64_t ns)
{
  struct rb_media_frame f = { RB_MEDIA_VIDEO, 0, buf, 0 };

  f.len = sei_tag(buf, seq, ns);
  return f;
}

static void feed(struct rb_media_verifier *v, uint64_t seq)
{
  uint8_t buf[128];
  struct rb_media_frame f = video_with(buf, seq, 1000000);

  rb_media_verifier_feed(v, &f, 3000000); /* 2 ms after "sending" */
}

static void test_verifier(void)
{
  struct rb_media_verifier *v = malloc(sizeof(*v));
  struct rb_media_frame audio = { RB_MEDIA_AUDIO, 0, (const uint8_t *)"\xaf\x01", 2 };

  CU_ASSERT_PTR_NOT_NULL_FATAL(v);
  rb_media_verifier_init(v);
  feed(v, 7); /* joining mid-stream is not a gap */
  feed(v, 8);
  feed(v, 9);
  CU_ASSERT_EQUAL(v->received, 3);
  CU_ASSERT_EQUAL(v->gaps, 0);
  feed(v, 12); /* 10 and 11 missing */
  CU_ASSERT_EQUAL(v->gaps, 2);
  feed(v, 12);
  feed(v, 11);
  CU_ASSERT_EQUAL(v->duplicates, 2);
  CU_ASSERT_EQUAL(v->last_seq, 12);
  rb_media_verifier_feed(v, &audio, 0);
  CU_ASSERT_EQUAL(v->received, 6); /* duplicates are received frames too */
  CU_ASSERT_EQUAL(v->nlatencies, 6);
  CU_ASSERT_DOUBLE_EQUAL(v->latencies_ms[0], 2.0, 1e-9);

  /* The outage gap (13..19) is a gap, not a loss after reconnect. */
  CU_ASSERT_FALSE(v->resumed);
  rb_media_verifier_mark_reconnect(v);
  feed(v, 20);
  CU_ASSERT_EQUAL(v->gaps, 9);
  CU_ASSERT_EQUAL(v->lost_after_reconnect, 0);
  /* where the stream resumed, for the fleet to split the outage gap */
  CU_ASSERT(v->resumed);
  CU_ASSERT_EQUAL(v->resumed_after, 12);
  CU_ASSERT_EQUAL(v->resumed_at, 20);
  feed(v, 21);
  feed(v, 24); /* 22, 23 lost after the reconnect */
  CU_ASSERT_EQUAL(v->gaps, 11);
  CU_ASSERT_EQUAL(v->lost_after_reconnect, 2);
  CU_ASSERT_EQUAL(v->duplicates, 2);
  CU_ASSERT_EQUAL(v->resumed_at, 20); /* only the first frame after the reconnect */

  /* The latency ring keeps the newest RB_MEDIA_MAX_LATENCIES samples. */
  for(uint64_t s = 25; s < 25 + RB_MEDIA_MAX_LATENCIES + 10; s++)
    feed(v, s);
  CU_ASSERT_EQUAL(v->nlatencies, RB_MEDIA_MAX_LATENCIES);
  CU_ASSERT(v->latency_next < RB_MEDIA_MAX_LATENCIES);
  CU_ASSERT_EQUAL(v->gaps, 11);
  free(v);
}

static const struct rb_test_case cases[] = {
  RB_TEST(test_headers),
  RB_TEST(test_sei_round_trip),
  RB_TEST(test_next_loops_with_sei),
  RB_TEST(test_stream_decodes),
  RB_TEST(test_user_files),
  RB_TEST(test_parse_sei_hostile),
  RB_TEST(test_verifier),
  RB_TEST_END
};

int main(void)
{
  return rb_test_main_in_tmpdir("media", cases, tmpdir);
}
