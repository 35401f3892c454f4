/*
 * Tiny glue over CUnit shared by the unit test programs: a table of cases per
 * suite, and a main() that exits non-zero when any assertion failed.
 * (CU_get_error() only reports framework errors, not failed assertions, so a
 * runner that returns it lets a red test pass CI; fio's runner has that bug.)
 */
#ifndef REBOUND_TEST_H
#define REBOUND_TEST_H

#include <CUnit/Basic.h>
#include <ftw.h>
#include <CUnit/CUnit.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

struct rb_test_case {
  const char *name;
  void (*fn)(void);
};

#define RB_TEST(fn) { #fn, fn }
#define RB_TEST_END { NULL, NULL }

/* Run one suite of cases and return the process exit code. A guard alarm makes a
   hung test die instead of hanging CI. */
static inline int rb_test_main(const char *suite_name, const struct rb_test_case *cases)
{
  int failed;
  CU_pSuite suite;

  signal(SIGPIPE, SIG_IGN);
  alarm(100);
  if(CU_initialize_registry() != CUE_SUCCESS)
    return 2;
  suite = CU_add_suite(suite_name, NULL, NULL);
  if(!suite)
    goto error;
  for(const struct rb_test_case *c = cases; c->name; c++)
    if(!CU_add_test(suite, c->name, c->fn))
      goto error;
  CU_basic_set_mode(CU_BRM_VERBOSE);
  if(CU_basic_run_tests() != CUE_SUCCESS)
    goto error;
  failed = (int)(CU_get_number_of_tests_failed() + CU_get_number_of_failures());
  if(CU_get_number_of_tests_run() == 0)
    failed = 1; /* a suite that runs nothing must not pass */
  CU_cleanup_registry();
  return failed ? 1 : 0;
error:
  fprintf(stderr, "CUnit: %s\n", CU_get_error_msg());
  CU_cleanup_registry();
  return 2;
}

static inline int rb_test_remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
  (void)st;
  (void)flag;
  (void)ftw;
  return remove(path);
}

/* Entries of dir, not counting dot files (0 when it cannot be read). */
static inline size_t rb_test_count_entries(const char *dir)
{
  DIR *d = opendir(dir);
  struct dirent *e;
  size_t n = 0;

  while(d && (e = readdir(d)))
    n += e->d_name[0] != '.';
  if(d)
    closedir(d);
  return n;
}

/* rb_test_main with a private folder: tmpdir (a mkdtemp template, e.g.
   "/tmp/rb-x-XXXXXX") is created first and removed with everything in it after. */
static inline int rb_test_main_in_tmpdir(const char *suite_name, const struct rb_test_case *cases, char *tmpdir)
{
  int rc;

  if(!mkdtemp(tmpdir))
    return 2;
  rc = rb_test_main(suite_name, cases);
  if(nftw(tmpdir, rb_test_remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
    rc = rc ? rc : 1;
  return rc;
}

#endif
