/* Unit tests of the hls module: the media playlist parser (what real servers write,
   and what no player could use) and the tracker's judgement across a restart. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rb_test.h"
#include "rebound/hls.h"

static struct rb_hls_playlist pl;

/* What nginx-rtmp writes (continuous, a discontinuity at a new publish). */
static const char nginx_text[] =
  "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-MEDIA-SEQUENCE:7\n#EXT-X-TARGETDURATION:1\n"
  "#EXT-X-DISCONTINUITY\n#EXTINF:1.000,\nrebound-0-7.ts\n#EXTINF:0.960,\nrebound-0-8.ts\n";

static void test_parse_nginx(void)
{
  char msg[200];

  CU_ASSERT_EQUAL_FATAL(rb_hls_parse(nginx_text, &pl, msg, sizeof(msg)), RB_OK);
  CU_ASSERT_EQUAL(pl.media_sequence, 7);
  CU_ASSERT_EQUAL(pl.discontinuity_sequence, 0);
  CU_ASSERT_DOUBLE_EQUAL(pl.target_duration_s, 1.0, 1e-9);
  CU_ASSERT_EQUAL_FATAL(pl.nsegments, 2);
  CU_ASSERT_EQUAL(pl.segments[0].seq, 7);
  CU_ASSERT(pl.segments[0].discontinuity);
  CU_ASSERT_STRING_EQUAL(pl.segments[0].uri, "rebound-0-7.ts");
  CU_ASSERT_EQUAL(pl.segments[1].seq, 8);
  CU_ASSERT(!pl.segments[1].discontinuity);
  CU_ASSERT_DOUBLE_EQUAL(pl.segments[1].duration_s, 0.96, 1e-9);
  CU_ASSERT(pl.any_discontinuity);
  CU_ASSERT(!pl.endlist);
}

/* CRLF, a BOM, other tags, a discontinuity sequence, absolute URIs (SRS, MediaMTX style). */
static void test_parse_variants(void)
{
  const char *text = "\xef\xbb\xbf#EXTM3U\r\n#EXT-X-VERSION:6\r\n#EXT-X-TARGETDURATION:2\r\n"
                     "#EXT-X-MEDIA-SEQUENCE:100\r\n#EXT-X-DISCONTINUITY-SEQUENCE:3\r\n"
                     "#EXT-X-PROGRAM-DATE-TIME:2026-12-02T10:00:00Z\r\n#EXTINF:2.002,title\r\n"
                     "http://127.0.0.1:8080/live/s-100.ts?x=1\r\n#EXT-X-ENDLIST\r\n";

  CU_ASSERT_EQUAL_FATAL(rb_hls_parse(text, &pl, NULL, 0), RB_OK);
  CU_ASSERT_EQUAL(pl.media_sequence, 100);
  CU_ASSERT_EQUAL(pl.discontinuity_sequence, 3);
  CU_ASSERT_EQUAL_FATAL(pl.nsegments, 1);
  CU_ASSERT_STRING_EQUAL(pl.segments[0].uri, "http://127.0.0.1:8080/live/s-100.ts?x=1");
  CU_ASSERT_DOUBLE_EQUAL(pl.segments[0].duration_s, 2.002, 1e-9);
  CU_ASSERT(pl.endlist);
  CU_ASSERT(!pl.any_discontinuity);
}

static void expect_bad(const char *text, const char *words)
{
  char msg[300] = "";

  CU_ASSERT_EQUAL(rb_hls_parse(text, &pl, msg, sizeof(msg)), RB_ERR_PROTOCOL);
  if(!strstr(msg, words))
    fprintf(stderr, "\n  message '%s' lacks '%s'\n", msg, words);
  CU_ASSERT_PTR_NOT_NULL(strstr(msg, words));
}

static void test_parse_refuses(void)
{
  char *huge;

  expect_bad("", "empty");
  expect_bad("<html>404</html>\n", "no #EXTM3U");
  expect_bad("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nlow.m3u8\n", "master playlist");
  expect_bad("#EXTM3U\n#EXTINF:1,\na.ts\n", "no EXT-X-TARGETDURATION");
  expect_bad("#EXTM3U\n#EXT-X-TARGETDURATION:x\n", "TARGETDURATION");
  expect_bad("#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:-1\n", "MEDIA-SEQUENCE");
  expect_bad("#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:99999999999999999999\n", "MEDIA-SEQUENCE");
  expect_bad("#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:nan,\na.ts\n", "EXTINF");
  expect_bad("#EXTM3U\n#EXT-X-TARGETDURATION:1\na.ts\n", "without EXTINF");
  huge = malloc(RB_HLS_MAX_URI + 64);
  CU_ASSERT_FATAL(huge != NULL);
  strcpy(huge, "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\n");
  memset(huge + strlen(huge), 'a', RB_HLS_MAX_URI);
  huge[strlen("#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\n") + RB_HLS_MAX_URI] = '\0';
  expect_bad(huge, "longer than");
  free(huge);
}

/* More segments than kept: the newest RB_HLS_MAX_SEGMENTS stay, numbered right. */
static void test_parse_bounded(void)
{
  size_t cap = 64 + (RB_HLS_MAX_SEGMENTS + 10) * 32, n;
  char *text = malloc(cap);

  CU_ASSERT_FATAL(text != NULL);
  n = (size_t)snprintf(text, cap, "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:5\n");
  for(int i = 0; i < RB_HLS_MAX_SEGMENTS + 10; i++)
    n += (size_t)snprintf(text + n, cap - n, "#EXTINF:1,\ns%d.ts\n", i + 5);
  CU_ASSERT_EQUAL_FATAL(rb_hls_parse(text, &pl, NULL, 0), RB_OK);
  CU_ASSERT_EQUAL(pl.nsegments, RB_HLS_MAX_SEGMENTS);
  CU_ASSERT_EQUAL(pl.segments[0].seq, 15);
  CU_ASSERT_STRING_EQUAL(pl.segments[0].uri, "s15.ts");
  CU_ASSERT_EQUAL(pl.segments[RB_HLS_MAX_SEGMENTS - 1].seq, 5 + RB_HLS_MAX_SEGMENTS + 9);
  free(text);
}

/* A playlist of n segments from seq, optionally starting with a discontinuity. */
static void make(uint64_t seq, size_t n, bool disc, uint64_t dseq)
{
  char text[2048];
  size_t len = (size_t)snprintf(text, sizeof(text), "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:%llu\n"
                                "#EXT-X-DISCONTINUITY-SEQUENCE:%llu\n", (unsigned long long)seq,
                                (unsigned long long)dseq);

  for(size_t i = 0; i < n; i++)
    len += (size_t)snprintf(text + len, sizeof(text) - len, "%s#EXTINF:2,\ns%llu.ts\n",
                            disc && i == 0 ? "#EXT-X-DISCONTINUITY\n" : "", (unsigned long long)(seq + i));
  CU_ASSERT_EQUAL_FATAL(rb_hls_parse(text, &pl, NULL, 0), RB_OK);
}

static void test_track_live(void)
{
  struct rb_hls_tracker t = { 0 };
  size_t first;
  char why[300];

  make(10, 3, false, 0);
  CU_ASSERT_EQUAL(rb_hls_track(&t, &pl, &first, why, sizeof(why)), RB_HLS_SAME);
  CU_ASSERT_EQUAL(first, 2); /* the live edge */
  CU_ASSERT_EQUAL(t.last_seq, 12);
  make(10, 3, false, 0); /* unchanged */
  CU_ASSERT_EQUAL(rb_hls_track(&t, &pl, &first, why, sizeof(why)), RB_HLS_SAME);
  CU_ASSERT_EQUAL(first, 3);
  CU_ASSERT_EQUAL(rb_hls_reload_ns(&pl, false), 1000000000);
  make(11, 4, false, 0); /* slid by one, two new */
  CU_ASSERT_EQUAL(rb_hls_track(&t, &pl, &first, why, sizeof(why)), RB_HLS_SAME);
  CU_ASSERT_EQUAL(first, 2);
  CU_ASSERT_EQUAL(pl.segments[first].seq, 13);
  CU_ASSERT_EQUAL(t.last_seq, 14);
  CU_ASSERT_EQUAL(rb_hls_reload_ns(&pl, true), 2000000000);
  /* a restart that goes on with the sequence (the stale playlist first, then new segments) */
  make(11, 4, false, 0);
  CU_ASSERT_EQUAL(rb_hls_track(&t, &pl, &first, why, sizeof(why)), RB_HLS_SAME);
  make(13, 4, true, 0);
  CU_ASSERT_EQUAL(rb_hls_track(&t, &pl, &first, why, sizeof(why)), RB_HLS_SAME);
  CU_ASSERT_EQUAL(pl.segments[first].seq, 15);
  CU_ASSERT_EQUAL(t.resets + t.restarts, 0);
}

static void test_track_restarts(void)
{
  struct rb_hls_tracker t = { 0 };
  size_t first;
  char why[300] = "";

  make(20, 3, false, 0);
  rb_hls_track(&t, &pl, &first, why, sizeof(why));
  /* back to 0, but it says so: allowed, and every listed segment is new */
  make(0, 2, true, 0);
  CU_ASSERT_EQUAL(rb_hls_track(&t, &pl, &first, why, sizeof(why)), RB_HLS_RESTART_SIGNALLED);
  CU_ASSERT_EQUAL(first, 0);
  CU_ASSERT_EQUAL(t.restarts, 1);
  /* back again, said with a larger discontinuity sequence only */
  make(0, 1, false, 1);
  CU_ASSERT_EQUAL(rb_hls_track(&t, &pl, &first, why, sizeof(why)), RB_HLS_RESTART_SIGNALLED);
  CU_ASSERT_EQUAL(t.restarts, 2);
  /* then forward from there: the new numbering is the reference */
  make(0, 3, false, 1);
  CU_ASSERT_EQUAL(rb_hls_track(&t, &pl, &first, why, sizeof(why)), RB_HLS_SAME);
  CU_ASSERT_EQUAL(pl.segments[first].seq, 1);
  CU_ASSERT_EQUAL(t.resets, 0);
}

/* The bug: back to 0 without a word. Also the subtle form: the same first number,
   but the newest segment is older than one already taken. */
static void test_track_reset(void)
{
  struct rb_hls_tracker t = { 0 };
  size_t first;
  char why[300] = "";

  make(4, 3, false, 0);
  rb_hls_track(&t, &pl, &first, why, sizeof(why));
  make(0, 2, false, 0);
  CU_ASSERT_EQUAL(rb_hls_track(&t, &pl, &first, why, sizeof(why)), RB_HLS_RESET);
  CU_ASSERT_EQUAL(t.resets, 1);
  CU_ASSERT_EQUAL(first, 0);
  CU_ASSERT_STRING_EQUAL(why, "the HLS media sequence went back from 6 to 0 without EXT-X-DISCONTINUITY or a new "
                              "EXT-X-DISCONTINUITY-SEQUENCE: players waiting for segment 7 stall");
  t = (struct rb_hls_tracker){ 0 };
  make(0, 4, false, 0);
  rb_hls_track(&t, &pl, &first, why, sizeof(why));
  make(0, 2, false, 0);
  CU_ASSERT_EQUAL(rb_hls_track(&t, &pl, &first, why, sizeof(why)), RB_HLS_RESET);
  /* an empty playlist is nothing new, not a reset */
  t = (struct rb_hls_tracker){ 0 };
  make(3, 2, false, 0);
  rb_hls_track(&t, &pl, &first, why, sizeof(why));
  make(3, 0, false, 0);
  CU_ASSERT_EQUAL(rb_hls_track(&t, &pl, &first, why, sizeof(why)), RB_HLS_SAME);
  CU_ASSERT_EQUAL(first, 0);
  CU_ASSERT_EQUAL(t.resets, 0);
}

static const struct rb_test_case cases[] = {
  RB_TEST(test_parse_nginx),
  RB_TEST(test_parse_variants),
  RB_TEST(test_parse_refuses),
  RB_TEST(test_parse_bounded),
  RB_TEST(test_track_live),
  RB_TEST(test_track_restarts),
  RB_TEST(test_track_reset),
  RB_TEST_END
};

int main(void)
{
  return rb_test_main("hls", cases);
}
