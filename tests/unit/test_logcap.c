/* Unit tests of logcap: a log file that keeps the head and the tail of what it is
   given, never more than its limit, and says how much it dropped. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rb_test.h"
#include "rebound/logcap.h"

#define MARKER "[rebound: "

static char dir[] = "/tmp/rebound-logcap-XXXXXX";

static char *path_in_dir(const char *name)
{
  static char path[256];

  snprintf(path, sizeof(path), "%s/%s", dir, name);
  return path;
}

static int open_log(const char *name)
{
  return open(path_in_dir(name), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
}

static char *slurp(const char *name, size_t *len)
{
  FILE *f = fopen(path_in_dir(name), "rb");
  char *buf;
  long n;

  if(!f)
    return NULL;
  fseek(f, 0, SEEK_END);
  n = ftell(f);
  rewind(f);
  buf = malloc((size_t)n + 1);
  *len = fread(buf, 1, (size_t)n, f);
  buf[*len] = '\0';
  fclose(f);
  return buf;
}

/* The input: numbered lines, so that every byte knows where it came from. */
static size_t make_input(char *buf, size_t len)
{
  size_t used = 0;

  for(unsigned i = 0; used + 16 <= len; i++)
    used += (size_t)snprintf(buf + used, len - used, "line %09u\n", i); /* 15 bytes */
  return used;
}

/* Feed input in pieces of varying size (1 .. chunk), like reads from a pipe. */
static void feed(struct rb_logcap *lc, const char *in, size_t len)
{
  size_t chunk = rb_logcap_chunk(lc), off = 0, step = 1;

  while(off < len) {
    size_t n = step % chunk + 1;

    if(n > len - off)
      n = len - off;
    CU_ASSERT_EQUAL_FATAL(rb_logcap_write(lc, in + off, n), 0);
    off += n;
    step = step * 7 + 3;
  }
}

static void test_under_the_limit_keeps_everything(void)
{
  struct rb_logcap lc;
  char in[3000];
  size_t len = make_input(in, sizeof(in)), got_len;
  int fd = open_log("small.log");
  char *got;

  CU_ASSERT_EQUAL_FATAL(rb_logcap_open(&lc, fd, 4096), 0);
  feed(&lc, in, len);
  rb_logcap_close(&lc);
  got = slurp("small.log", &got_len);
  CU_ASSERT_EQUAL(got_len, len);
  CU_ASSERT_TRUE(got && !memcmp(got, in, len));
  CU_ASSERT_PTR_NULL(got ? strstr(got, MARKER) : NULL);
  free(got);
}

/* Ten times the limit: the file holds the exact head, one marker with the exact
   number of dropped bytes, and the exact end of the input, within the limit. */
static void check_flood(uint64_t limit, const char *prefix)
{
  size_t in_len = (size_t)limit * 10, got_len, prefix_len = strlen(prefix);
  char *in = malloc(in_len), *got, *marker, *nl, *tail;
  unsigned long long dropped;
  struct rb_logcap lc;
  int fd = open_log("flood.log");

  CU_ASSERT_FATAL(in != NULL);
  if(prefix_len)
    CU_ASSERT_EQUAL_FATAL(write(fd, prefix, prefix_len), (ssize_t)prefix_len);
  in_len = make_input(in, in_len);
  CU_ASSERT_EQUAL_FATAL(rb_logcap_open(&lc, fd, limit), 0);
  feed(&lc, in, in_len);
  rb_logcap_close(&lc);
  got = slurp("flood.log", &got_len);
  CU_ASSERT_FATAL(got != NULL);
  CU_ASSERT_TRUE(got_len <= prefix_len + limit);
  /* what was there before is left alone */
  CU_ASSERT_TRUE(!memcmp(got, prefix, prefix_len));
  /* the head: the first half of the limit, byte for byte */
  CU_ASSERT_TRUE(!memcmp(got + prefix_len, in, limit / 2));
  marker = strstr(got + prefix_len, MARKER);
  CU_ASSERT_FATAL(marker != NULL);
  CU_ASSERT_PTR_EQUAL(marker, got + prefix_len + limit / 2 + 1); /* the head ends mid-line: "\n" first */
  CU_ASSERT_PTR_NULL(strstr(marker + 1, MARKER));
  CU_ASSERT_EQUAL_FATAL(sscanf(marker, MARKER "%llu bytes", &dropped), 1);
  nl = strchr(marker, '\n');
  CU_ASSERT_FATAL(nl != NULL);
  tail = nl + 1;
  /* head + dropped + tail = everything, and the tail is the very end of the input */
  CU_ASSERT_EQUAL(limit / 2 + dropped + (size_t)(got + got_len - tail), in_len);
  CU_ASSERT_TRUE(!memcmp(tail, in + in_len - (size_t)(got + got_len - tail), (size_t)(got + got_len - tail)));
  /* at least the last quarter, less a line; and it starts with a whole line */
  CU_ASSERT_TRUE((size_t)(got + got_len - tail) + 15 >= limit / 4 - rb_logcap_chunk(&lc));
  CU_ASSERT_TRUE(!strncmp(tail, "line ", 5));
  free(got);
  free(in);
  unlink(path_in_dir("flood.log"));
}

static void test_flood_keeps_head_marker_and_tail(void)
{
  check_flood(4096, "");
  check_flood(1 << 20, "");
}

static void test_existing_content_is_not_counted(void)
{
  check_flood(8192, "written before: an exec fault's output\n");
}

static void test_refuses_what_it_cannot_bound(void)
{
  struct rb_logcap lc;
  int fd = open("/dev/null", O_WRONLY | O_CLOEXEC), file = open_log("refuse.log");

  CU_ASSERT_EQUAL(rb_logcap_open(&lc, fd, 1 << 20), EINVAL); /* not a regular file */
  CU_ASSERT_EQUAL(lc.fd, -1);
  CU_ASSERT_EQUAL(rb_logcap_open(&lc, file, RB_LOGCAP_MIN - 1), EINVAL);
  close(fd);
  fd = open(path_in_dir("refuse.log"), O_WRONLY | O_CLOEXEC);
  CU_ASSERT_EQUAL(rb_logcap_open(&lc, fd, RB_LOGCAP_MIN), EBADF); /* it must read the tail back */
  CU_ASSERT_EQUAL(rb_logcap_write(&lc, "x", 1), EBADF);
  rb_logcap_close(&lc); /* harmless when not open */
  CU_ASSERT_EQUAL_FATAL(rb_logcap_open(&lc, file, RB_LOGCAP_MIN), 0);
  CU_ASSERT_EQUAL(rb_logcap_write(&lc, dir, rb_logcap_chunk(&lc) + 1), EINVAL);
  rb_logcap_close(&lc);
  close(fd);
}

int main(void)
{
  static const struct rb_test_case cases[] = {
    RB_TEST(test_under_the_limit_keeps_everything),
    RB_TEST(test_flood_keeps_head_marker_and_tail),
    RB_TEST(test_existing_content_is_not_counted),
    RB_TEST(test_refuses_what_it_cannot_bound),
    RB_TEST_END,
  };

  return rb_test_main_in_tmpdir("logcap", cases, dir);
}
