/* Unit tests of output: atomic replacement of regular files, symlinks followed and
   kept, devices written in place and never replaced, every write error reported
   with the path, nothing half-written left behind. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rb_test.h"
#include "rebound/output.h"

static char tmpdir[] = "/tmp/rb-output-XXXXXX";

static rb_err put_text(FILE *f, const void *arg, char *msg, size_t msglen)
{
  (void)msg;
  (void)msglen;
  fputs(arg, f);
  return RB_OK;
}

/* 64 KiB, so a device that refuses writes fails before the final flush too */
static rb_err put_big(FILE *f, const void *arg, char *msg, size_t msglen)
{
  (void)arg;
  (void)msg;
  (void)msglen;
  for(int i = 0; i < 1024; i++)
    fputs("0123456789012345678901234567890123456789012345678901234567890123", f);
  return RB_OK;
}

static rb_err put_fail(FILE *f, const void *arg, char *msg, size_t msglen)
{
  (void)arg;
  fputs("half", f);
  return rb_fail(msg, msglen, RB_ERR_NOMEM, "cannot build it");
}

static void path_of(char *buf, size_t len, const char *name)
{
  snprintf(buf, len, "%s/%s", tmpdir, name);
}

static char *slurp(const char *path)
{
  static char buf[256];
  FILE *f = fopen(path, "r");
  size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;

  buf[n] = '\0';
  if(f)
    fclose(f);
  return buf;
}

static void test_regular_file(void)
{
  char p[PATH_MAX], msg[512];
  struct stat st;
  size_t before = rb_test_count_entries(tmpdir);

  path_of(p, sizeof(p), "r.txt");
  CU_ASSERT_EQUAL(rb_output_write(p, put_text, "one", msg, sizeof(msg)), RB_OK);
  CU_ASSERT_STRING_EQUAL(slurp(p), "one");
  CU_ASSERT_EQUAL(rb_output_write(p, put_text, "two", msg, sizeof(msg)), RB_OK);
  CU_ASSERT_STRING_EQUAL(slurp(p), "two");
  CU_ASSERT_EQUAL(stat(p, &st), 0);
  CU_ASSERT_TRUE(S_ISREG(st.st_mode));
  CU_ASSERT_EQUAL(st.st_mode & 0777, 0666 & ~(mode_t)022); /* not mkstemp's 0600 (umask 022 set in main) */
  /* a replaced file keeps its mode (a private report stays private) */
  CU_ASSERT_EQUAL(chmod(p, 0600), 0);
  CU_ASSERT_EQUAL(rb_output_write(p, put_text, "three", msg, sizeof(msg)), RB_OK);
  CU_ASSERT_TRUE(stat(p, &st) == 0 && (st.st_mode & 0777) == 0600);
  CU_ASSERT_STRING_EQUAL(slurp(p), "three");
  /* a failing writer leaves the old content and no temporary file */
  CU_ASSERT_EQUAL(rb_output_write(p, put_fail, NULL, msg, sizeof(msg)), RB_ERR_NOMEM);
  CU_ASSERT_PTR_NOT_NULL(strstr(msg, "r.txt: cannot build it"));
  CU_ASSERT_STRING_EQUAL(slurp(p), "three");
  CU_ASSERT_EQUAL(rb_test_count_entries(tmpdir), before + 1);
}

static void test_symlinks_stay_links(void)
{
  char target[PATH_MAX], link1[PATH_MAX], link2[PATH_MAX], dangling[PATH_MAX], msg[512];
  struct stat st;

  path_of(target, sizeof(target), "target.txt");
  path_of(link1, sizeof(link1), "link1");
  path_of(link2, sizeof(link2), "link2");
  path_of(dangling, sizeof(dangling), "dangling");
  CU_ASSERT_EQUAL(rb_output_write(target, put_text, "old", msg, sizeof(msg)), RB_OK);
  CU_ASSERT_EQUAL(symlink("target.txt", link1), 0); /* relative, as in an artifacts store */
  CU_ASSERT_EQUAL(symlink(link1, link2), 0);         /* a chain */
  CU_ASSERT_EQUAL(rb_output_write(link2, put_text, "new", msg, sizeof(msg)), RB_OK);
  CU_ASSERT_STRING_EQUAL(slurp(target), "new");
  CU_ASSERT_TRUE(lstat(link1, &st) == 0 && S_ISLNK(st.st_mode));
  CU_ASSERT_TRUE(lstat(link2, &st) == 0 && S_ISLNK(st.st_mode));
  /* a dangling link: the file it names is created, the link stays */
  CU_ASSERT_EQUAL(symlink("created.txt", dangling), 0);
  CU_ASSERT_EQUAL(rb_output_write(dangling, put_text, "made", msg, sizeof(msg)), RB_OK);
  CU_ASSERT_TRUE(lstat(dangling, &st) == 0 && S_ISLNK(st.st_mode));
  path_of(target, sizeof(target), "created.txt");
  CU_ASSERT_STRING_EQUAL(slurp(target), "made");
}

static void test_devices_in_place(void)
{
  char msg[512], link[PATH_MAX];
  struct stat st;

  CU_ASSERT_EQUAL(rb_output_write("/dev/null", put_big, NULL, msg, sizeof(msg)), RB_OK);
  CU_ASSERT_TRUE(stat("/dev/null", &st) == 0 && S_ISCHR(st.st_mode));
  path_of(link, sizeof(link), "to-null");
  CU_ASSERT_EQUAL(symlink("/dev/null", link), 0);
  CU_ASSERT_EQUAL(rb_output_write(link, put_text, "x", msg, sizeof(msg)), RB_OK);
  CU_ASSERT_TRUE(lstat(link, &st) == 0 && S_ISLNK(st.st_mode));
  /* a full device: the error names the path and the cause; the device stays */
  CU_ASSERT_EQUAL(rb_output_write("/dev/full", put_text, "x", msg, sizeof(msg)), RB_ERR_IO);
  CU_ASSERT_PTR_NOT_NULL(strstr(msg, "/dev/full: No space left on device"));
  CU_ASSERT_EQUAL(rb_output_write("/dev/full", put_big, NULL, msg, sizeof(msg)), RB_ERR_IO);
  CU_ASSERT_STRING_EQUAL(msg, "/dev/full: No space left on device");
  CU_ASSERT_TRUE(stat("/dev/full", &st) == 0 && S_ISCHR(st.st_mode));
  /* a folder is never written */
  CU_ASSERT_EQUAL(rb_output_write(tmpdir, put_text, "x", msg, sizeof(msg)), RB_ERR_IO);
  CU_ASSERT_PTR_NOT_NULL(strstr(msg, "is a folder"));
}

static void test_missing_folder(void)
{
  char msg[512];

  CU_ASSERT_EQUAL(rb_output_write("/nonexistent-folder/r.json", put_text, "x", msg, sizeof(msg)), RB_ERR_IO);
  CU_ASSERT_STRING_EQUAL(msg, "/nonexistent-folder/r.json: No such file or directory");
}

static void test_append(void)
{
  char p[PATH_MAX], msg[512];
  struct rb_output *o;

  path_of(p, sizeof(p), "events.jsonl");
  for(int i = 0; i < 2; i++) {
    CU_ASSERT_PTR_NOT_NULL_FATAL(o = rb_output_open_append(p, msg, sizeof(msg)));
    fputs("line\n", rb_output_file(o));
    CU_ASSERT_EQUAL(rb_output_close(o, msg, sizeof(msg)), RB_OK);
  }
  CU_ASSERT_STRING_EQUAL(slurp(p), "line\nline\n");
  /* a write error that happened long before the close is still the one reported */
  CU_ASSERT_PTR_NOT_NULL_FATAL(o = rb_output_open_append("/dev/full", msg, sizeof(msg)));
  fputs("line\n", rb_output_file(o));
  fflush(rb_output_file(o));
  fputs("more\n", rb_output_file(o));
  CU_ASSERT_EQUAL(rb_output_close(o, msg, sizeof(msg)), RB_ERR_IO);
  CU_ASSERT_STRING_EQUAL(msg, "/dev/full: No space left on device");
}

int main(void)
{
  static const struct rb_test_case cases[] = {
    RB_TEST(test_regular_file), RB_TEST(test_symlinks_stay_links), RB_TEST(test_devices_in_place),
    RB_TEST(test_missing_folder), RB_TEST(test_append), RB_TEST_END
  };

  umask(022);
  return rb_test_main_in_tmpdir("output", cases, tmpdir);
}
