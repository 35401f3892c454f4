/* Unit tests of cgroup: a group no double fork leaves, killed at once, and a
   leftover cleanup that touches only groups of dead rebound processes. Skipped
   (exit 77, saying so) only where no writable cgroup v2 exists. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rb_test.h"
#include "rebound/cgroup.h"
#include "rebound/clock.h"
#include "rebound/procscan.h"

#define KILL_NS (5 * RB_NS_PER_S)

static char base[PATH_MAX / 2];

/* A process in the group that double-forks a setsid daemon; both wait forever.
   Returns the child's pid once the daemon exists and its intermediate parent is
   gone (so the group holds exactly 2 from then on), or -1. */
static pid_t start_pair(int dirfd)
{
  struct pollfd p;
  int ready[2];
  char c;
  pid_t pid;

  if(pipe2(ready, O_CLOEXEC) < 0)
    return -1;
  pid = fork();
  if(pid == 0) {
    pid_t mid;

    if(rb_cgroup_join(dirfd))
      _exit(1);
    mid = fork();
    if(mid == 0) {
      setsid();
      if(fork() == 0)
        for(;;)
          pause();
      _exit(0);
    }
    waitpid(mid, NULL, 0);
    if(write(ready[1], "x", 1) != 1)
      _exit(1);
    for(;;)
      pause();
  }
  close(ready[1]);
  p = (struct pollfd){ .fd = ready[0], .events = POLLIN };
  if(pid > 0 && (poll(&p, 1, (int)(KILL_NS / RB_NS_PER_MS)) != 1 || read(ready[0], &c, 1) != 1)) {
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    pid = -1;
  }
  close(ready[0]);
  return pid;
}

static size_t count_procs(const char *path)
{
  char file[PATH_MAX + 32], line[64];
  size_t n = 0;
  FILE *f;

  snprintf(file, sizeof(file), "%s/cgroup.procs", path);
  if(!(f = fopen(file, "r")))
    return 0;
  while(fgets(line, sizeof(line), f))
    n++;
  fclose(f);
  return n;
}

/* Wait (bounded) until the group holds n processes. */
static bool wait_procs(const char *path, size_t n)
{
  int64_t deadline = rb_clock_deadline(KILL_NS);

  while(count_procs(path) != n && rb_clock_now() < deadline)
    rb_clock_sleep(RB_NS_PER_MS);
  return count_procs(path) == n;
}

static void test_kill_takes_daemons_too(void)
{
  struct rb_cgroup cg;
  size_t killed = 0;
  char msg[256];
  pid_t child;

  CU_ASSERT_EQUAL_FATAL(rb_cgroup_create(&cg, msg, sizeof(msg)), RB_OK);
  CU_ASSERT(strstr(cg.path, "/rebound-") != NULL);
  child = start_pair(cg.dirfd);
  CU_ASSERT_FATAL(child > 0);
  /* the child and the daemon; the intermediate exits */
  CU_ASSERT(wait_procs(cg.path, 2));
  CU_ASSERT_EQUAL(rb_cgroup_kill(cg.dirfd, KILL_NS, &killed, msg, sizeof(msg)), RB_OK);
  CU_ASSERT_EQUAL(killed, 2);
  CU_ASSERT_EQUAL(count_procs(cg.path), 0);
  waitpid(child, NULL, 0);
  CU_ASSERT_EQUAL(rb_cgroup_destroy(&cg, KILL_NS, msg, sizeof(msg)), RB_OK);
  CU_ASSERT_EQUAL(access(cg.path, F_OK), -1);
  CU_ASSERT_EQUAL(cg.dirfd, -1);
  CU_ASSERT_EQUAL(rb_cgroup_destroy(&cg, KILL_NS, msg, sizeof(msg)), RB_OK); /* twice is fine */
}

struct seen {
  size_t n;
  pid_t owners[8];
  size_t killed[8];
};

static void record(const char *path, pid_t owner, size_t killed, void *arg)
{
  struct seen *s = arg;

  (void)path;
  if(s->n < 8) {
    s->owners[s->n] = owner;
    s->killed[s->n++] = killed;
  }
}

/* A group by hand, with a pair of processes in it. */
static void make_group(struct rb_cgroup *cg, const char *name, pid_t *child)
{
  snprintf(cg->path, sizeof(cg->path), "%s/%s", base, name);
  CU_ASSERT_EQUAL_FATAL(mkdir(cg->path, 0755), 0);
  cg->dirfd = open(cg->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  CU_ASSERT_FATAL(cg->dirfd >= 0);
  *child = start_pair(cg->dirfd);
  CU_ASSERT(wait_procs(cg->path, 2));
}

/* Only groups named as rebound's, whose owner (pid and start time) is dead. */
static void test_cleanup_touches_only_dead_owners(void)
{
  struct rb_proc_info self, gone = { 0 };
  struct rb_cgroup dead, reused, mine, foreign, other_ns, zombie_owned;
  struct rb_proc_info zinfo;
  pid_t c_dead, c_reused, c_mine, c_foreign, c_other_ns, c_zombie, zombie, dead_pid = fork();
  struct stat nsst;
  unsigned long ns = stat("/proc/self/ns/pid", &nsst) == 0 ? (unsigned long)nsst.st_ino : 0;
  char name[128], msg[256];
  struct seen seen = { 0 };
  size_t count = 0;

  if(dead_pid == 0)
    _exit(0);
  CU_ASSERT_FATAL(dead_pid > 0 && rb_proc_read_stat(getpid(), &self));

  waitpid(dead_pid, NULL, 0); /* a pid whose owner is gone */
  snprintf(name, sizeof(name), "rebound-%lu-%d-%llu-1", ns, (int)dead_pid, self.start);
  make_group(&dead, name, &c_dead);
  /* our pid with another start time: a reused pid, so the owner is gone */
  snprintf(name, sizeof(name), "rebound-%lu-%d-%llu-2", ns, (int)getpid(), self.start + 1);
  make_group(&reused, name, &c_reused);
  /* a live owner: us */
  snprintf(name, sizeof(name), "rebound-%lu-%d-%llu-3", ns, (int)getpid(), self.start);
  make_group(&mine, name, &c_mine);
  /* not a name of ours */
  snprintf(name, sizeof(name), "reboundx-%lu-%d-%llu-4", ns, (int)dead_pid, gone.start);
  make_group(&foreign, name, &c_foreign);
  /* an owner that died but is not reaped yet (a zombie) is dead too */
  {
    int64_t deadline = rb_clock_deadline(KILL_NS);

    zombie = fork();
    if(zombie == 0) {
      for(;;)
        pause();
    }
    CU_ASSERT_FATAL(zombie > 0 && rb_proc_read_stat(zombie, &zinfo));
    kill(zombie, SIGKILL);
    while(rb_proc_read_stat(zombie, &gone) && gone.state != 'Z' && rb_clock_now() < deadline)
      rb_clock_sleep(RB_NS_PER_MS);
    CU_ASSERT_EQUAL(gone.state, 'Z');
  }
  snprintf(name, sizeof(name), "rebound-%lu-%d-%llu-6", ns, (int)zombie, zinfo.start);
  make_group(&zombie_owned, name, &c_zombie);
  /* a dead pid, but in another pid namespace: not ours to judge */
  snprintf(name, sizeof(name), "rebound-%lu-%d-%llu-5", ns + 1, (int)dead_pid, self.start);
  make_group(&other_ns, name, &c_other_ns);

  CU_ASSERT_EQUAL(rb_cgroup_cleanup_leftovers(record, &seen, &count, msg, sizeof(msg)), RB_OK);
  CU_ASSERT_EQUAL(count, 3);
  CU_ASSERT_EQUAL(seen.n, 3);
  for(size_t i = 0; i < seen.n; i++) {
    CU_ASSERT(seen.owners[i] == dead_pid || seen.owners[i] == getpid() || seen.owners[i] == zombie);
    CU_ASSERT_EQUAL(seen.killed[i], 2);
  }
  CU_ASSERT_EQUAL(access(dead.path, F_OK), -1);
  CU_ASSERT_EQUAL(access(reused.path, F_OK), -1);
  CU_ASSERT_EQUAL(access(zombie_owned.path, F_OK), -1);
  CU_ASSERT_EQUAL(count_procs(mine.path), 2);
  CU_ASSERT_EQUAL(count_procs(foreign.path), 2);
  CU_ASSERT_EQUAL(count_procs(other_ns.path), 2);
  CU_ASSERT_EQUAL(rb_cgroup_destroy(&mine, KILL_NS, msg, sizeof(msg)), RB_OK);
  CU_ASSERT_EQUAL(rb_cgroup_destroy(&foreign, KILL_NS, msg, sizeof(msg)), RB_OK);
  CU_ASSERT_EQUAL(rb_cgroup_destroy(&other_ns, KILL_NS, msg, sizeof(msg)), RB_OK);
  close(dead.dirfd);
  close(reused.dirfd);
  close(zombie_owned.dirfd);
  for(pid_t *c = (pid_t[]){ c_dead, c_reused, c_mine, c_foreign, c_other_ns, c_zombie, zombie }, *e = c + 7; c < e; c++)
    waitpid(*c, NULL, 0);
}

static void test_base_given(void)
{
  char buf[PATH_MAX], msg[256];

  CU_ASSERT_EQUAL(rb_cgroup_base(buf, sizeof(buf), msg, sizeof(msg)), RB_OK);
  CU_ASSERT_STRING_EQUAL(buf, base);
  setenv("REBOUND_CGROUP_BASE", "/tmp", 1);
  CU_ASSERT_EQUAL(rb_cgroup_base(buf, sizeof(buf), msg, sizeof(msg)), RB_ERR_NOT_FOUND);
  CU_ASSERT(strstr(msg, "not a cgroup2 folder") != NULL);
  setenv("REBOUND_CGROUP_BASE", base, 1);
}

static void test_forced_fallback(void)
{
  struct rb_cgroup cg;
  char msg[256];

  setenv("REBOUND_CONTAINMENT", "subreaper", 1);
  CU_ASSERT_EQUAL(rb_cgroup_create(&cg, msg, sizeof(msg)), RB_ERR_NOT_FOUND);
  CU_ASSERT_STRING_EQUAL(msg, "REBOUND_CONTAINMENT=subreaper");
  CU_ASSERT_EQUAL(cg.dirfd, -1);
  CU_ASSERT_STRING_EQUAL(cg.path, "");
  unsetenv("REBOUND_CONTAINMENT");
}

int main(void)
{
  static const struct rb_test_case cases[] = {
    RB_TEST(test_kill_takes_daemons_too),
    RB_TEST(test_cleanup_touches_only_dead_owners),
    RB_TEST(test_base_given),
    RB_TEST(test_forced_fallback),
    RB_TEST_END,
  };
  char msg[512], real[PATH_MAX / 4];
  int code;

  if(rb_cgroup_base(real, sizeof(real), msg, sizeof(msg))) {
    printf("SKIP: no writable cgroup v2 here: %s\n", msg);
    return 77;
  }
  /* A private parent (not a name a cleanup takes for a leftover): a rebound running
     meanwhile must not clean up the "leftovers" this test makes on purpose. */
  snprintf(base, sizeof(base), "%s/rebound-unit-%d", real, (int)getpid());
  if(mkdir(base, 0755) < 0) {
    perror(base);
    return 2;
  }
  setenv("REBOUND_CGROUP_BASE", base, 1);
  code = rb_test_main("cgroup", cases);
  if(rmdir(base) < 0) {
    perror(base);
    code = code ? code : 1;
  }
  return code;
}
