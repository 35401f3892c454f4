/*
 * target: the server's process tree, across restarts.
 *
 * This module owns every process rebound starts for the server under test: it
 * spawns them (/bin/sh -c COMMAND, own session, stdin /dev/null, output appended
 * to a log), knows which live process belongs to which generation (one per
 * rb_target_start), injects faults, and guarantees that no process of the tree
 * outlives rebound, not even when rebound itself is SIGKILLed.
 *
 * The processes themselves are held by a keeper process (keeper.c: why, and
 * how no descendant escapes); this side asks it to spawn, learns the tree from
 * /proc (procscan.c), and signals its members.
 *
 * Generations. The harness keeps a table pid -> generation, with the process's
 * start time (/proc/<pid>/stat field 22) so that a reused pid is never mistaken
 * for a known process. The table is refreshed from a /proc scan of the keeper's
 * descendants whenever the tree is looked at (list, is_survivor, faults, start,
 * kills). A process seen for the first time gets:
 *  - the current generation if it is the current main process;
 *  - otherwise its parent's generation, if its parent is a descendant too;
 *  - otherwise (an orphan adopted by the keeper before we saw it, e.g. a
 *    daemon whose intermediate parent already exited) the current generation
 *    if it started at or after the current generation's start, else the one
 *    before.
 * rb_target_start scans before spawning, so every process alive at that moment
 * is already known as a member of an older generation; the start-time rule only
 * has to classify processes that were both born and orphaned between two scans.
 * Processes started by an `exec` fault form their own pseudo generation (AUX).
 */
#include "rebound/target.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rebound/cgroup.h"
#include "rebound/clock.h"
#include "rebound/keeper.h"
#include "rebound/logcap.h"
#include "rebound/procscan.h"

#define POLL_MIN_NS (200 * 1000)
#define POLL_MAX_NS (5 * RB_NS_PER_MS)
#define REPLY_TIMEOUT_NS (10 * RB_NS_PER_S)
#define DEFAULT_FAULT_NS (10 * RB_NS_PER_S)
#define DESTROY_KILL_NS (5 * RB_NS_PER_S)
#define KEEPER_EXIT_NS (3 * RB_NS_PER_S)
#define LOG_TAIL_MAX 65536
#define GEN_AUX (-1)

struct member {
  pid_t pid;
  pid_t ppid;
  unsigned long long start;
  int gen;     /* generation, or GEN_AUX */
  char state;  /* from the last scan */
  bool marked; /* chosen as a target of the fault in progress */
};

struct rb_target {
  pid_t keeper;
  int sock;
  bool keeper_gone;
  char lost_why[RB_TARGET_WHY_LEN]; /* set when the keeper went without being told */
  struct rb_cgroup cg;              /* dirfd -1: subreaper containment only */
  char containment_note[PATH_MAX + 128];
  uint32_t seq;
  uint32_t want_seq; /* the SPAWNED reply we wait for */
  bool want_aux;
  bool got_reply;
  int reply_err;
  int gen;                      /* current generation; -1 before the first start */
  unsigned long long gen_start; /* boot-time ticks at the current start */
  pid_t main;
  uint64_t log_limit; /* per spawn, see rb_target_set_log_limit */
  char *log_path; /* the current generation's log; exec faults write there too */
  struct rb_target_exit exit;
  pid_t aux;
  bool aux_exited;
  int aux_status;
  struct member *members;
  size_t nmembers, capmembers;
};

typedef bool (*member_pick)(const struct rb_target *t, const struct member *m);

static void handle_reply(struct rb_target *t, const struct rb_keeper_reply *r)
{
  if(r->type == RB_KEEPER_SPAWNED && r->seq == t->want_seq && !t->got_reply) {
    t->got_reply = true;
    t->reply_err = r->pid > 0 ? 0 : (r->value ? r->value : EAGAIN);
    if(r->pid > 0 && t->want_aux) {
      t->aux = r->pid;
      t->aux_exited = false;
    } else if(r->pid > 0) {
      t->main = r->pid;
      memset(&t->exit, 0, sizeof(t->exit));
    }
  } else if(r->type == RB_KEEPER_SPAWNED && r->pid > 0) {
    /* The answer to a spawn we gave up waiting for: it is nobody's target. The
       keeper has not reported its exit, so the pid still names that process. */
    kill(r->pid, SIGKILL);
  } else if(r->type == RB_KEEPER_EXIT) {
    if(r->pid == t->main && t->main && !t->exit.exited) {
      t->exit.exited = true;
      t->exit.status = r->value;
      t->exit.at_ns = r->at_ns;
    }
    if(r->pid == t->aux && t->aux) {
      t->aux_exited = true;
      t->aux_status = r->value;
    }
  }
}

/* Reap the keeper, bounded; SIGKILL it if it does not go by itself. *status is
   its wait status (0 when it could not be had). */
static void reap_keeper(pid_t keeper, int *status)
{
  *status = 0;
  for(int round = 0; round < 2; round++) {
    int64_t deadline = rb_clock_deadline(KEEPER_EXIT_NS), delay = POLL_MIN_NS;

    for(;;) {
      pid_t r = waitpid(keeper, status, WNOHANG);

      if(r == keeper || (r < 0 && errno != EINTR))
        return;
      if(rb_clock_now() >= deadline)
        break;
      rb_clock_sleep(delay);
      delay = delay * 2 > POLL_MAX_NS ? POLL_MAX_NS : delay * 2;
    }
    kill(keeper, SIGKILL);
  }
}

static void signal_member(const struct member *m, int sig);

/* The keeper went while the harness still needed it (SIGKILLed, say): nothing
   reaps or watches the tree now, so stop all of it at once. With a cgroup that is
   everything, daemons included; without, the processes we have seen (by pid and
   start time), and a daemon born since the last look escapes. */
static void keeper_lost(struct rb_target *t)
{
  char status[96];
  size_t killed = 0;
  int st;

  t->keeper_gone = true;
  reap_keeper(t->keeper, &st); /* its socket closed as it exited: this is quick */
  rb_target_describe_status(st, status, sizeof(status));
  if(t->cg.dirfd >= 0)
    rb_cgroup_kill(t->cg.dirfd, DESTROY_KILL_NS, &killed, NULL, 0);
  for(size_t i = 0; i < t->nmembers; i++)
    signal_member(&t->members[i], SIGKILL);
  if(t->cg.dirfd >= 0)
    snprintf(t->lost_why, sizeof(t->lost_why), "rebound's keeper process (pid %d) %s; the whole target was "
             "stopped through its cgroup (%zu process%s still to kill) and the run cannot go on", (int)t->keeper,
             status, killed, killed == 1 ? "" : "es");
  else
    snprintf(t->lost_why, sizeof(t->lost_why), "rebound's keeper process (pid %d) %s; the target's known "
             "processes were killed, but without a cgroup (subreaper containment) one that daemonised since may "
             "have escaped, and the run cannot go on", (int)t->keeper, status);
}

/* Take every reply the keeper has sent, without blocking. */
static void drain(struct rb_target *t)
{
  struct rb_keeper_reply r;

  while(!t->keeper_gone) {
    ssize_t n = recv(t->sock, &r, sizeof(r), MSG_DONTWAIT);

    if(n < 0 && errno == EINTR)
      continue;
    if(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
      break;
    /* Only EOF (or a reset) means the keeper is gone; any other error (ENOBUFS
       under memory pressure, say) is no reason to stop the whole target. */
    if(n == 0 || (n < 0 && (errno == ECONNRESET || errno == ENOTCONN))) {
      keeper_lost(t);
      break;
    }
    if(n < 0)
      break;
    if((size_t)n == sizeof(r))
      handle_reply(t, &r);
  }
}

/* Sleep up to ns, waking early when the keeper says something. */
static void wait_keeper(struct rb_target *t, int64_t ns)
{
  struct pollfd p = { .fd = t->sock, .events = POLLIN };
  struct timespec ts;

  if(ns <= 0)
    return;
  if(t->keeper_gone) {
    rb_clock_sleep(ns);
    return;
  }
  ts.tv_sec = ns / RB_NS_PER_S;
  ts.tv_nsec = ns % RB_NS_PER_S;
  ppoll(&p, 1, &ts, NULL);
}

static struct member *find_member(struct rb_target *t, pid_t pid)
{
  for(size_t i = 0; i < t->nmembers; i++)
    if(t->members[i].pid == pid)
      return &t->members[i];
  return NULL;
}

static struct member *add_member(struct rb_target *t, const struct rb_proc_info *pi, int gen)
{
  struct member *m;

  if(t->nmembers == t->capmembers) {
    size_t cap = t->capmembers ? 2 * t->capmembers : 32;
    struct member *bigger = realloc(t->members, cap * sizeof(*bigger));

    if(!bigger)
      return NULL;
    t->members = bigger;
    t->capmembers = cap;
  }
  m = &t->members[t->nmembers++];
  memset(m, 0, sizeof(*m));
  m->pid = pi->pid;
  m->ppid = pi->ppid;
  m->start = pi->start;
  m->state = pi->state;
  m->gen = gen;
  return m;
}

/* The generation of a descendant seen for the first time (see the top of the
   file); learns its unknown ancestors on the way. */
static int classify(struct rb_target *t, const struct rb_proc_table *tab, const struct rb_proc_info *pi, unsigned depth)
{
  const struct rb_proc_info *parent;
  struct member *m = find_member(t, pi->pid);
  int gen;

  if(m)
    return m->gen;
  if(pi->pid == t->main) {
    gen = t->gen;
  } else if(pi->ppid == t->keeper || depth > 1000 || !(parent = rb_proc_find(tab, pi->ppid))) {
    gen = pi->start >= t->gen_start || t->gen <= 0 ? t->gen : t->gen - 1;
  } else {
    gen = classify(t, tab, parent, depth + 1);
  }
  add_member(t, pi, gen);
  return gen;
}

/* Bring the member table up to date with a /proc scan of the keeper's tree. */
static void refresh(struct rb_target *t)
{
  struct rb_proc_table tab = { 0 };
  unsigned char *desc = NULL;
  size_t keep = 0;

  /* A dead keeper's pid may already name another process: its descendants are
     not ours (keeper_lost has stopped everything that was). */
  if(t->keeper_gone) {
    t->nmembers = 0;
    return;
  }
  if(!(rb_proc_scan_tree(&tab, t->keeper) || rb_proc_scan_all(&tab)) || !(desc = malloc(tab.n ? tab.n : 1)) ||
     !rb_proc_mark_descendants(&tab, t->keeper, desc))
    goto out;
  for(size_t i = 0; i < t->nmembers; i++) {
    struct member *m = &t->members[i];
    const struct rb_proc_info *pi = rb_proc_find(&tab, m->pid);

    /* gone, or the pid now names another process */
    if(!pi || desc[pi - tab.v] != 1 || pi->start != m->start)
      continue;
    m->state = pi->state;
    m->ppid = pi->ppid;
    t->members[keep++] = *m;
  }
  t->nmembers = keep;
  for(size_t i = 0; i < tab.n; i++)
    if(desc[i] == 1)
      classify(t, &tab, &tab.v[i], 0);
out:
  free(desc);
  rb_proc_table_free(&tab);
}

/* Signal a member only if its pid still names the same process. */
static void signal_member(const struct member *m, int sig)
{
  struct rb_proc_info pi;
  int fd = pidfd_open(m->pid, 0);

  if(fd < 0) {
    if(errno == ENOSYS && rb_proc_read_stat(m->pid, &pi) && pi.start == m->start)
      kill(m->pid, sig);
    return;
  }
  if(rb_proc_read_stat(m->pid, &pi) && pi.start == m->start)
    pidfd_send_signal(fd, sig, NULL, 0);
  close(fd);
}

static bool pick_current(const struct rb_target *t, const struct member *m)
{
  return m->gen == t->gen && t->gen >= 0;
}

static bool pick_older(const struct rb_target *t, const struct member *m)
{
  return m->gen >= 0 && m->gen < t->gen;
}

static bool pick_all(const struct rb_target *t, const struct member *m)
{
  (void)t;
  (void)m;
  return true;
}

static bool pick_aux(const struct rb_target *t, const struct member *m)
{
  (void)t;
  return m->gen == GEN_AUX;
}

static bool main_is_live(const struct rb_target *t)
{
  for(size_t i = 0; i < t->nmembers; i++)
    if(t->members[i].pid == t->main && t->main)
      return rb_proc_is_live(t->members[i].state);
  return false;
}

/* The main process, or when it has gone (a daemonising server's shell exits at
   once) the generation's top processes, i.e. those the keeper adopted. */
static bool pick_main(const struct rb_target *t, const struct member *m)
{
  if(!pick_current(t, m))
    return false;
  if(main_is_live(t))
    return m->pid == t->main;
  return m->ppid == t->keeper;
}

static void mark_members(struct rb_target *t, member_pick pick)
{
  for(size_t i = 0; i < t->nmembers; i++)
    t->members[i].marked = pick(t, &t->members[i]);
}

static size_t count_live(const struct rb_target *t, member_pick pick)
{
  size_t n = 0;

  for(size_t i = 0; i < t->nmembers; i++)
    n += rb_proc_is_live(t->members[i].state) && pick(t, &t->members[i]);
  return n;
}

static bool is_marked(const struct rb_target *t, const struct member *m)
{
  (void)t;
  return m->marked;
}

static bool main_unreaped(const struct rb_target *t)
{
  return t->main && !t->exit.exited && !t->keeper_gone;
}

/* SIGKILL the chosen members until none is alive (and, with wait_main, the main
   process has been reaped), re-choosing each round with pick when given (to
   catch processes forked meanwhile) or keeping the marked set when NULL. */
static rb_err kill_loop(struct rb_target *t, member_pick pick, bool wait_main, int64_t deadline,
                        char *msg, size_t msglen)
{
  int64_t delay = POLL_MIN_NS;

  for(;;) {
    size_t live;

    drain(t);
    refresh(t);
    if(pick)
      mark_members(t, pick);
    live = count_live(t, is_marked);
    if(!live && !(wait_main && main_unreaped(t)))
      return RB_OK;
    if(rb_clock_now() >= deadline)
      return rb_fail(msg, msglen, RB_ERR_TIMEOUT, "%zu process%s still alive%s after SIGKILL", live,
                     live == 1 ? "" : "es", wait_main && main_unreaped(t) ? ", main process not reaped" : "");
    for(size_t i = 0; i < t->nmembers; i++)
      if(t->members[i].marked && rb_proc_is_live(t->members[i].state))
        signal_member(&t->members[i], SIGKILL);
    wait_keeper(t, delay < deadline - rb_clock_now() ? delay : deadline - rb_clock_now());
    delay = delay * 2 > POLL_MAX_NS ? POLL_MAX_NS : delay * 2;
  }
}

static rb_err send_request(struct rb_target *t, const char *buf, size_t len, int fd, int64_t deadline,
                           char *msg, size_t msglen)
{
  union {
    struct cmsghdr align;
    char space[CMSG_SPACE(sizeof(int))];
  } control;
  struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
  struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.space,
                       .msg_controllen = sizeof(control.space) };
  struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);

  memset(&control, 0, sizeof(control));
  cm->cmsg_level = SOL_SOCKET;
  cm->cmsg_type = SCM_RIGHTS;
  cm->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(cm), &fd, sizeof(int));
  for(;;) {
    struct pollfd p = { .fd = t->sock, .events = POLLOUT };

    if(sendmsg(t->sock, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) >= 0)
      return RB_OK;
    if(errno == EINTR)
      continue;
    if(errno != EAGAIN && errno != EWOULDBLOCK) {
      int e = errno;

      if(e == EPIPE || e == ECONNRESET || e == ENOTCONN)
        keeper_lost(t);
      return rb_fail(msg, msglen, RB_ERR_SYSTEM, "talking to the keeper process: %s", strerror(e));
    }
    if(rb_clock_now() >= deadline)
      return rb_fail(msg, msglen, RB_ERR_TIMEOUT, "the keeper process does not take requests");
    poll(&p, 1, rb_clock_ms_left(deadline));
  }
}

static rb_err encode_request(struct rb_target *t, const char *command, char *const *env, char **out,
                             size_t *outlen, char *msg, size_t msglen)
{
  struct rb_keeper_request req = { .type = RB_KEEPER_SPAWN, .seq = ++t->seq, .log_limit = t->log_limit };
  size_t len = sizeof(req) + strlen(command) + 1;
  char *buf, *p;

  for(size_t i = 0; env && env[i]; i++, req.nenv++) {
    if(req.nenv == RB_KEEPER_MAX_ENV)
      return rb_fail(msg, msglen, RB_ERR_USAGE, "more than %d environment entries", RB_KEEPER_MAX_ENV);
    len += strlen(env[i]) + 1;
  }
  if(len >= RB_KEEPER_MAX_REQUEST)
    return rb_fail(msg, msglen, RB_ERR_USAGE, "command and environment too long (%zu bytes)", len);
  buf = p = malloc(len);
  if(!buf)
    return rb_fail(msg, msglen, RB_ERR_NOMEM, "out of memory");
  memcpy(p, &req, sizeof(req));
  p += sizeof(req);
  p = stpcpy(p, command) + 1;
  for(size_t i = 0; env && env[i]; i++)
    p = stpcpy(p, env[i]) + 1;
  t->want_seq = req.seq;
  *out = buf;
  *outlen = len;
  return RB_OK;
}

static int open_log(const char *log_path)
{
  /* read too: the keeper reads the tail back when it bounds the log (logcap.h) */
  return open(log_path ? log_path : "/dev/null", O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY, 0644);
}

/* Ask the keeper to start command; the reply sets t->main or t->aux. */
static rb_err spawn(struct rb_target *t, const char *command, const char *log_path, char *const *env, bool aux,
                    pid_t *pid, char *msg, size_t msglen)
{
  int64_t deadline = rb_clock_deadline(REPLY_TIMEOUT_NS);
  char *req = NULL;
  size_t len = 0;
  int logfd = -1;
  rb_err err;

  *pid = 0;
  if(t->keeper_gone) {
    err = rb_fail(msg, msglen, RB_ERR_SPAWN, "the keeper process has gone");
    goto out;
  }
  logfd = open_log(log_path);
  if(logfd < 0) {
    err = rb_fail(msg, msglen, RB_ERR_IO, "cannot open log file %s: %s", log_path ? log_path : "/dev/null",
                  strerror(errno));
    goto out;
  }
  if((err = encode_request(t, command, env, &req, &len, msg, msglen)))
    goto out;
  t->want_aux = aux;
  t->got_reply = false;
  if((err = send_request(t, req, len, logfd, deadline, msg, msglen)))
    goto out;
  while(drain(t), !t->got_reply && !t->keeper_gone && rb_clock_now() < deadline)
    wait_keeper(t, deadline - rb_clock_now());
  if(!t->got_reply) {
    err = rb_fail(msg, msglen, t->keeper_gone ? RB_ERR_SPAWN : RB_ERR_TIMEOUT,
                  "the keeper process did not answer the spawn request");
    goto out;
  }
  if(t->reply_err) {
    err = rb_fail(msg, msglen, RB_ERR_SPAWN, "cannot start /bin/sh -c '%s': %s", command, strerror(t->reply_err));
    goto out;
  }
  *pid = aux ? t->aux : t->main;
out:
  t->want_seq = 0;
  if(logfd >= 0)
    close(logfd);
  free(req);
  return err;
}

/* Record a freshly spawned process in the table (it may already have exited). */
static void adopt(struct rb_target *t, pid_t pid, int gen)
{
  struct rb_proc_info pi;

  if(rb_proc_read_stat(pid, &pi) && pi.ppid == t->keeper && !find_member(t, pid))
    add_member(t, &pi, gen);
}

rb_err rb_target_create(struct rb_target **out, char *msg, size_t msglen)
{
  struct rb_target *t = calloc(1, sizeof(*t));
  int sv[2] = { -1, -1 };
  rb_err err = RB_OK;

  *out = NULL;
  if(!t)
    return rb_fail(msg, msglen, RB_ERR_NOMEM, "out of memory");
  t->sock = -1;
  t->gen = -1;
  /* The strongest containment the kernel allows us; the subreaper tree always. */
  if(rb_cgroup_create(&t->cg, t->containment_note, sizeof(t->containment_note)) == RB_OK)
    snprintf(t->containment_note, sizeof(t->containment_note), "%s", t->cg.path);
  if(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
    err = rb_fail(msg, msglen, RB_ERR_SYSTEM, "socketpair: %s", strerror(errno));
    goto out;
  }
  t->keeper = fork();
  if(t->keeper < 0) {
    err = rb_fail(msg, msglen, RB_ERR_SYSTEM, "fork: %s", strerror(errno));
    goto out;
  }
  if(t->keeper == 0) {
    close(sv[0]);
    rb_keeper_main(sv[1], t->cg.dirfd >= 0 ? t->cg.path : "");
  }
  t->sock = sv[0];
  sv[0] = -1;
  fcntl(t->sock, F_SETFL, fcntl(t->sock, F_GETFL) | O_NONBLOCK);
out:
  if(sv[0] >= 0)
    close(sv[0]);
  if(sv[1] >= 0)
    close(sv[1]);
  if(err) {
    rb_cgroup_destroy(&t->cg, DESTROY_KILL_NS, NULL, 0);
    free(t);
    return err;
  }
  *out = t;
  return RB_OK;
}

/* Child side of rb_run_command: own session, output to the log, only fds 0-2. */
static void exec_detached(const char *command, const char *log_path)
{
  int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
  int out = open_log(log_path);

  setsid();
  if(in < 0 || out < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0)
    _exit(127);
  signal(SIGPIPE, SIG_DFL);
  for(int fd = 3; fd < 1024; fd++)
    close(fd);
  execl("/bin/sh", "sh", "-c", command, (char *)NULL);
  _exit(127);
}

rb_err rb_run_command(const char *command, const char *log_path, int64_t timeout_ns, char *msg, size_t msglen)
{
  int64_t deadline = rb_clock_deadline(timeout_ns), delay = POLL_MIN_NS;
  char status_text[96];
  int status = 0;
  pid_t pid = fork();

  if(pid < 0)
    return rb_fail(msg, msglen, RB_ERR_SYSTEM, "fork: %s", strerror(errno));
  if(pid == 0)
    exec_detached(command, log_path);
  for(;;) {
    pid_t r = waitpid(pid, &status, WNOHANG);

    if(r == pid)
      break;
    if(r < 0 && errno != EINTR)
      return rb_fail(msg, msglen, RB_ERR_SYSTEM, "waitpid: %s", strerror(errno));
    if(rb_clock_now() >= deadline) {
      kill(-pid, SIGKILL);
      kill(pid, SIGKILL);
      while(waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
      return rb_fail(msg, msglen, RB_ERR_TIMEOUT, "command did not finish in time: %s", command);
    }
    rb_clock_sleep(delay);
    delay = delay * 2 > POLL_MAX_NS ? POLL_MAX_NS : delay * 2;
  }
  if(WIFEXITED(status) && WEXITSTATUS(status) == 0)
    return RB_OK;
  rb_target_describe_status(status, status_text, sizeof(status_text));
  return rb_fail(msg, msglen, RB_ERR_SYSTEM, "command %s: %s", status_text, command);
}

rb_err rb_target_set_log(struct rb_target *t, const char *log_path, char *msg, size_t msglen)
{
  char *copy = log_path ? strdup(log_path) : NULL;

  if(log_path && !copy)
    return rb_fail(msg, msglen, RB_ERR_NOMEM, "out of memory");
  free(t->log_path);
  t->log_path = copy;
  return RB_OK;
}

rb_err rb_target_start(struct rb_target *t, const char *command, const char *log_path, char *const *env,
                       char *msg, size_t msglen)
{
  pid_t pid;
  rb_err err;

  if(!t || !command || !*command)
    return rb_fail(msg, msglen, RB_ERR_USAGE, "no command to start");
  /* Everything alive now belongs to an older generation: learn it before the
     new one exists. */
  drain(t);
  refresh(t);
  t->gen++;
  t->gen_start = rb_proc_boot_ticks_now();
  t->main = 0;
  memset(&t->exit, 0, sizeof(t->exit));
  free(t->log_path);
  t->log_path = log_path ? strdup(log_path) : NULL;
  if((err = spawn(t, command, log_path, env, false, &pid, msg, msglen)))
    return err;
  adopt(t, pid, t->gen);
  return RB_OK;
}

void rb_target_set_log_limit(struct rb_target *t, uint64_t bytes)
{
  if(t)
    t->log_limit = bytes && bytes < RB_LOGCAP_MIN ? RB_LOGCAP_MIN : bytes;
}

pid_t rb_target_main_pid(const struct rb_target *t)
{
  return t ? t->main : 0;
}

void rb_target_poll_exit(struct rb_target *t, struct rb_target_exit *out)
{
  memset(out, 0, sizeof(*out));
  if(!t)
    return;
  drain(t);
  *out = t->exit;
}

/* Is the main process alive, and still the process we started? One stat read. */
static bool main_alive_now(struct rb_target *t)
{
  struct member *m = t->main ? find_member(t, t->main) : NULL;
  struct rb_proc_info pi;

  return m && m->gen == t->gen && !t->exit.exited && rb_proc_read_stat(t->main, &pi) && pi.start == m->start &&
         rb_proc_is_live(pi.state);
}

size_t rb_target_list(struct rb_target *t, pid_t *pids, size_t max)
{
  size_t n = 0;

  if(!t || !max)
    return 0;
  drain(t);
  /* "Is anything of it alive?" is asked between probe polls: while the main
     process lives, that answer costs one stat read instead of a /proc scan. */
  if(max == 1 && main_alive_now(t)) {
    pids[0] = t->main;
    return 1;
  }
  refresh(t);
  for(size_t i = 0; i < t->nmembers && n < max; i++)
    if(pick_current(t, &t->members[i]) && rb_proc_is_live(t->members[i].state))
      pids[n++] = t->members[i].pid;
  return n;
}

bool rb_target_is_survivor(struct rb_target *t, pid_t pid)
{
  struct member *m;

  if(!t || pid <= 0)
    return false;
  refresh(t);
  m = find_member(t, pid);
  return m && rb_proc_is_live(m->state) && pick_older(t, m);
}

/* Wait until pick has no live member and the main process has been reaped. */
static bool wait_exit(struct rb_target *t, member_pick pick, int64_t deadline)
{
  int64_t delay = POLL_MIN_NS;

  for(;;) {
    drain(t);
    refresh(t);
    if(!main_unreaped(t) && !count_live(t, pick))
      return true;
    if(rb_clock_now() >= deadline)
      return false;
    wait_keeper(t, delay < deadline - rb_clock_now() ? delay : deadline - rb_clock_now());
    delay = delay * 2 > POLL_MAX_NS ? POLL_MAX_NS : delay * 2;
  }
}

static void signal_marked(struct rb_target *t, int sig)
{
  for(size_t i = 0; i < t->nmembers; i++)
    if(t->members[i].marked && rb_proc_is_live(t->members[i].state))
      signal_member(&t->members[i], sig);
}

/* Graceful first: SIGTERM the main process; give the generation `grace` to end,
   then SIGKILL whatever is left of it. */
static rb_err fault_sigterm(struct rb_target *t, const struct rb_fault *f, int64_t deadline, char *msg,
                            size_t msglen)
{
  int64_t grace_end = rb_clock_deadline(f->grace_ns > 0 ? f->grace_ns : 0);

  refresh(t);
  mark_members(t, pick_main);
  signal_marked(t, SIGTERM);
  if(grace_end > deadline)
    grace_end = deadline;
  if(wait_exit(t, pick_current, grace_end))
    return RB_OK;
  return kill_loop(t, pick_current, true, deadline, msg, msglen);
}

static bool all_stopped(const struct rb_target *t)
{
  for(size_t i = 0; i < t->nmembers; i++) {
    const struct member *m = &t->members[i];

    if(pick_current(t, m) && rb_proc_is_live(m->state) && m->state != 'T' && m->state != 't')
      return false;
  }
  return true;
}

/* SIGSTOP the generation (re-scanning to catch late forks) until every process
   of it shows as stopped, then leave it frozen for hang_for, then SIGKILL it. */
static rb_err fault_hang(struct rb_target *t, const struct rb_fault *f, int64_t deadline, char *msg, size_t msglen)
{
  int64_t stop_deadline = rb_clock_deadline(RB_NS_PER_S), delay = POLL_MIN_NS, hang_end;

  if(stop_deadline > deadline)
    stop_deadline = deadline;
  for(;;) {
    refresh(t);
    mark_members(t, pick_current);
    if(all_stopped(t) || rb_clock_now() >= stop_deadline)
      break;
    signal_marked(t, SIGSTOP);
    rb_clock_sleep(delay);
    delay = delay * 2 > POLL_MAX_NS ? POLL_MAX_NS : delay * 2;
  }
  hang_end = rb_clock_deadline(f->hang_for_ns > 0 ? f->hang_for_ns : 0);
  if(hang_end > deadline)
    hang_end = deadline;
  /* the hang itself: a fixed pause is the fault being injected, not a wait */
  rb_clock_sleep(hang_end - rb_clock_now());
  return kill_loop(t, pick_current, true, deadline, msg, msglen);
}

static rb_err fault_exec(struct rb_target *t, const struct rb_fault *f, int64_t deadline, char *msg, size_t msglen)
{
  char status[96];
  bool finished;
  pid_t pid;
  rb_err err;

  if(!f->exec_command || !*f->exec_command)
    return rb_fail(msg, msglen, RB_ERR_USAGE, "exec fault without a command");
  drain(t);
  refresh(t);
  t->aux = 0;
  if((err = spawn(t, f->exec_command, t->log_path, NULL, true, &pid, msg, msglen)))
    return err;
  adopt(t, pid, GEN_AUX);
  for(int64_t delay = POLL_MIN_NS; drain(t), !t->aux_exited && !t->keeper_gone && rb_clock_now() < deadline;) {
    refresh(t); /* learn its children while they live, so that they are AUX too */
    wait_keeper(t, delay < deadline - rb_clock_now() ? delay : deadline - rb_clock_now());
    delay = delay * 2 > POLL_MAX_NS ? POLL_MAX_NS : delay * 2;
  }
  /* Judge before cleaning up: the cleanup may well reap the command. */
  finished = t->aux_exited;
  /* Nothing the command started may stay behind. */
  kill_loop(t, pick_aux, false, rb_clock_deadline(DESTROY_KILL_NS), NULL, 0);
  if(!finished)
    return rb_fail(msg, msglen, RB_ERR_TIMEOUT, "exec fault command did not finish in time: %s", f->exec_command);
  if(!WIFEXITED(t->aux_status) || WEXITSTATUS(t->aux_status)) {
    rb_target_describe_status(t->aux_status, status, sizeof(status));
    return rb_fail(msg, msglen, RB_ERR_SYSTEM, "exec fault command %s: %s", status, f->exec_command);
  }
  return RB_OK;
}

rb_err rb_target_fault(struct rb_target *t, const struct rb_fault *fault, char *msg, size_t msglen)
{
  int64_t deadline;

  if(!t || !fault)
    return rb_fail(msg, msglen, RB_ERR_USAGE, "no target or fault");
  deadline = rb_clock_deadline(fault->timeout_ns > 0 ? fault->timeout_ns : DEFAULT_FAULT_NS);
  drain(t);
  refresh(t);
  switch(fault->kind) {
  case RB_FAULT_SIGKILL:
    return kill_loop(t, pick_current, true, deadline, msg, msglen);
  case RB_FAULT_SIGKILL_MAIN:
    mark_members(t, pick_main);
    return kill_loop(t, NULL, true, deadline, msg, msglen);
  case RB_FAULT_SIGTERM:
    return fault_sigterm(t, fault, deadline, msg, msglen);
  case RB_FAULT_HANG:
    return fault_hang(t, fault, deadline, msg, msglen);
  case RB_FAULT_RELOAD:
    /* The server stays up: the engine watches what the signal does. */
    mark_members(t, pick_main);
    signal_marked(t, fault->reload_signal > 0 ? fault->reload_signal : SIGHUP);
    return main_is_live(t) ? RB_OK : rb_fail(msg, msglen, RB_ERR_SPAWN, "no live main process to reload");
  case RB_FAULT_EXEC:
    return fault_exec(t, fault, deadline, msg, msglen);
  case RB_FAULT_NETWORK:
    return RB_OK; /* the server is left alone: the fault proxy does it */
  }
  return rb_fail(msg, msglen, RB_ERR_USAGE, "unknown fault kind %d", (int)fault->kind);
}

rb_err rb_target_kill_all(struct rb_target *t, int64_t timeout_ns, char *msg, size_t msglen)
{
  if(!t)
    return RB_OK;
  /* the cgroup at once (nothing escapes it), then the tree until all is reaped */
  if(t->cg.dirfd >= 0)
    rb_cgroup_kill(t->cg.dirfd, timeout_ns, NULL, NULL, 0);
  return kill_loop(t, pick_all, true, rb_clock_deadline(timeout_ns), msg, msglen);
}

rb_err rb_target_kill_pids(struct rb_target *t, const pid_t *pids, size_t n, int64_t timeout_ns,
                           char *msg, size_t msglen)
{
  if(!t || !n)
    return RB_OK;
  drain(t);
  refresh(t);
  for(size_t i = 0; i < t->nmembers; i++) {
    t->members[i].marked = false;
    for(size_t k = 0; k < n; k++)
      t->members[i].marked |= t->members[i].pid == pids[k] && pids[k] > 0;
  }
  return kill_loop(t, NULL, false, rb_clock_deadline(timeout_ns), msg, msglen);
}

rb_err rb_target_kill_survivors(struct rb_target *t, int64_t timeout_ns, char *msg, size_t msglen)
{
  if(!t)
    return RB_OK;
  return kill_loop(t, pick_older, false, rb_clock_deadline(timeout_ns), msg, msglen);
}

void rb_target_destroy(struct rb_target *t)
{
  int status;

  if(!t)
    return;
  rb_target_kill_all(t, DESTROY_KILL_NS, NULL, 0);
  /* EOF tells the keeper to kill whatever is left and exit. */
  close(t->sock);
  if(!t->keeper_gone)
    reap_keeper(t->keeper, &status);
  rb_cgroup_destroy(&t->cg, DESTROY_KILL_NS, NULL, 0);
  free(t->members);
  free(t->log_path);
  free(t);
}

void rb_target_settle(struct rb_target *t, int64_t timeout_ns)
{
  int64_t deadline = rb_clock_deadline(timeout_ns);
  struct rb_proc_info pi;

  if(!t)
    return;
  for(;;) {
    drain(t);
    if(!t->main || t->exit.exited || t->keeper_gone)
      return;
    if(rb_proc_read_stat(t->main, &pi) && rb_proc_is_live(pi.state))
      return; /* still running: nothing to wait for */
    if(rb_clock_now() >= deadline)
      return;
    /* dead but not yet reported: the keeper is reaping it and draining its output */
    wait_keeper(t, deadline - rb_clock_now());
  }
}

bool rb_target_lost(struct rb_target *t, char *why, size_t whylen)
{
  if(!t)
    return false;
  drain(t);
  if(!t->lost_why[0])
    return false;
  if(why && whylen)
    snprintf(why, whylen, "%s", t->lost_why);
  return true;
}

const char *rb_target_containment(const struct rb_target *t, const char **note)
{
  if(note)
    *note = t ? t->containment_note : "";
  return t && t->cg.dirfd >= 0 ? "cgroup" : "subreaper";
}

struct leftover_report {
  rb_target_note_fn fn;
  void *arg;
};

static void report_leftover(const char *path, pid_t owner, size_t killed, void *arg)
{
  struct leftover_report *rep = arg;
  char line[PATH_MAX + 160];

  snprintf(line, sizeof(line), "killed %zu process%s left behind by a dead rebound (pid %d) in cgroup %s, and "
           "removed the cgroup", killed, killed == 1 ? "" : "es", (int)owner, path);
  if(rep->fn)
    rep->fn(line, rep->arg);
}

rb_err rb_target_cleanup_leftovers(rb_target_note_fn fn, void *arg, size_t *count, char *msg, size_t msglen)
{
  struct leftover_report rep = { fn, arg };

  return rb_cgroup_cleanup_leftovers(report_leftover, &rep, count, msg, msglen);
}

/* ---- logs and descriptions ------------------------------------------------- */

void rb_target_log_tail(const char *log_path, int lines, char *buf, size_t buflen)
{
  char *chunk = NULL;
  struct stat st;
  size_t want, start, end, count = 0;
  ssize_t n;
  int fd = -1;

  if(!buf || !buflen)
    return;
  buf[0] = '\0';
  if(!log_path || lines <= 0 || (fd = open(log_path, O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, &st) < 0)
    goto out;
  want = st.st_size > LOG_TAIL_MAX ? LOG_TAIL_MAX : (size_t)st.st_size;
  if(!want || !(chunk = malloc(want)))
    goto out;
  n = pread(fd, chunk, want, st.st_size - (off_t)want);
  if(n <= 0)
    goto out;
  end = (size_t)n;
  while(end && chunk[end - 1] == '\n')
    end--;
  for(start = end; start; start--)
    if(chunk[start - 1] == '\n' && ++count == (size_t)lines)
      break;
  if(end - start > buflen - 1)
    start = end - (buflen - 1);
  for(size_t i = start; i < end; i++)
    buf[i - start] = rb_proc_printable((unsigned char)chunk[i]);
  buf[end - start] = '\0';
out:
  free(chunk);
  if(fd >= 0)
    close(fd);
}

void rb_target_describe_status(int status, char *buf, size_t buflen)
{
  const char *name;

  if(!buf || !buflen)
    return;
  if(WIFEXITED(status)) {
    snprintf(buf, buflen, "exited with status %d", WEXITSTATUS(status));
  } else if(WIFSIGNALED(status)) {
    name = sigdescr_np(WTERMSIG(status));
    snprintf(buf, buflen, "killed by signal %d (%s)%s", WTERMSIG(status), name ? name : "unknown",
             WCOREDUMP(status) ? ", core dumped" : "");
  } else if(WIFSTOPPED(status)) {
    name = sigdescr_np(WSTOPSIG(status));
    snprintf(buf, buflen, "stopped by signal %d (%s)", WSTOPSIG(status), name ? name : "unknown");
  } else {
    snprintf(buf, buflen, "unknown wait status 0x%x", (unsigned)status);
  }
}
