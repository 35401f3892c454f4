/*
 * Bad scenario input beyond tests/unit/test_scenario.c: integers and durations
 * that overflow, ${} forms in typed keys, byte order marks and line endings,
 * whole-file oddities (1 MB line, NUL, whitespace only, a directory), and a
 * replay of the fuzz seed corpus (tests/fuzz/corpus/scenario) so that every
 * input the fuzzer started from is loaded under the plain, ASan and valgrind
 * runs too. Every error must name its place: "FILE:LINE: message".
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rb_test.h"
#include "rebound/clock.h"
#include "rebound/scenario.h"

static rb_err load(const char *text, struct rb_scenario_set *set, char *msg, size_t msglen)
{
  return rb_scenario_load_string(text, "t.ini", "/tmp", NULL, NULL, set, msg, msglen);
}

struct error_case {
  const char *text;
  const char *where;  /* expected prefix */
  const char *needle; /* expected part of the message */
};

static void test_more_errors(void)
{
  static const struct error_case cases[] = {
    /* integers that overflow their type, or are negative */
    { "[s]\ncommand = x\nport = 99999999999999999999999\n", "t.ini:3:", "bad port" },
    { "[s]\ncommand = x\nport = -1\n", "t.ini:3:", "bad port" },
    { "[s]\ncommand = x\nport = 65536\n", "t.ini:3:", "bad port" },
    { "[s]\ncommand = x\nport = 0x50\n", "t.ini:3:", "bad port" },
    { "[s]\ncommand = x\nhttp_port = 1e3\n", "t.ini:3:", "bad port" },
    { "[s]\ncommand = x\ncycles = -1\n", "t.ini:3:", "bad value" },
    { "[s]\ncommand = x\ncycles = 4294967297\n", "t.ini:3:", "bad value" },
    { "[s]\ncommand = x\npublishers = 18446744073709551616\n", "t.ini:3:", "bad value" },
    { "[s]\ncommand = x\nholders = 1.5\n", "t.ini:3:", "bad value" },
    { "[s]\ncommand = x\nseed = -1\n", "t.ini:3:", "bad value" },
    { "[s]\ncommand = x\nseed = 18446744073709551616\n", "t.ini:3:", "bad value" },
    /* durations that overflow int64 nanoseconds */
    { "[s]\ncommand = x\nrebind_timeout = 9999999999999999s\n", "t.ini:3:", "bad duration" },
    { "[s]\ncommand = x\ngrace = 99999999999999999999\n", "t.ini:3:", "bad duration" },
    { "[s]\ncommand = x\nhang_for = 1e400s\n", "t.ini:3:", "bad duration" },
    { "[s]\ncommand = x\nmax_rebind_ms = 99999999999999999999\n", "t.ini:3:", "bad" },
    { "[s]\ncommand = x\nmax_reconnect_ms = -5\n", "t.ini:3:", "bad" },
    { "[s]\ncommand = x\nready_timeout = \n", "t.ini:3:", "bad duration" },
    /* ${} in typed and checked keys */
    { "[s]\ncommand = x\ncycles = ${cycles\n", "t.ini:3:", "unterminated ${" },
    { "[s]\ncommand = x\ncycles = ${nope}\n", "t.ini:3:", "unknown variable ${nope}" },
    { "[s]\ncommand = x\ncycles = ${}\n", "t.ini:3:", "${" },
    { "[s]\ncommand = x\ngrace = ${grace}\n", "t.ini:3:", "too deep" },
    { "[s]\ncommand = x\nfault = exec:${nope}\n", "t.ini:3:", "unknown variable ${nope}" },
    { "[s]\ncommand = x ${\n", "t.ini:2:", "unterminated ${" },
    { "[global]\ncommand = x ${what\n[s]\n", "t.ini:2:", "unterminated ${" },
    /* sections */
    { "[global]\ncommand = x\n[global]\n[s]\n", "t.ini:3:", "duplicate section [global]" },
    { "[s]\ncommand = x\n[t]\n[s]\n", "t.ini:4:", "duplicate section [s] (first at line 1)" },
    { "[ ]\ncommand = x\n", "t.ini:1:", "section" },
    { "[s]]\ncommand = x\n", "t.ini:1:", "after section header" },
    { "[[s]\ncommand = x\n", "t.ini:1:", "section" },
    { "[s]\ncommand = x\n[", "t.ini:3:", "unterminated section header" },
    { "[s]\ncommand = x\n=y\n", "t.ini:3:", "" },
    /* binary content anywhere */
    { "[s]\ncommand = x\n\x1b[31m\n", "t.ini:3:", "binary content" },
    { "\x02[s]\ncommand = x\n", "t.ini:1:", "binary content" },
    { "[s]\ncommand = x\ncycles = 1\x7f\n", "t.ini:3:", "bad value" },
    /* nothing to run */
    { "", "t.ini", "no scenarios" },
    { "\n\n   \n\t\n", "t.ini", "no scenarios" },
    { "[global]\n", "t.ini", "no scenarios" },
  };

  for(size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    struct rb_scenario_set set;
    char msg[512] = "";
    rb_err err = load(cases[i].text, &set, msg, sizeof(msg));

    CU_ASSERT_EQUAL(err, RB_ERR_SCENARIO);
    CU_ASSERT_EQUAL(set.count, 0);
    if(err != RB_ERR_SCENARIO || strncmp(msg, cases[i].where, strlen(cases[i].where)) ||
       !strstr(msg, cases[i].needle)) {
      fprintf(stderr, "case %zu: got %d '%s', want '%s...%s'\n", i, err, msg, cases[i].where,
              cases[i].needle);
      CU_FAIL("error message");
    }
    if(!err)
      rb_scenario_set_free(&set);
  }
}

/* Accepted forms that editors produce: a byte order mark, CRLF, tabs, no final newline. */
static void test_accepted_forms(void)
{
  static const char *const texts[] = {
    "\xef\xbb\xbf[s]\ncommand = x\n",
    "[s]\r\ncommand = x\r\ncycles = 3\r\n",
    "[s]\n\tcommand\t=\tx\n",
    "[s]\ncommand = x",
    "; c\n# c\n[s]\ncommand = x\xc3\xa9\xff\n", /* bytes >= 0x80 belong to the command */
  };

  for(size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
    struct rb_scenario_set set;
    char msg[512] = "";

    if(load(texts[i], &set, msg, sizeof(msg)) != RB_OK) {
      fprintf(stderr, "accepted form %zu refused: %s\n", i, msg);
      CU_FAIL("accepted form");
      continue;
    }
    CU_ASSERT_EQUAL(set.count, 1);
    CU_ASSERT_STRING_EQUAL(set.items[0].name, "s");
    if(i == 1)
      CU_ASSERT_EQUAL(set.items[0].cycles, 3);
    rb_scenario_set_free(&set);
  }
}

static char *temp_file(const void *data, size_t len)
{
  static char path[64];
  FILE *f;
  int fd;

  strcpy(path, "/tmp/rb-scenario-fuzz-XXXXXX");
  fd = mkstemp(path);
  if(fd < 0 || !(f = fdopen(fd, "wb")))
    return NULL;
  if(fwrite(data, 1, len, f) != len) {
    fclose(f);
    unlink(path);
    return NULL;
  }
  fclose(f);
  return path;
}

static void expect_file_error(const void *data, size_t len, const char *line, const char *needle)
{
  struct rb_scenario_set set;
  char msg[512] = "", where[128], *path = temp_file(data, len);

  CU_ASSERT_PTR_NOT_NULL_FATAL(path);
  snprintf(where, sizeof(where), "%s%s", path, line);
  CU_ASSERT_EQUAL(rb_scenario_load(path, NULL, NULL, &set, msg, sizeof(msg)), RB_ERR_SCENARIO);
  if(strncmp(msg, where, strlen(where)) || !strstr(msg, needle)) {
    fprintf(stderr, "file case: got '%s', want '%s...%s'\n", msg, where, needle);
    CU_FAIL("file error message");
  }
  unlink(path);
}

static void test_file_errors(void)
{
  size_t n = 1024 * 1024;
  char *big = malloc(n + 32);
  struct rb_scenario_set set;
  char msg[512];

  CU_ASSERT_PTR_NOT_NULL_FATAL(big);
  /* a 1 MB line on line 3 */
  strcpy(big, "[s]\ncommand = x\n");
  memset(big + 16, 'k', n);
  memcpy(big + 16 + n, "\n", 2);
  expect_file_error(big, strlen(big), ":3:", "line too long");
  /* 1 MB of binary */
  for(size_t i = 0; i < n; i++)
    big[i] = (char)(i * 7 + 1);
  expect_file_error(big, n, ":1:", "binary content");
  free(big);
  expect_file_error("[s]\ncommand = x\n\0\n", 18, ":3:", "binary content (NUL byte)");
  expect_file_error("", 0, "", "empty file");
  /* a directory, a missing file: named, not a crash */
  CU_ASSERT_NOT_EQUAL(rb_scenario_load("/tmp", NULL, NULL, &set, msg, sizeof(msg)), RB_OK);
  CU_ASSERT_PTR_NOT_NULL(strstr(msg, "/tmp"));
  CU_ASSERT_EQUAL(rb_scenario_load("/nonexistent/dir/x.ini", NULL, NULL, &set, msg, sizeof(msg)),
                  RB_ERR_NOT_FOUND);
  CU_ASSERT_PTR_NOT_NULL(strstr(msg, "/nonexistent/dir/x.ini"));
}

/* Every seed of the scenario fuzzer loads or fails with a placed message, and
   expands without error or leak: the fuzz target's own checks, without libFuzzer. */
static void test_fuzz_corpus_replay(void)
{
  const char *dir = REBOUND_SOURCE_DIR "/tests/fuzz/corpus/scenario";
  struct rb_scenario_vars vars = { "/nonexistent/run", "/nonexistent/run/x.conf", 3, 1 };
  DIR *d = opendir(dir);
  struct dirent *e;
  int files = 0;

  CU_ASSERT_PTR_NOT_NULL_FATAL(d);
  while((e = readdir(d))) {
    char path[1024], msg[512] = "";
    struct rb_scenario_set set;
    rb_err err;

    if(e->d_name[0] == '.')
      continue;
    snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
    files++;
    err = rb_scenario_load(path, NULL, NULL, &set, msg, sizeof(msg));
    if(err) {
      if(strncmp(msg, path, strlen(path))) {
        fprintf(stderr, "%s: unplaced error '%s'\n", e->d_name, msg);
        CU_FAIL("placed error");
      }
      continue;
    }
    for(size_t i = 0; i < set.count; i++)
      for(int id = 0; id < RB_OPT__COUNT; id++) {
        char *out = NULL;

        if(rb_scenario_expand_key(&set.items[i], (enum rb_opt_id)id, &vars, &out, msg,
                                  sizeof(msg)) == RB_OK)
          free(out);
      }
    rb_scenario_set_free(&set);
  }
  closedir(d);
  CU_ASSERT(files >= 3);
}

int main(void)
{
  static const struct rb_test_case cases[] = {
    RB_TEST(test_more_errors),
    RB_TEST(test_accepted_forms),
    RB_TEST(test_file_errors),
    RB_TEST(test_fuzz_corpus_replay),
    RB_TEST_END
  };

  return rb_test_main("scenario_fuzzcases", cases);
}
