/* Unit tests of backoff: each reconnect profile's schedule, exact and seeded.
   The expected values were computed independently (libobs' rule and xorshift64*
   re-done in Python), not read back from the module. */
#include <string.h>

#include "rb_test.h"
#include "rebound/backoff.h"
#include "rebound/clock.h"

#define MS RB_NS_PER_MS

static struct rb_backoff_profile parse_ok(const char *text)
{
  struct rb_backoff_profile p;
  char why[256] = "";

  memset(&p, 0, sizeof(p));
  CU_ASSERT_EQUAL_FATAL(rb_backoff_parse(text, &p, why, sizeof(why)), RB_OK);
  return p;
}

/* Delays of the first n retries in ms (exact ns checked to be whole ms by the caller). */
static unsigned schedule(const struct rb_backoff_profile *p, uint64_t seed, int64_t *out, unsigned n)
{
  struct rb_backoff b;
  unsigned i;

  rb_backoff_init(&b, p, seed);
  for(i = 0; i < n && rb_backoff_next(&b, &out[i]); i++)
    ;
  return i;
}

static void test_obs_without_jitter_is_libobs_rule(void)
{
  /* 2 s, x1.5 in whole ms (truncated), capped at 15 min, 25 retries then give up */
  static const int64_t want_ms[25] = { 2000, 3000, 4500, 6750, 10125, 15187, 22780, 34170, 51255, 76882,
                                       115323, 172984, 259476, 389214, 583821, 875731, 900000, 900000,
                                       900000, 900000, 900000, 900000, 900000, 900000, 900000 };
  struct rb_backoff_profile p = parse_ok("obs:jitter=0");
  int64_t got[30];

  CU_ASSERT_EQUAL(schedule(&p, 7, got, 30), 25);
  for(unsigned i = 0; i < 25; i++)
    CU_ASSERT_EQUAL(got[i], want_ms[i] * MS);
}

static void test_obs_seeded_factor(void)
{
  /* seed 1: xorshift64* -> factor 1.5 + u x 0.05 = 1.514041752502518, drawn once */
  static const int64_t want_ms[8] = { 2000, 3028, 4584, 6940, 10507, 15908, 24085, 36465 };
  struct rb_backoff_profile p = parse_ok("obs");
  struct rb_backoff a, b;
  int64_t got[8], da, db;
  bool differs = false;

  CU_ASSERT_EQUAL(schedule(&p, 1, got, 8), 8);
  for(unsigned i = 0; i < 8; i++)
    CU_ASSERT_EQUAL(got[i], want_ms[i] * MS);
  /* the same seed replays; another seed gives another factor within [1.5, 1.55) */
  rb_backoff_init(&a, &p, 1);
  rb_backoff_init(&b, &p, 2);
  CU_ASSERT_DOUBLE_EQUAL(a.factor, 1.514041752502518, 1e-12);
  CU_ASSERT_TRUE(b.factor >= 1.5 && b.factor < 1.55);
  for(unsigned i = 0; i < 8; i++) {
    rb_backoff_next(&a, &da);
    rb_backoff_next(&b, &db);
    differs |= da != db;
  }
  CU_ASSERT_TRUE(differs);
}

static void test_obs_reset_and_overrides(void)
{
  struct rb_backoff_profile p = parse_ok("obs:first=1s,factor=2,jitter=0,cap=5s,retries=4");
  struct rb_backoff b;
  int64_t d = 0;

  CU_ASSERT_EQUAL(p.kind, RB_BACKOFF_OBS);
  rb_backoff_init(&b, &p, 3);
  CU_ASSERT_TRUE(rb_backoff_next(&b, &d) && d == 1000 * MS);
  CU_ASSERT_TRUE(rb_backoff_next(&b, &d) && d == 2000 * MS);
  CU_ASSERT_TRUE(rb_backoff_next(&b, &d) && d == 4000 * MS);
  CU_ASSERT_TRUE(rb_backoff_next(&b, &d) && d == 5000 * MS); /* capped */
  d = -1;
  CU_ASSERT_FALSE(rb_backoff_next(&b, &d)); /* 4 retries, then it gives up */
  CU_ASSERT_EQUAL(d, -1);
  /* a session that got up starts over from the first delay, with all retries */
  rb_backoff_reset(&b);
  CU_ASSERT_TRUE(rb_backoff_next(&b, &d) && d == 1000 * MS);
}

static void test_rebound_profile(void)
{
  /* 2 ms doubling to 100 ms, each delay drawn from [d/2, d) by xorshift64* (seed 42) */
  static const int64_t want_ns[8] = { 1693600, 3505498, 6217846, 9728735, 18140678, 39091875, 73256562, 83334223 };
  struct rb_backoff_profile p = parse_ok("rebound");
  int64_t got[40];

  CU_ASSERT_EQUAL(schedule(&p, 42, got, 8), 8);
  for(unsigned i = 0; i < 8; i++)
    CU_ASSERT_EQUAL(got[i], want_ns[i]);
  /* never gives up, never beyond the cap */
  CU_ASSERT_EQUAL(schedule(&p, 42, got, 40), 40);
  for(unsigned i = 0; i < 40; i++)
    CU_ASSERT_TRUE(got[i] > 0 && got[i] < 100 * MS);
  CU_ASSERT_TRUE(rb_backoff_follows_kick(&p));
  CU_ASSERT_FALSE(rb_backoff_new_client(&p));
}

static void test_fixed_and_supervisor(void)
{
  struct rb_backoff_profile fixed = parse_ok("fixed:5s"), fifo = parse_ok("fixed:5s,first=0,retries=3");
  struct rb_backoff_profile sup = parse_ok("supervisor"), sup2 = parse_ok("supervisor:2s");
  int64_t got[5];

  CU_ASSERT_EQUAL(schedule(&fixed, 9, got, 5), 5);
  for(unsigned i = 0; i < 5; i++)
    CU_ASSERT_EQUAL(got[i], 5000 * MS);
  /* ffmpeg's fifo muxer: the first recovery at once, then every 5 s */
  CU_ASSERT_EQUAL(schedule(&fifo, 9, got, 5), 3);
  CU_ASSERT_TRUE(got[0] == 0 && got[1] == 5000 * MS && got[2] == 5000 * MS);
  CU_ASSERT_EQUAL(schedule(&sup, 9, got, 3), 3);
  CU_ASSERT_TRUE(got[0] == 100 * MS && got[1] == 100 * MS && got[2] == 100 * MS);
  CU_ASSERT_EQUAL(schedule(&sup2, 9, got, 2), 2);
  CU_ASSERT_TRUE(got[0] == 2000 * MS && got[1] == 2000 * MS);
  CU_ASSERT_TRUE(rb_backoff_new_client(&sup));
  CU_ASSERT_FALSE(rb_backoff_follows_kick(&sup));
  CU_ASSERT_FALSE(rb_backoff_follows_kick(&fixed));
}

static void test_parse_errors(void)
{
  static const char *const bad[] = { "", "obs2", "fixed:", "fixed:5x", "obs:factor=0.5", "obs:jitter=2",
                                     "obs:retries=-1", "obs:color=red", "obs:first=1s,cap=500ms",
                                     "obs:first=2d", NULL };
  struct rb_backoff_profile p;
  char why[256];

  for(unsigned i = 0; bad[i]; i++) {
    why[0] = '\0';
    CU_ASSERT_EQUAL(rb_backoff_parse(bad[i], &p, why, sizeof(why)), RB_ERR_SCENARIO);
    CU_ASSERT_TRUE(why[0] != '\0');
  }
}

static void test_format_round_trips(void)
{
  static const char *const texts[] = { "rebound", "obs", "obs:retries=20,jitter=0.1", "supervisor:250ms",
                                       "fixed:5s,first=0", NULL };

  for(unsigned i = 0; texts[i]; i++) {
    struct rb_backoff_profile a = parse_ok(texts[i]), b;
    char buf[256], why[256];

    rb_backoff_format(&a, buf, sizeof(buf));
    CU_ASSERT_EQUAL_FATAL(rb_backoff_parse(buf, &b, why, sizeof(why)), RB_OK);
    CU_ASSERT_TRUE(a.kind == b.kind && a.first_ns == b.first_ns && a.cap_ns == b.cap_ns &&
                   a.retries == b.retries && a.factor == b.factor && a.jitter == b.jitter);
  }
}

/* The pure form agrees with the iterator, retry by retry, and gives up at the same place. */
static void test_delay_is_the_iterator(void)
{
  static const char *const texts[] = { "rebound", "obs", "obs:retries=3", "supervisor:250ms", "fixed:5s,first=0", NULL };

  for(unsigned t = 0; texts[t]; t++) {
    struct rb_backoff_profile p = parse_ok(texts[t]);
    int64_t got[30], d = -1;
    unsigned n = schedule(&p, 11, got, 30);

    for(unsigned a = 1; a <= n; a++) {
      CU_ASSERT_TRUE(rb_backoff_delay(&p, 11, a, &d));
      CU_ASSERT_EQUAL(d, got[a - 1]);
    }
    CU_ASSERT_EQUAL(rb_backoff_delay(&p, 11, n + 1, &d), n < 30 ? false : true);
    CU_ASSERT_FALSE(rb_backoff_delay(&p, 11, 0, &d));
  }
}

static void test_worst_wait(void)
{
  struct rb_backoff_profile obs = parse_ok("obs:jitter=0"), obsj = parse_ok("obs");
  struct rb_backoff_profile fixed = parse_ok("fixed:5s,retries=2");

  CU_ASSERT_EQUAL(rb_backoff_worst_wait(&obs, 3), (2000 + 3000 + 4500) * MS);
  /* at its longest, a jittered client's factor is 1.55: 2000 + 3100 */
  CU_ASSERT_EQUAL(rb_backoff_worst_wait(&obsj, 2), (2000 + 3100) * MS);
  CU_ASSERT_EQUAL(rb_backoff_worst_wait(&fixed, 5), 10000 * MS); /* gives up after 2 */
}

static const struct rb_test_case cases[] = {
  RB_TEST(test_obs_without_jitter_is_libobs_rule),
  RB_TEST(test_obs_seeded_factor),
  RB_TEST(test_obs_reset_and_overrides),
  RB_TEST(test_rebound_profile),
  RB_TEST(test_fixed_and_supervisor),
  RB_TEST(test_parse_errors),
  RB_TEST(test_format_round_trips),
  RB_TEST(test_delay_is_the_iterator),
  RB_TEST(test_worst_wait),
  RB_TEST_END
};

int main(void)
{
  return rb_test_main("backoff", cases);
}
