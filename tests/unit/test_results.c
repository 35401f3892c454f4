/* Unit tests of results: the arrival curve kept per cycle, and its summary. */
#include <string.h>

#include "rb_test.h"
#include "rebound/results.h"

static void test_few_arrivals_are_kept_whole(void)
{
  static const double ms[3] = { 10, 12.5, 40 };
  struct rb_cycle_result c;

  memset(&c, 0, sizeof(c));
  rb_cycle_set_arrivals(&c, ms, 3);
  CU_ASSERT_EQUAL(c.narrivals, 3);
  CU_ASSERT_DOUBLE_EQUAL(c.last_back_ms, 40, 1e-9);
  for(unsigned i = 0; i < 3; i++) {
    CU_ASSERT_DOUBLE_EQUAL(c.arrivals[i].ms, ms[i], 1e-9);
    CU_ASSERT_EQUAL(c.arrivals[i].back, i + 1);
  }
}

static void test_many_arrivals_are_sampled_by_count(void)
{
  static double ms[1000];
  struct rb_cycle_result c;

  for(unsigned i = 0; i < 1000; i++)
    ms[i] = 2000 + i; /* the i-th client back at 2000 + i ms */
  memset(&c, 0, sizeof(c));
  rb_cycle_set_arrivals(&c, ms, 1000);
  CU_ASSERT_EQUAL_FATAL(c.narrivals, RB_ARRIVAL_POINTS);
  /* point k holds the ceil(k x 1000 / 64)-th arrival: 16th, 32nd, ..., 1000th */
  CU_ASSERT_EQUAL(c.arrivals[0].back, 16);
  CU_ASSERT_DOUBLE_EQUAL(c.arrivals[0].ms, 2015, 1e-9);
  CU_ASSERT_EQUAL(c.arrivals[1].back, 32);
  CU_ASSERT_EQUAL(c.arrivals[RB_ARRIVAL_POINTS - 1].back, 1000);
  CU_ASSERT_DOUBLE_EQUAL(c.arrivals[RB_ARRIVAL_POINTS - 1].ms, 2999, 1e-9);
  CU_ASSERT_DOUBLE_EQUAL(c.last_back_ms, 2999, 1e-9);
  /* the summary is over every arrival, not the 64 points kept */
  CU_ASSERT_EQUAL(c.arrival.count, 1000);
  CU_ASSERT_DOUBLE_EQUAL(c.arrival.p50, 2499, 1e-9);
  CU_ASSERT_DOUBLE_EQUAL(c.arrival.p99, 2989, 1e-9);
  for(unsigned k = 1; k < RB_ARRIVAL_POINTS; k++)
    CU_ASSERT_TRUE(c.arrivals[k].back > c.arrivals[k - 1].back && c.arrivals[k].ms >= c.arrivals[k - 1].ms);
}

static void test_none_back(void)
{
  struct rb_cycle_result c;

  memset(&c, 0, sizeof(c));
  rb_cycle_set_arrivals(&c, NULL, 0);
  CU_ASSERT_EQUAL(c.narrivals, 0);
  CU_ASSERT_TRUE(c.last_back_ms < 0);
}

static void test_last_back_summary_skips_cycles_without_arrivals(void)
{
  struct rb_cycle_result cycles[3];
  struct rb_scenario_result r;
  static const double a[1] = { 100 }, b[2] = { 50, 300 };

  memset(cycles, 0, sizeof(cycles));
  memset(&r, 0, sizeof(r));
  for(unsigned i = 0; i < 3; i++)
    cycles[i].ready_ms = cycles[i].rebind_ms = cycles[i].reconnect_ms = -1;
  rb_cycle_set_arrivals(&cycles[0], a, 1);
  rb_cycle_set_arrivals(&cycles[1], NULL, 0);
  rb_cycle_set_arrivals(&cycles[2], b, 2);
  r.cycles = cycles;
  r.ncycles = 3;
  rb_scenario_result_summarize(&r);
  CU_ASSERT_EQUAL(r.last_back.count, 2);
  CU_ASSERT_DOUBLE_EQUAL(r.last_back.max, 300, 1e-9);
}

static const struct rb_test_case cases[] = {
  RB_TEST(test_few_arrivals_are_kept_whole),
  RB_TEST(test_many_arrivals_are_sampled_by_count),
  RB_TEST(test_none_back),
  RB_TEST(test_last_back_summary_skips_cycles_without_arrivals),
  RB_TEST_END
};

int main(void)
{
  return rb_test_main("results", cases);
}
