/* Unit tests of shard: I/N parsing, --shard auto from each engine's variables, and
   slices that are disjoint, cover every scenario, and differ in size by at most one. */
#include <string.h>

#include "rb_test.h"
#include "rebound/shard.h"

static const char *const *env; /* NAME=VALUE pairs for fake_getenv, NULL-terminated */

static char *fake_getenv(const char *name)
{
  size_t n = strlen(name);

  for(const char *const *e = env; e && *e; e++)
    if(!strncmp(*e, name, n) && (*e)[n] == '=')
      return (char *)*e + n + 1;
  return NULL;
}

static void test_parse(void)
{
  struct rb_shard s;
  char msg[256];
  static const char *const bad[] = { "", "1", "0/3", "4/3", "1/0", "-1/3", "1/-3", "a/3", "1/3x", "1/10001",
                                     "/3", "1/", " 1/3", "99999999999999999999/3" };

  CU_ASSERT_EQUAL(rb_shard_parse("1/1", &s, msg, sizeof(msg)), RB_OK);
  CU_ASSERT_TRUE(s.index == 1 && s.total == 1);
  CU_ASSERT_EQUAL(rb_shard_parse("3/4", &s, msg, sizeof(msg)), RB_OK);
  CU_ASSERT_TRUE(s.index == 3 && s.total == 4);
  for(size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    CU_ASSERT_EQUAL(rb_shard_parse(bad[i], &s, msg, sizeof(msg)), RB_ERR_USAGE);
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, "expected I/N"));
  }
}

static rb_err from(const char *const *e, unsigned shards, struct rb_shard *s, char *msg)
{
  env = e;
  return rb_shard_from_env(fake_getenv, shards, s, msg, 256);
}

static void test_auto(void)
{
  struct rb_shard s;
  char msg[256];
  static const char *const gitlab[] = { "CI_NODE_INDEX=2", "CI_NODE_TOTAL=5", NULL };
  static const char *const k8s[] = { "JOB_COMPLETION_INDEX=0", NULL };
  static const char *const k8s_last[] = { "JOB_COMPLETION_INDEX=3", NULL };
  static const char *const explicit[] = { "REBOUND_SHARD=4/7", "CI_NODE_INDEX=2", "CI_NODE_TOTAL=5", NULL };
  static const char *const gitlab_bad[] = { "CI_NODE_INDEX=6", "CI_NODE_TOTAL=5", NULL };
  static const char *const none[] = { "CI_NODE_INDEX=2", NULL }; /* half of GitLab's pair */

  CU_ASSERT_EQUAL(from(gitlab, 0, &s, msg), RB_OK);
  CU_ASSERT_TRUE(s.index == 2 && s.total == 5);
  /* Kubernetes counts from 0 */
  CU_ASSERT_EQUAL(from(k8s, 4, &s, msg), RB_OK);
  CU_ASSERT_TRUE(s.index == 1 && s.total == 4);
  CU_ASSERT_EQUAL(from(k8s_last, 4, &s, msg), RB_OK);
  CU_ASSERT_TRUE(s.index == 4 && s.total == 4);
  CU_ASSERT_EQUAL(from(k8s_last, 3, &s, msg), RB_ERR_USAGE);
  CU_ASSERT_PTR_NOT_NULL(strstr(msg, "JOB_COMPLETION_INDEX=3: expected 0..2"));
  CU_ASSERT_EQUAL(from(k8s, 0, &s, msg), RB_ERR_USAGE);
  CU_ASSERT_PTR_NOT_NULL(strstr(msg, "--shards N"));
  /* REBOUND_SHARD wins */
  CU_ASSERT_EQUAL(from(explicit, 0, &s, msg), RB_OK);
  CU_ASSERT_TRUE(s.index == 4 && s.total == 7);
  CU_ASSERT_EQUAL(from(gitlab_bad, 0, &s, msg), RB_ERR_USAGE);
  CU_ASSERT_PTR_NOT_NULL(strstr(msg, "CI_NODE_INDEX=6 CI_NODE_TOTAL=5"));
  CU_ASSERT_EQUAL(from(none, 0, &s, msg), RB_ERR_USAGE);
  CU_ASSERT_PTR_NOT_NULL(strstr(msg, "none of REBOUND_SHARD"));
}

static void test_slices(void)
{
  for(unsigned n = 1; n <= 7; n++)
    for(size_t count = 0; count <= 20; count++) {
      size_t sizes[8] = { 0 }, lo = count, hi = 0;

      for(size_t k = 0; k < count; k++) {
        unsigned in = 0;

        for(unsigned i = 1; i <= n; i++) {
          struct rb_shard s = { i, n };

          if(rb_shard_has(&s, k)) {
            in++;
            sizes[i]++;
          }
        }
        CU_ASSERT_EQUAL(in, 1); /* each scenario in exactly one shard */
      }
      for(unsigned i = 1; i <= n; i++) {
        lo = sizes[i] < lo ? sizes[i] : lo;
        hi = sizes[i] > hi ? sizes[i] : hi;
      }
      CU_ASSERT_TRUE(hi - lo <= 1 || count == 0);
    }
  CU_ASSERT_TRUE(rb_shard_has(&(struct rb_shard){ 0, 0 }, 5)); /* not sharded: everything */
  CU_ASSERT_TRUE(rb_shard_has(&(struct rb_shard){ 2, 3 }, 1));  /* file order: 0->1, 1->2, 2->3 */
  CU_ASSERT_FALSE(rb_shard_has(&(struct rb_shard){ 2, 3 }, 2));
}

int main(void)
{
  static const struct rb_test_case cases[] = {
    RB_TEST(test_parse), RB_TEST(test_auto), RB_TEST(test_slices), RB_TEST_END
  };

  return rb_test_main("shard", cases);
}
