/* Unit tests of stats: nearest-rank percentiles. */
#include "rb_test.h"
#include "rebound/stats.h"

static void test_empty(void)
{
  struct rb_summary s;

  CU_ASSERT_TRUE(rb_stats_summarize(NULL, 0, &s));
  CU_ASSERT_EQUAL(s.count, 0);
  CU_ASSERT_DOUBLE_EQUAL(s.p99, 0, 1e-9);
}

static void test_hundred(void)
{
  double v[100];
  struct rb_summary s;

  /* 100..1 in reverse, so sorting is exercised */
  for(int i = 0; i < 100; i++)
    v[i] = 100 - i;
  CU_ASSERT_TRUE(rb_stats_summarize(v, 100, &s));
  CU_ASSERT_EQUAL(s.count, 100);
  CU_ASSERT_DOUBLE_EQUAL(s.min, 1, 1e-9);
  CU_ASSERT_DOUBLE_EQUAL(s.p50, 50, 1e-9);
  CU_ASSERT_DOUBLE_EQUAL(s.p95, 95, 1e-9);
  CU_ASSERT_DOUBLE_EQUAL(s.p99, 99, 1e-9);
  CU_ASSERT_DOUBLE_EQUAL(s.max, 100, 1e-9);
  CU_ASSERT_DOUBLE_EQUAL(s.mean, 50.5, 1e-9);
  CU_ASSERT_DOUBLE_EQUAL(v[0], 100, 1e-9); /* input untouched */
}

static void test_small_sets_use_observed_values(void)
{
  double v[] = { 8.1, 31.0, 9.5 };
  struct rb_summary s;

  CU_ASSERT_TRUE(rb_stats_summarize(v, 3, &s));
  CU_ASSERT_DOUBLE_EQUAL(s.p50, 9.5, 1e-9);
  CU_ASSERT_DOUBLE_EQUAL(s.p95, 31.0, 1e-9);
  CU_ASSERT_DOUBLE_EQUAL(s.p99, 31.0, 1e-9);
  CU_ASSERT_DOUBLE_EQUAL(s.min, 8.1, 1e-9);
  CU_ASSERT_DOUBLE_EQUAL(rb_stats_percentile((double[]){ 1, 2 }, 2, 50), 1, 1e-9);
}

int main(void)
{
  static const struct rb_test_case cases[] = {
    RB_TEST(test_empty), RB_TEST(test_hundred), RB_TEST(test_small_sets_use_observed_values), RB_TEST_END
  };

  return rb_test_main("stats", cases);
}
