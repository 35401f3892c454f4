/* Unit tests of the mpegts module: what a publisher sends, remuxed to MPEG-TS by
   ffmpeg (as an HLS server does), demuxes and decodes, and every picture's SEI comes
   out in order; bytes that are not MPEG-TS are an error, never a crash. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "rb_test.h"
#include "rb_test_flv.h"
#include "rebound/flv.h"
#include "rebound/media.h"
#include "rebound/mpegts.h"

static char tmpdir[] = "/tmp/rb-test-mpegts-XXXXXX";

struct seen {
  uint64_t seqs[1024];
  size_t n;
};

static void on_sei(void *arg, uint64_t seq, int64_t send_ns)
{
  struct seen *s = arg;

  (void)send_ns;
  if(s->n < 1024)
    s->seqs[s->n++] = seq;
}

/* The publisher's stream with seqs from 1000 as FLV, remuxed by ffmpeg; *videos = pictures. */
static uint8_t *make_segment(size_t *len, int *videos)
{
  struct rb_media_source *s = NULL;
  struct rb_media_frame h[3], fr;
  uint8_t header[RB_FLV_HEADER_MIN + RB_FLV_TRAILER], *data = NULL;
  char flv[256], ts[256], cmd[800];
  bool is_video;
  FILE *f;
  long size;
  int status;

  *videos = 0;
  snprintf(flv, sizeof(flv), "%s/in.flv", tmpdir);
  snprintf(ts, sizeof(ts), "%s/seg.ts", tmpdir);
  f = fopen(flv, "wb");
  CU_ASSERT_PTR_NOT_NULL_FATAL(f);
  rb_flv_write_header(header);
  fwrite(header, 1, sizeof(header), f);
  CU_ASSERT_EQUAL_FATAL(rb_media_source_open(&s, NULL, NULL, 0), RB_OK);
  for(size_t i = 1, n = rb_media_headers(s, h, 3); i < n; i++)
    rb_test_write_flv_tag(f, h[i].type, h[i].timestamp_ms, h[i].data, h[i].len);
  for(uint64_t i = 0, seq = 1000; i < 150; i++) {
    CU_ASSERT_EQUAL_FATAL(rb_media_next(s, seq, 42, &fr, &is_video, NULL, 0), RB_OK);
    seq += is_video;
    *videos += is_video;
    rb_test_write_flv_tag(f, fr.type, fr.timestamp_ms, fr.data, fr.len);
  }
  fclose(f);
  rb_media_source_close(s);
  snprintf(cmd, sizeof(cmd), "timeout 60 ffmpeg -nostdin -v error -y -i %s -c copy -f mpegts %s", flv, ts);
  status = system(cmd);
  CU_ASSERT_FATAL(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  f = fopen(ts, "rb");
  CU_ASSERT_PTR_NOT_NULL_FATAL(f);
  fseek(f, 0, SEEK_END);
  size = ftell(f);
  fseek(f, 0, SEEK_SET);
  CU_ASSERT_FATAL(size > 188);
  data = malloc((size_t)size);
  CU_ASSERT_FATAL(data && fread(data, 1, (size_t)size, f) == (size_t)size);
  fclose(f);
  *len = (size_t)size;
  return data;
}

static void test_segment_decodes(void)
{
  struct rb_mpegts_result r;
  struct seen *seen = calloc(1, sizeof(*seen));
  size_t len;
  int videos;
  uint8_t *ts = make_segment(&len, &videos);
  char msg[200];

  CU_ASSERT_FATAL(seen != NULL && videos > 10);
  CU_ASSERT_EQUAL_FATAL(rb_mpegts_scan(ts, len, on_sei, seen, &r, msg, sizeof(msg)), RB_OK);
  CU_ASSERT_EQUAL(r.video_packets, (unsigned)videos);
  CU_ASSERT_EQUAL(r.seis, (unsigned)videos);
  CU_ASSERT_EQUAL(r.pictures, (unsigned)videos);
  CU_ASSERT_EQUAL(r.decode_errors, 0);
  CU_ASSERT_EQUAL_FATAL(seen->n, (size_t)videos);
  for(size_t i = 0; i < seen->n; i++)
    CU_ASSERT_EQUAL(seen->seqs[i], 1000 + i);
  /* a segment cut short (a server killed mid-write) still reads what is there */
  seen->n = 0;
  CU_ASSERT_EQUAL(rb_mpegts_scan(ts, len / 2 / 188 * 188, on_sei, seen, &r, msg, sizeof(msg)), RB_OK);
  CU_ASSERT(r.seis > 0 && r.seis < (unsigned)videos);
  free(ts);
  free(seen);
}

static void test_not_mpegts(void)
{
  struct rb_mpegts_result r;
  uint8_t junk[4096];
  char msg[200];

  memset(junk, 0x47, sizeof(junk)); /* sync bytes everywhere, nothing behind them */
  CU_ASSERT_EQUAL(rb_mpegts_scan(junk, sizeof(junk), NULL, NULL, &r, msg, sizeof(msg)), RB_ERR_PROTOCOL);
  CU_ASSERT_EQUAL(rb_mpegts_scan((const uint8_t *)"<html>", 6, NULL, NULL, &r, msg, sizeof(msg)), RB_ERR_PROTOCOL);
  CU_ASSERT_EQUAL(rb_mpegts_scan(junk, 0, NULL, NULL, &r, msg, sizeof(msg)), RB_ERR_PROTOCOL);
}

/* The Annex B SEI finder alone: a start-code stream with rebound's SEI between an
   AUD and a slice. */
static void test_annexb_sei(void)
{
  uint8_t au[128], sei[RB_MEDIA_SEI_MAX];
  size_t n = 0, k = rb_media_build_sei(77, 1234, sei);
  uint64_t seq;
  int64_t send_ns;

  memcpy(au + n, "\x00\x00\x00\x01\x09\xf0", 6);
  n += 6;
  memcpy(au + n, "\x00\x00\x01", 3);
  n += 3;
  memcpy(au + n, sei, k);
  n += k;
  memcpy(au + n, "\x00\x00\x01\x65\x88\x80", 6);
  n += 6;
  CU_ASSERT(rb_media_parse_sei_annexb(au, n, &seq, &send_ns));
  CU_ASSERT_EQUAL(seq, 77);
  CU_ASSERT_EQUAL(send_ns, 1234);
  for(size_t cut = 0; cut < n; cut++) /* never reads past what it is given */
    (void)rb_media_parse_sei_annexb(au, cut, &seq, &send_ns);
  CU_ASSERT(!rb_media_parse_sei_annexb(au, 9 + 10, &seq, &send_ns));
}

static const struct rb_test_case cases[] = {
  RB_TEST(test_segment_decodes),
  RB_TEST(test_not_mpegts),
  RB_TEST(test_annexb_sei),
  RB_TEST_END
};

int main(void)
{
  return rb_test_main_in_tmpdir("mpegts", cases, tmpdir);
}
