/* Unit tests for target: spawning, generations, faults, cleanup (also when the
   harness itself is SIGKILLed). Every wait polls against a deadline. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rb_test.h"
#include "rebound/clock.h"
#include "rebound/probe.h"
#include "rebound/sockdiag.h"
#include "rebound/target.h"

#define DAEMONIZE REBOUND_BINARY_DIR "/tests/daemonize"
#define WAIT_NS (5 * RB_NS_PER_S)

static char tmpdir[64];

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
  (void)st;
  (void)flag;
  (void)ftw;
  return remove(path);
}

static void remove_tmpdir(void)
{
  if(tmpdir[0])
    nftw(tmpdir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
}

static const char *tmp_path(const char *name, char *buf, size_t buflen)
{
  if(!tmpdir[0]) {
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/rb-test-target-XXXXXX");
    if(!mkdtemp(tmpdir))
      abort();
    atexit(remove_tmpdir);
  }
  snprintf(buf, buflen, "%s/%s", tmpdir, name);
  return buf;
}

static struct rb_target *create(void)
{
  struct rb_target *t = NULL;
  char msg[256];
  rb_err err = rb_target_create(&t, msg, sizeof(msg));

  if(err)
    fprintf(stderr, "rb_target_create: %s\n", msg);
  CU_ASSERT_FATAL(err == RB_OK && t != NULL);
  return t;
}

static bool start(struct rb_target *t, const char *command, const char *log, char *const *env)
{
  char msg[256];
  rb_err err = rb_target_start(t, command, log, env, msg, sizeof(msg));

  if(err)
    fprintf(stderr, "rb_target_start(%s): %s\n", command, msg);
  CU_ASSERT(err == RB_OK);
  return err == RB_OK;
}

static char proc_state(pid_t pid)
{
  char path[64], buf[512], *p;
  ssize_t n;
  int fd;

  snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
  fd = open(path, O_RDONLY);
  if(fd < 0)
    return 0;
  n = read(fd, buf, sizeof(buf) - 1);
  close(fd);
  if(n <= 0)
    return 0;
  buf[n] = '\0';
  p = strrchr(buf, ')');
  return p && p[1] ? p[2] : 0;
}

/* Gone, or a zombie nobody has reaped yet (it runs no code any more). */
static bool pid_gone(pid_t pid)
{
  char state;

  if(kill(pid, 0) < 0 && errno == ESRCH)
    return true;
  state = proc_state(pid);
  return state == 0 || state == 'Z' || state == 'X';
}

static bool wait_gone(pid_t pid, int64_t timeout_ns)
{
  int64_t deadline = rb_clock_deadline(timeout_ns);

  while(!pid_gone(pid)) {
    if(rb_clock_now() >= deadline)
      return false;
    rb_clock_sleep(RB_NS_PER_MS);
  }
  return true;
}

/* Poll rb_target_list until it shows at least n processes. */
static size_t wait_listed(struct rb_target *t, size_t n, pid_t *pids, size_t max)
{
  int64_t deadline = rb_clock_deadline(WAIT_NS);
  size_t got;

  while((got = rb_target_list(t, pids, max)) < n && rb_clock_now() < deadline)
    rb_clock_sleep(RB_NS_PER_MS);
  return got;
}

static bool wait_exit(struct rb_target *t, struct rb_target_exit *ex)
{
  int64_t deadline = rb_clock_deadline(WAIT_NS);

  for(;;) {
    rb_target_poll_exit(t, ex);
    if(ex->exited)
      return true;
    if(rb_clock_now() >= deadline)
      return false;
    rb_clock_sleep(RB_NS_PER_MS);
  }
}

/* Wait until pid runs a program whose command line starts with prefix. */
static bool wait_cmdline(pid_t pid, const char *prefix)
{
  int64_t deadline = rb_clock_deadline(WAIT_NS);
  char cmd[256];

  for(;;) {
    rb_proc_cmdline(pid, cmd, sizeof(cmd));
    if(!strncmp(cmd, prefix, strlen(prefix)))
      return true;
    if(rb_clock_now() >= deadline)
      return false;
    rb_clock_sleep(RB_NS_PER_MS);
  }
}

static pid_t read_pidfile(const char *path)
{
  int64_t deadline = rb_clock_deadline(WAIT_NS);

  for(;;) {
    FILE *f = fopen(path, "r");
    int pid = 0;

    if(f) {
      if(fscanf(f, "%d", &pid) != 1)
        pid = 0;
      fclose(f);
    }
    if(pid > 0 || rb_clock_now() >= deadline)
      return pid;
    rb_clock_sleep(RB_NS_PER_MS);
  }
}

static bool contains(const pid_t *pids, size_t n, pid_t pid)
{
  for(size_t i = 0; i < n; i++)
    if(pids[i] == pid)
      return true;
  return false;
}

static bool killed_by(const struct rb_target_exit *ex, int sig)
{
  return ex->exited && WIFSIGNALED(ex->status) && WTERMSIG(ex->status) == sig;
}

static rb_err fault(struct rb_target *t, enum rb_fault_kind kind, int64_t grace, int64_t hang, const char *exec,
                    int64_t timeout)
{
  struct rb_fault f = { .kind = kind, .grace_ns = grace, .hang_for_ns = hang, .exec_command = exec,
                        .timeout_ns = timeout };
  char msg[256] = "";
  rb_err err = rb_target_fault(t, &f, msg, sizeof(msg));

  if(err)
    fprintf(stderr, "(fault %d: %s) ", (int)kind, msg);
  return err;
}

/* ---- cases ------------------------------------------------------------------ */

static void test_start_and_kill_all(void)
{
  struct rb_target *t = create();
  struct rb_target_exit ex;
  pid_t pids[8], main_pid;

  CU_ASSERT_EQUAL(rb_target_main_pid(t), 0);
  CU_ASSERT_EQUAL(rb_target_list(t, pids, 8), 0);
  if(start(t, "exec sleep 30", NULL, NULL)) {
    main_pid = rb_target_main_pid(t);
    CU_ASSERT(main_pid > 0);
    CU_ASSERT_EQUAL(wait_listed(t, 1, pids, 8), 1);
    CU_ASSERT_EQUAL(pids[0], main_pid);
    CU_ASSERT(wait_cmdline(main_pid, "sleep 30"));
    pids[0] = 0;
    CU_ASSERT_EQUAL(rb_target_list(t, pids, 1), 1);
    CU_ASSERT_EQUAL(pids[0], main_pid);
    CU_ASSERT_EQUAL(rb_target_list(t, pids, 0), 0);
    CU_ASSERT_EQUAL(kill(main_pid, 0), 0);
    rb_target_poll_exit(t, &ex);
    CU_ASSERT_FALSE(ex.exited);
    CU_ASSERT_EQUAL(rb_target_kill_all(t, WAIT_NS, NULL, 0), RB_OK);
    rb_target_poll_exit(t, &ex);
    CU_ASSERT(killed_by(&ex, SIGKILL));
    CU_ASSERT(ex.at_ns > 0 && ex.at_ns <= rb_clock_now());
    CU_ASSERT(wait_gone(main_pid, WAIT_NS));
    CU_ASSERT_EQUAL(rb_target_list(t, pids, 8), 0);
    /* idempotent */
    CU_ASSERT_EQUAL(rb_target_kill_all(t, WAIT_NS, NULL, 0), RB_OK);
  }
  rb_target_destroy(t);
  rb_target_destroy(NULL);
}

static void test_exit_status(void)
{
  struct rb_target *t = create();
  struct rb_target_exit ex;
  char text[96];
  pid_t pids[4];

  if(start(t, "exit 3", NULL, NULL)) {
    CU_ASSERT(wait_exit(t, &ex));
    CU_ASSERT(WIFEXITED(ex.status) && WEXITSTATUS(ex.status) == 3);
    rb_target_describe_status(ex.status, text, sizeof(text));
    CU_ASSERT_STRING_EQUAL(text, "exited with status 3");
    CU_ASSERT_EQUAL(rb_target_list(t, pids, 4), 0);
  }
  /* a second generation: its exit is reported afresh */
  if(start(t, "exit 5", NULL, NULL)) {
    CU_ASSERT(wait_exit(t, &ex));
    CU_ASSERT(WIFEXITED(ex.status) && WEXITSTATUS(ex.status) == 5);
  }
  rb_target_destroy(t);
}

static void test_sigkill_tree(void)
{
  struct rb_target *t = create();
  struct rb_target_exit ex;
  pid_t pids[8];
  size_t n;

  if(start(t, "sleep 30 & exec sleep 31", NULL, NULL)) {
    n = wait_listed(t, 2, pids, 8);
    CU_ASSERT_EQUAL(n, 2);
    CU_ASSERT(contains(pids, n, rb_target_main_pid(t)));
    CU_ASSERT_EQUAL(fault(t, RB_FAULT_SIGKILL, 0, 0, NULL, WAIT_NS), RB_OK);
    rb_target_poll_exit(t, &ex); /* the fault returns once the main process was reaped */
    CU_ASSERT(killed_by(&ex, SIGKILL));
    for(size_t i = 0; i < n && n <= 8; i++)
      CU_ASSERT(wait_gone(pids[i], WAIT_NS));
    CU_ASSERT_EQUAL(rb_target_list(t, pids, 8), 0);
  }
  rb_target_destroy(t);
}

static void test_sigkill_main_leaves_survivor(void)
{
  struct rb_target *t = create();
  struct rb_target_exit ex;
  pid_t pids[8], main_pid, child = 0, new_main;
  size_t n;

  if(!start(t, "sleep 30 & exec sleep 31", NULL, NULL))
    goto out;
  main_pid = rb_target_main_pid(t);
  n = wait_listed(t, 2, pids, 8);
  CU_ASSERT_EQUAL(n, 2);
  if(n != 2)
    goto out;
  child = pids[0] == main_pid ? pids[1] : pids[0];
  CU_ASSERT_EQUAL(fault(t, RB_FAULT_SIGKILL_MAIN, 0, 0, NULL, WAIT_NS), RB_OK);
  rb_target_poll_exit(t, &ex);
  CU_ASSERT(killed_by(&ex, SIGKILL));
  CU_ASSERT(wait_gone(main_pid, WAIT_NS));
  CU_ASSERT_FALSE(pid_gone(child)); /* the "worker" survived its master */
  pids[0] = 0;
  CU_ASSERT_EQUAL(rb_target_list(t, pids, 1), 1); /* the generation still lives, in its child */
  CU_ASSERT_EQUAL(pids[0], child);
  CU_ASSERT_FALSE(rb_target_is_survivor(t, child)); /* not yet: no newer generation */
  if(!start(t, "exec sleep 32", NULL, NULL))
    goto out;
  new_main = rb_target_main_pid(t);
  CU_ASSERT(wait_cmdline(new_main, "sleep 32"));
  CU_ASSERT(rb_target_is_survivor(t, child));
  CU_ASSERT_FALSE(rb_target_is_survivor(t, new_main));
  CU_ASSERT_FALSE(rb_target_is_survivor(t, getpid()));
  n = rb_target_list(t, pids, 8);
  CU_ASSERT_EQUAL(n, 1);
  CU_ASSERT(contains(pids, n, new_main) && !contains(pids, n, child));
  CU_ASSERT_EQUAL(rb_target_kill_survivors(t, WAIT_NS, NULL, 0), RB_OK);
  CU_ASSERT(wait_gone(child, WAIT_NS));
  CU_ASSERT_FALSE(rb_target_is_survivor(t, child));
  CU_ASSERT_FALSE(pid_gone(new_main)); /* the current generation is untouched */
  rb_target_poll_exit(t, &ex);
  CU_ASSERT_FALSE(ex.exited);
out:
  rb_target_destroy(t);
  if(child > 0)
    CU_ASSERT(wait_gone(child, WAIT_NS));
}

/* A process orphaned before anyone listed it still belongs to its generation. */
static void test_unseen_orphan_is_survivor(void)
{
  struct rb_target *t = create();
  char pidfile[256], command[512];
  struct rb_target_exit ex;
  pid_t orphan, pids[8];
  size_t n;

  tmp_path("orphan-bg.pid", pidfile, sizeof(pidfile));
  snprintf(command, sizeof(command), "sleep 30 & echo $! > %s; exit 0", pidfile);
  if(!start(t, command, NULL, NULL))
    goto out;
  CU_ASSERT(wait_exit(t, &ex));
  orphan = read_pidfile(pidfile);
  CU_ASSERT(orphan > 0);
  if(orphan <= 0 || !start(t, "exec sleep 31", NULL, NULL))
    goto out;
  CU_ASSERT(rb_target_is_survivor(t, orphan));
  n = rb_target_list(t, pids, 8);
  CU_ASSERT_FALSE(contains(pids, n, orphan));
  CU_ASSERT(contains(pids, n, rb_target_main_pid(t)));
  CU_ASSERT_EQUAL(rb_target_kill_survivors(t, WAIT_NS, NULL, 0), RB_OK);
  CU_ASSERT(wait_gone(orphan, WAIT_NS));
out:
  rb_target_destroy(t);
}

static void test_daemon_is_ours(void)
{
  struct rb_target *t = create();
  char pidfile[256], command[512], msg[64];
  struct rb_target_exit ex;
  pid_t pids[8], daemon_pid;
  uint16_t port = 0;
  int64_t deadline;
  size_t n = 0;

  CU_ASSERT_EQUAL_FATAL(rb_probe_free_port(&port, msg, sizeof(msg)), RB_OK);
  tmp_path("daemon.pid", pidfile, sizeof(pidfile));
  snprintf(command, sizeof(command), "exec %s %s %u", DAEMONIZE, pidfile, port);
  if(!start(t, command, NULL, NULL))
    goto out;
  daemon_pid = read_pidfile(pidfile);
  CU_ASSERT(daemon_pid > 0);
  if(daemon_pid <= 0)
    goto out;
  CU_ASSERT(wait_exit(t, &ex)); /* the foreground process returned 0, as daemons do */
  CU_ASSERT(WIFEXITED(ex.status) && WEXITSTATUS(ex.status) == 0);
  deadline = rb_clock_deadline(WAIT_NS);
  while(!contains(pids, n = rb_target_list(t, pids, 8), daemon_pid) && rb_clock_now() < deadline)
    rb_clock_sleep(RB_NS_PER_MS);
  CU_ASSERT(contains(pids, n, daemon_pid));
  pids[0] = 0;
  CU_ASSERT_EQUAL(rb_target_list(t, pids, 1), 1);
  CU_ASSERT_EQUAL(pids[0], daemon_pid);
  CU_ASSERT_FALSE(rb_target_is_survivor(t, daemon_pid));
  CU_ASSERT(rb_sockdiag_is_listening(port));
  CU_ASSERT_EQUAL(fault(t, RB_FAULT_SIGKILL, 0, 0, NULL, WAIT_NS), RB_OK);
  CU_ASSERT(wait_gone(daemon_pid, WAIT_NS));
  CU_ASSERT_FALSE(rb_sockdiag_is_listening(port));
  CU_ASSERT_EQUAL(rb_target_list(t, pids, 8), 0);
out:
  rb_target_destroy(t);
}

static void test_sigterm(void)
{
  struct rb_target *t = create();
  struct rb_target_exit ex;
  int64_t t0, took;

  /* a target that ends on SIGTERM: no need to wait for the grace period */
  if(start(t, "exec sleep 30", NULL, NULL)) {
    CU_ASSERT(wait_cmdline(rb_target_main_pid(t), "sleep"));
    t0 = rb_clock_now();
    CU_ASSERT_EQUAL(fault(t, RB_FAULT_SIGTERM, 3 * RB_NS_PER_S, 0, NULL, WAIT_NS), RB_OK);
    took = rb_clock_now() - t0;
    rb_target_poll_exit(t, &ex);
    CU_ASSERT(killed_by(&ex, SIGTERM));
    CU_ASSERT(took < 2 * RB_NS_PER_S);
  }
  /* one that ignores it: SIGKILLed after the grace period */
  if(start(t, "trap '' TERM; exec sleep 30", NULL, NULL)) {
    CU_ASSERT(wait_cmdline(rb_target_main_pid(t), "sleep"));
    t0 = rb_clock_now();
    CU_ASSERT_EQUAL(fault(t, RB_FAULT_SIGTERM, 300 * RB_NS_PER_MS, 0, NULL, WAIT_NS), RB_OK);
    took = rb_clock_now() - t0;
    rb_target_poll_exit(t, &ex);
    CU_ASSERT(killed_by(&ex, SIGKILL));
    CU_ASSERT(took >= 300 * RB_NS_PER_MS);
    CU_ASSERT(took < 3 * RB_NS_PER_S);
  }
  rb_target_destroy(t);
}

struct stop_watch {
  pid_t pids[2];
  int64_t until;
  bool saw_stopped;
};

/* Watches the tree while the HANG fault runs in the test thread. */
static void *watch_stopped(void *arg)
{
  struct stop_watch *w = arg;

  while(rb_clock_now() < w->until) {
    char a = proc_state(w->pids[0]), b = proc_state(w->pids[1]);

    if(a == 'T' && b == 'T') {
      w->saw_stopped = true;
      break;
    }
    rb_clock_sleep(RB_NS_PER_MS);
  }
  return NULL;
}

static void test_hang(void)
{
  struct rb_target *t = create();
  struct stop_watch w = { .saw_stopped = false };
  struct rb_target_exit ex;
  pthread_t th;
  int64_t t0, took;
  pid_t pids[8];

  if(start(t, "sleep 30 & exec sleep 31", NULL, NULL)) {
    CU_ASSERT_EQUAL(wait_listed(t, 2, pids, 8), 2);
    w.pids[0] = pids[0];
    w.pids[1] = pids[1];
    w.until = rb_clock_deadline(400 * RB_NS_PER_MS);
    CU_ASSERT(pthread_create(&th, NULL, watch_stopped, &w) == 0);
    t0 = rb_clock_now();
    CU_ASSERT_EQUAL(fault(t, RB_FAULT_HANG, 0, 400 * RB_NS_PER_MS, NULL, WAIT_NS), RB_OK);
    took = rb_clock_now() - t0;
    pthread_join(th, NULL);
    CU_ASSERT(w.saw_stopped);
    CU_ASSERT(took >= 400 * RB_NS_PER_MS && took < 3 * RB_NS_PER_S);
    rb_target_poll_exit(t, &ex);
    CU_ASSERT(killed_by(&ex, SIGKILL));
    CU_ASSERT(wait_gone(pids[0], WAIT_NS));
    CU_ASSERT(wait_gone(pids[1], WAIT_NS));
  }
  rb_target_destroy(t);
}

/* Is any process running exactly this command line? */
static bool command_running(const char *cmdline)
{
  DIR *d = opendir("/proc");
  struct dirent *de;
  bool found = false;

  while(d && !found && (de = readdir(d))) {
    char cmd[256];
    pid_t pid = (pid_t)atoi(de->d_name);

    if(pid <= 0 || pid_gone(pid))
      continue;
    rb_proc_cmdline(pid, cmd, sizeof(cmd));
    found = !strcmp(cmd, cmdline);
  }
  if(d)
    closedir(d);
  return found;
}

static void test_exec_fault(void)
{
  struct rb_target *t = create();
  char command[128], log[256], tail[256], marker[64];
  struct rb_target_exit ex;
  int64_t t0;

  tmp_path("exec.log", log, sizeof(log));
  if(start(t, "exec sleep 30", log, NULL)) {
    snprintf(command, sizeof(command), "echo from-exec; kill -KILL %d", (int)rb_target_main_pid(t));
    CU_ASSERT_EQUAL(fault(t, RB_FAULT_EXEC, 0, 0, command, WAIT_NS), RB_OK);
    CU_ASSERT(wait_exit(t, &ex));
    CU_ASSERT(killed_by(&ex, SIGKILL));
    rb_target_log_tail(log, 1, tail, sizeof(tail));
    CU_ASSERT_STRING_EQUAL(tail, "from-exec"); /* the command's output went to the log */
  }
  CU_ASSERT_NOT_EQUAL(fault(t, RB_FAULT_EXEC, 0, 0, "exit 4", WAIT_NS), RB_OK);
  CU_ASSERT_NOT_EQUAL(fault(t, RB_FAULT_EXEC, 0, 0, NULL, WAIT_NS), RB_OK);
  /* a command that does not finish: timeout, and nothing of it stays behind */
  snprintf(marker, sizeof(marker), "sleep 29.%d", (int)getpid());
  snprintf(command, sizeof(command), "exec %s", marker);
  t0 = rb_clock_now();
  CU_ASSERT_EQUAL(fault(t, RB_FAULT_EXEC, 0, 0, command, 300 * RB_NS_PER_MS), RB_ERR_TIMEOUT);
  CU_ASSERT(rb_clock_now() - t0 < 3 * RB_NS_PER_S);
  CU_ASSERT_FALSE(command_running(marker));
  rb_target_destroy(t);
}

static void test_log_and_env(void)
{
  static char value[] = "RB_TEST_VALUE=marker-42";
  char *const env[] = { value, NULL };
  struct rb_target *t = create();
  char log[256], tail[512], small[8];
  struct rb_target_exit ex;

  tmp_path("target.log", log, sizeof(log));
  if(start(t, "echo first; echo \"value=$RB_TEST_VALUE\"; echo err >&2; printf 'bin\\001ary\\n'", log, env)) {
    CU_ASSERT(wait_exit(t, &ex));
    rb_target_log_tail(log, 2, tail, sizeof(tail));
    CU_ASSERT_STRING_EQUAL(tail, "err\nbin?ary");
    rb_target_log_tail(log, 100, tail, sizeof(tail));
    CU_ASSERT_STRING_EQUAL(tail, "first\nvalue=marker-42\nerr\nbin?ary");
    rb_target_log_tail(log, 1, small, sizeof(small));
    CU_ASSERT_STRING_EQUAL(small, "bin?ary");
    rb_target_log_tail(log, 2, small, sizeof(small));
    CU_ASSERT_STRING_EQUAL(small, "bin?ary"); /* the end is kept when it does not fit */
  }
  /* appended, not truncated */
  if(start(t, "echo second", log, NULL)) {
    CU_ASSERT(wait_exit(t, &ex));
    rb_target_log_tail(log, 2, tail, sizeof(tail));
    CU_ASSERT_STRING_EQUAL(tail, "bin?ary\nsecond");
  }
  rb_target_log_tail("/nonexistent/rebound.log", 5, tail, sizeof(tail));
  CU_ASSERT_STRING_EQUAL(tail, "");
  /* an unopenable log is an error of start, with the path in the message */
  {
    char msg[256] = "";

    CU_ASSERT_NOT_EQUAL(rb_target_start(t, "true", "/nonexistent/dir/x.log", NULL, msg, sizeof(msg)), RB_OK);
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, "/nonexistent/dir/x.log"));
  }
  rb_target_destroy(t);
}

static unsigned long socket_inode(int fd)
{
  struct stat st;

  return fstat(fd, &st) == 0 ? (unsigned long)st.st_ino : 0;
}

/* Names of the fds of pid, and whether one of them is socket inode. */
static int list_fds(pid_t pid, int *fds, int max, unsigned long inode, bool *has_inode)
{
  char path[64], link[128], want[64];
  struct dirent *de;
  int n = 0;
  DIR *d;

  snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
  snprintf(want, sizeof(want), "socket:[%lu]", inode);
  *has_inode = false;
  d = opendir(path);
  while(d && (de = readdir(d))) {
    char fdpath[384];
    ssize_t len;

    if(de->d_name[0] == '.')
      continue;
    snprintf(fdpath, sizeof(fdpath), "%s/%s", path, de->d_name);
    len = readlink(fdpath, link, sizeof(link) - 1);
    if(len > 0) {
      link[len] = '\0';
      *has_inode |= !strcmp(link, want);
    }
    /* valgrind keeps its own fds above the limit it shows its client */
    if(n < max && atoi(de->d_name) < sysconf(_SC_OPEN_MAX))
      fds[n++] = atoi(de->d_name);
  }
  if(d)
    closedir(d);
  return n;
}

static void test_no_inherited_fds(void)
{
  struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
  int listener = socket(AF_INET, SOCK_STREAM, 0); /* deliberately not close-on-exec */
  struct rb_target *t;
  char link[64];
  int fds[16], n;
  bool leaked;
  int64_t deadline;
  pid_t main_pid, keeper;
  ssize_t len;
  FILE *f;
  char stat[256];

  CU_ASSERT_FATAL(listener >= 0);
  CU_ASSERT_FATAL(bind(listener, (struct sockaddr *)&sa, sizeof(sa)) == 0 && listen(listener, 4) == 0);
  t = create();
  if(start(t, "exec sleep 30", NULL, NULL)) {
    main_pid = rb_target_main_pid(t);
    CU_ASSERT(wait_cmdline(main_pid, "sleep 30"));
    /* just after exec the dynamic loader may hold a library open for a moment;
       an inherited fd would stay forever */
    deadline = rb_clock_deadline(WAIT_NS);
    while((n = list_fds(main_pid, fds, 16, socket_inode(listener), &leaked)) != 3 && rb_clock_now() < deadline)
      rb_clock_sleep(RB_NS_PER_MS);
    CU_ASSERT_EQUAL(n, 3);
    CU_ASSERT_FALSE(leaked);
    snprintf(stat, sizeof(stat), "/proc/%d/fd/0", (int)main_pid);
    len = readlink(stat, link, sizeof(link) - 1);
    CU_ASSERT(len > 0);
    link[len > 0 ? len : 0] = '\0';
    CU_ASSERT_STRING_EQUAL(link, "/dev/null");
    CU_ASSERT_EQUAL(getsid(main_pid), main_pid); /* its own session */
    /* the keeper (the main process's parent) holds nothing of ours either */
    snprintf(stat, sizeof(stat), "/proc/%d/stat", (int)main_pid);
    f = fopen(stat, "r");
    keeper = 0;
    if(f) {
      if(fscanf(f, "%*d %*s %*c %d", &keeper) != 1)
        keeper = 0;
      fclose(f);
    }
    CU_ASSERT(keeper > 0 && keeper != getpid());
    if(keeper > 0) {
      n = list_fds(keeper, fds, 16, socket_inode(listener), &leaked);
      CU_ASSERT_FALSE(leaked);
      CU_ASSERT(n <= 5); /* stdio, its socket, its signalfd */
    }
  }
  rb_target_destroy(t);
  close(listener);
}

/* The harness is SIGKILLed while its target has daemonised: the keeper must take
   the daemon down with it. */
static void test_harness_sigkill(void)
{
  char pidfile[256], command[512];
  int pipefd[2];
  pid_t child, daemon_pid = 0;
  int64_t deadline;

  tmp_path("orphan.pid", pidfile, sizeof(pidfile));
  snprintf(command, sizeof(command), "exec %s %s 0", DAEMONIZE, pidfile);
  /* we adopt the orphaned keeper so that we can reap it */
  CU_ASSERT_FATAL(prctl(PR_SET_CHILD_SUBREAPER, 1) == 0);
  CU_ASSERT_FATAL(pipe(pipefd) == 0);
  child = fork();
  CU_ASSERT_FATAL(child >= 0);
  if(child == 0) {
    struct rb_target *t = NULL;
    pid_t pid = 0;

    close(pipefd[0]);
    alarm(30);
    if(rb_target_create(&t, NULL, 0) == RB_OK && rb_target_start(t, command, NULL, NULL, NULL, 0) == RB_OK)
      pid = read_pidfile(pidfile);
    if(write(pipefd[1], &pid, sizeof(pid)) != sizeof(pid))
      _exit(1);
    for(;;)
      pause(); /* SIGKILLed by the parent (or the alarm) */
  }
  close(pipefd[1]);
  {
    struct pollfd p = { .fd = pipefd[0], .events = POLLIN };

    if(poll(&p, 1, 10000) == 1 && read(pipefd[0], &daemon_pid, sizeof(daemon_pid)) != sizeof(daemon_pid))
      daemon_pid = 0;
  }
  close(pipefd[0]);
  CU_ASSERT(daemon_pid > 0);
  CU_ASSERT(daemon_pid > 0 && !pid_gone(daemon_pid));
  kill(child, SIGKILL);
  waitpid(child, NULL, 0);
  if(daemon_pid > 0)
    CU_ASSERT(wait_gone(daemon_pid, WAIT_NS));
  /* reap the keeper, which came to us */
  deadline = rb_clock_deadline(WAIT_NS);
  for(;;) {
    pid_t r = waitpid(-1, NULL, WNOHANG);

    if(r < 0 && errno == ECHILD)
      break;
    if(rb_clock_now() >= deadline) {
      CU_FAIL("the keeper did not exit after the harness was killed");
      break;
    }
    if(r <= 0)
      rb_clock_sleep(RB_NS_PER_MS);
  }
  prctl(PR_SET_CHILD_SUBREAPER, 0);
}

static void test_describe_and_cmdline(void)
{
  char buf[128];

  rb_target_describe_status(1 << 8, buf, sizeof(buf));
  CU_ASSERT_STRING_EQUAL(buf, "exited with status 1");
  rb_target_describe_status(SIGKILL, buf, sizeof(buf));
  CU_ASSERT_STRING_EQUAL(buf, "killed by signal 9 (Killed)");
  rb_target_describe_status(SIGTERM, buf, sizeof(buf));
  CU_ASSERT_STRING_EQUAL(buf, "killed by signal 15 (Terminated)");
  rb_proc_cmdline(getpid(), buf, sizeof(buf));
  CU_ASSERT_PTR_NOT_NULL(strstr(buf, "test_target"));
  rb_proc_cmdline(0x3ffffff0, buf, sizeof(buf));
  CU_ASSERT_STRING_EQUAL(buf, "?");
  rb_proc_cmdline(getpid(), buf, 5);
  CU_ASSERT_EQUAL(strlen(buf), 4);
}

static void test_start_errors(void)
{
  struct rb_target *t = create();
  char msg[128];

  CU_ASSERT_EQUAL(rb_target_start(t, "", NULL, NULL, msg, sizeof(msg)), RB_ERR_USAGE);
  CU_ASSERT_EQUAL(rb_target_start(t, NULL, NULL, NULL, msg, sizeof(msg)), RB_ERR_USAGE);
  CU_ASSERT_EQUAL(rb_target_kill_survivors(t, WAIT_NS, NULL, 0), RB_OK);
  rb_target_destroy(t);
}

/* The keeper SIGKILLed under a running target (its daemon included): the harness
   notices, says why, and nothing of the target is left (issue 12.5). */
static void check_keeper_sigkill(bool force_subreaper)
{
  char pidfile[256], command[512], why[RB_TARGET_WHY_LEN], want[64], msg[256];
  struct rb_target *t;
  const char *note;
  pid_t daemon_pid, keeper = 0, pids[16];
  int64_t deadline;
  bool lost = false, cgroup;

  if(force_subreaper)
    setenv("REBOUND_CONTAINMENT", "subreaper", 1);
  t = create();
  unsetenv("REBOUND_CONTAINMENT");
  cgroup = !strcmp(rb_target_containment(t, &note), "cgroup");
  CU_ASSERT(force_subreaper ? !cgroup : true);
  CU_ASSERT(force_subreaper ? !strcmp(note, "REBOUND_CONTAINMENT=subreaper") : true);
  tmp_path(force_subreaper ? "lost-sub.pid" : "lost.pid", pidfile, sizeof(pidfile));
  snprintf(command, sizeof(command), "exec %s %s 0", DAEMONIZE, pidfile);
  if(!start(t, command, NULL, NULL))
    goto out;
  daemon_pid = read_pidfile(pidfile);
  CU_ASSERT_FATAL(daemon_pid > 0);
  /* the daemon alone, adopted by the keeper (our child named rebound-keeper) once
     its intermediate parent is gone, and seen by the target module */
  deadline = rb_clock_deadline(WAIT_NS);
  while(rb_clock_now() < deadline) {
    char path[64], comm[32] = "";
    FILE *f;
    int ppid = 0, grand = 0;

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)daemon_pid);
    if((f = fopen(path, "r"))) {
      if(fscanf(f, "%*d %*s %*c %d", &ppid) != 1)
        ppid = 0;
      fclose(f);
    }
    snprintf(path, sizeof(path), "/proc/%d/stat", ppid);
    if(ppid > 1 && (f = fopen(path, "r"))) {
      if(fscanf(f, "%*d (%31[^)]) %*c %d", comm, &grand) != 2)
        grand = 0;
      fclose(f);
    }
    if(grand == getpid() && !strcmp(comm, "rebound-keeper") && rb_target_list(t, pids, 16) == 1 &&
       pids[0] == daemon_pid) {
      keeper = ppid;
      break;
    }
    rb_clock_sleep(RB_NS_PER_MS);
  }
  CU_ASSERT_FATAL(keeper > 1);
  CU_ASSERT_FALSE(rb_target_lost(t, why, sizeof(why)));
  CU_ASSERT_EQUAL_FATAL(kill(keeper, SIGKILL), 0);
  for(deadline = rb_clock_deadline(WAIT_NS); !lost && rb_clock_now() < deadline; rb_clock_sleep(RB_NS_PER_MS))
    lost = rb_target_lost(t, why, sizeof(why));
  CU_ASSERT_FATAL(lost);
  snprintf(want, sizeof(want), "keeper process (pid %d) killed by signal 9", (int)keeper);
  CU_ASSERT_PTR_NOT_NULL(strstr(why, want));
  CU_ASSERT_PTR_NOT_NULL(strstr(why, cgroup ? "through its cgroup" : "subreaper containment"));
  CU_ASSERT(wait_gone(daemon_pid, WAIT_NS));
  CU_ASSERT_EQUAL(rb_target_start(t, "exec sleep 1", NULL, NULL, msg, sizeof(msg)), RB_ERR_SPAWN);
out:
  rb_target_destroy(t);
}

static void test_keeper_sigkill(void)
{
  check_keeper_sigkill(false);
  check_keeper_sigkill(true);
}

/* A bounded log: a target that writes far more than the limit leaves at most the
   limit, and its last words are in the file as soon as its exit is reported. */
static void test_log_limit(void)
{
  static const char command[] =
    "i=0; while [ $i -lt 4000 ]; do echo \"line $i of a noisy server\"; i=$((i+1)); done; echo last words; exit 3";
  char log[256], tail[256];
  struct rb_target_exit ex = { 0 };
  struct rb_target *t = create();
  struct stat st;
  int64_t deadline;

  tmp_path("capped.log", log, sizeof(log));
  rb_target_set_log_limit(t, 8192);
  if(start(t, command, log, NULL)) {
    for(deadline = rb_clock_deadline(WAIT_NS); !ex.exited && rb_clock_now() < deadline; rb_clock_sleep(RB_NS_PER_MS))
      rb_target_poll_exit(t, &ex);
    CU_ASSERT_FATAL(ex.exited);
    CU_ASSERT(WIFEXITED(ex.status) && WEXITSTATUS(ex.status) == 3);
    /* read at once: the report came after the keeper drained the pipe */
    rb_target_log_tail(log, 1, tail, sizeof(tail));
    CU_ASSERT_STRING_EQUAL(tail, "last words");
    CU_ASSERT(stat(log, &st) == 0 && st.st_size <= 8192 && st.st_size > 4096);
  }
  rb_target_destroy(t);
  {
    FILE *f = fopen(log, "r");
    char line[256];
    int markers = 0, first = 0;

    CU_ASSERT_FATAL(f != NULL);
    while(fgets(line, sizeof(line), f)) {
      markers += !strncmp(line, "[rebound: ", 10) && strstr(line, "bytes of output dropped here");
      first += !strcmp(line, "line 0 of a noisy server\n");
    }
    fclose(f);
    CU_ASSERT_EQUAL(markers, 1);
    CU_ASSERT_EQUAL(first, 1); /* the head is kept */
  }
}

int main(void)
{
  static const struct rb_test_case cases[] = {
    RB_TEST(test_start_and_kill_all),
    RB_TEST(test_exit_status),
    RB_TEST(test_sigkill_tree),
    RB_TEST(test_sigkill_main_leaves_survivor),
    RB_TEST(test_unseen_orphan_is_survivor),
    RB_TEST(test_daemon_is_ours),
    RB_TEST(test_sigterm),
    RB_TEST(test_hang),
    RB_TEST(test_exec_fault),
    RB_TEST(test_log_and_env),
    RB_TEST(test_no_inherited_fds),
    RB_TEST(test_harness_sigkill),
    RB_TEST(test_describe_and_cmdline),
    RB_TEST(test_start_errors),
    RB_TEST(test_keeper_sigkill),
    RB_TEST(test_log_limit),
    RB_TEST_END
  };

  return rb_test_main("target", cases);
}
