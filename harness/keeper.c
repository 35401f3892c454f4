/*
 * keeper: the process that holds the target's process tree (see rebound/keeper.h).
 */
#include "rebound/keeper.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rebound/cgroup.h"
#include "rebound/clock.h"
#include "rebound/logcap.h"
#include "rebound/procscan.h"

#define POLL_MIN_NS (200 * 1000)
#define POLL_MAX_NS (5 * RB_NS_PER_MS)
#define KEEPER_CLEANUP_NS (10 * RB_NS_PER_S)
#define EXEC_CHECK_NS (5 * RB_NS_PER_S)
#define KEEPER_QUEUE 128
#define KEEPER_SPAWNED 256
#define KEEPER_LOGS 64              /* capped logs (and pipes) open at once */
#define LOG_PIPE_SIZE (1024 * 1024) /* room for a burst while the keeper is busy */

/* One capped log file, fed by the pipes of every process that writes to it (a
   generation's processes and the exec faults run meanwhile share one). */
struct keeper_log {
  struct rb_logcap cap;
  dev_t dev;
  ino_t ino;
  unsigned users; /* pipes feeding it; 0 = free slot */
};

struct keeper_pipe {
  int fd;      /* read end; -1 = free slot */
  int log;     /* index in logs */
  size_t size; /* capacity: what one drain must read to catch up */
};

struct keeper {
  int sock;
  struct rb_cgroup cg; /* dirfd -1: no cgroup, the subreaper tree alone */
  int sigfd;
  struct rb_keeper_reply queue[KEEPER_QUEUE]; /* replies the harness has not taken yet */
  size_t qhead, qlen;
  pid_t spawned[KEEPER_SPAWNED]; /* our direct children, whose exits are reported */
  size_t nspawned;
  struct keeper_log logs[KEEPER_LOGS];
  struct keeper_pipe pipes[KEEPER_LOGS];
  char buf[RB_KEEPER_MAX_REQUEST];
};

static void keeper_queue(struct keeper *k, uint32_t type, uint32_t seq, pid_t pid, int value)
{
  struct rb_keeper_reply *r;

  if(k->qlen == KEEPER_QUEUE) { /* the harness stopped reading: drop the oldest */
    k->qhead = (k->qhead + 1) % KEEPER_QUEUE;
    k->qlen--;
  }
  r = &k->queue[(k->qhead + k->qlen) % KEEPER_QUEUE];
  memset(r, 0, sizeof(*r));
  r->type = type;
  r->seq = seq;
  r->pid = pid;
  r->value = value;
  r->at_ns = rb_clock_now();
  k->qlen++;
}

/* Returns false when the harness is gone. */
static bool keeper_flush(struct keeper *k)
{
  while(k->qlen) {
    ssize_t n = send(k->sock, &k->queue[k->qhead], sizeof(struct rb_keeper_reply), MSG_DONTWAIT | MSG_NOSIGNAL);

    if(n < 0 && errno == EINTR)
      continue;
    if(n < 0)
      return errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS;
    k->qhead = (k->qhead + 1) % KEEPER_QUEUE;
    k->qlen--;
  }
  return true;
}

static void keeper_reap(struct keeper *k, bool report)
{
  pid_t pid;
  int status;

  while((pid = waitpid(-1, &status, WNOHANG)) > 0) {
    for(size_t i = 0; i < k->nspawned; i++) {
      if(k->spawned[i] != pid)
        continue;
      k->spawned[i] = k->spawned[--k->nspawned];
      if(report)
        keeper_queue(k, RB_KEEPER_EXIT, 0, pid, status);
      break;
    }
  }
}

/* ---- capped logs ---------------------------------------------------------- */

/* The capped log for logfd's file: the one already open for it, or a new one. */
static int keeper_find_log(struct keeper *k, int logfd, uint64_t limit)
{
  struct stat st;
  int fd, slot = -1;

  if(fstat(logfd, &st) < 0 || !S_ISREG(st.st_mode))
    return -1; /* /dev/null, a FIFO...: nothing to bound, written directly */
  for(int i = 0; i < KEEPER_LOGS; i++) {
    if(k->logs[i].users && k->logs[i].dev == st.st_dev && k->logs[i].ino == st.st_ino)
      return i;
    if(!k->logs[i].users && slot < 0)
      slot = i;
  }
  if(slot < 0 || (fd = fcntl(logfd, F_DUPFD_CLOEXEC, 3)) < 0)
    return -1;
  if(rb_logcap_open(&k->logs[slot].cap, fd, limit)) {
    close(fd);
    return -1;
  }
  k->logs[slot].dev = st.st_dev;
  k->logs[slot].ino = st.st_ino;
  return slot;
}

/* A pipe into logfd's capped log; returns the write end for the target, or -1
   when the target should write to logfd itself (not a regular file, no limit,
   tables full). */
static int keeper_log_pipe(struct keeper *k, int logfd, uint64_t limit)
{
  int fds[2], log, slot = -1, size;

  for(int i = 0; i < KEEPER_LOGS && slot < 0; i++)
    if(k->pipes[i].fd < 0)
      slot = i;
  if(!limit || slot < 0 || (log = keeper_find_log(k, logfd, limit)) < 0)
    return -1;
  if(pipe2(fds, O_CLOEXEC) < 0) {
    if(!k->logs[log].users)
      rb_logcap_close(&k->logs[log].cap);
    return -1;
  }
  fcntl(fds[0], F_SETFL, O_NONBLOCK);
  fcntl(fds[0], F_SETPIPE_SZ, LOG_PIPE_SIZE); /* best effort: the default 64 KiB works too */
  size = fcntl(fds[0], F_GETPIPE_SZ);
  k->logs[log].users++;
  k->pipes[slot] = (struct keeper_pipe){ .fd = fds[0], .log = log, .size = size > 0 ? (size_t)size : 65536 };
  return fds[1];
}

static void keeper_close_pipe(struct keeper *k, struct keeper_pipe *p)
{
  struct keeper_log *log = &k->logs[p->log];

  close(p->fd);
  p->fd = -1;
  if(!--log->users)
    rb_logcap_close(&log->cap);
}

/* Move what the pipes hold into their logs. Each pipe is read for at most its
   capacity and a chunk: enough to take everything written before the call (so
   the last words of a process reaped before it are in), bounded while a writer
   floods. A log that cannot be written (disk full) still drains its pipe. */
static void keeper_drain_logs(struct keeper *k)
{
  static char buf[RB_LOGCAP_CHUNK];

  for(int i = 0; i < KEEPER_LOGS; i++) {
    struct keeper_pipe *p = &k->pipes[i];
    size_t got = 0, chunk;

    if(p->fd < 0)
      continue;
    chunk = rb_logcap_chunk(&k->logs[p->log].cap);
    while(got < p->size + chunk) {
      ssize_t n = read(p->fd, buf, chunk);

      if(n < 0 && errno == EINTR)
        continue;
      if(n < 0)
        break; /* EAGAIN: empty for now */
      if(n == 0) {
        keeper_close_pipe(k, p); /* every writer is gone */
        break;
      }
      (void)rb_logcap_write(&k->logs[p->log].cap, buf, (size_t)n);
      got += (size_t)n;
    }
  }
}

/* The cgroup's folder, opened when needed rather than held: an idle keeper holds
   only its socket and signalfd. -1 without a cgroup (or if it cannot be opened:
   then a spawn fails rather than run uncontained). */
static int keeper_cgroup_open(struct keeper *k)
{
  if(!k->cg.path[0])
    return -1;
  if(k->cg.dirfd < 0)
    k->cg.dirfd = open(k->cg.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  return k->cg.dirfd;
}

static void keeper_cgroup_close(struct keeper *k)
{
  if(k->cg.dirfd >= 0)
    close(k->cg.dirfd);
  k->cg.dirfd = -1;
}

/* SIGKILL every descendant until there is none left (zombies included, so that
   everything has been reaped), bounded. */
static void keeper_kill_tree(struct keeper *k)
{
  int64_t deadline = rb_clock_deadline(KEEPER_CLEANUP_NS), delay = POLL_MIN_NS;
  pid_t self = getpid();

  /* The cgroup first: it also holds what left the tree (nothing should have). */
  if(keeper_cgroup_open(k) >= 0)
    rb_cgroup_kill(k->cg.dirfd, KEEPER_CLEANUP_NS, NULL, NULL, 0);

  for(;;) {
    struct rb_proc_table tab = { 0 };
    unsigned char *desc = NULL;
    size_t count = 0;

    keeper_reap(k, false);
    keeper_drain_logs(k); /* a writer blocked on a full pipe must not outlast its SIGKILL's delivery */
    if(rb_proc_scan_all(&tab) && (desc = malloc(tab.n ? tab.n : 1)) && rb_proc_mark_descendants(&tab, self, desc)) {
      for(size_t i = 0; i < tab.n; i++) {
        if(desc[i] != 1)
          continue;
        count++;
        if(rb_proc_is_live(tab.v[i].state))
          kill(tab.v[i].pid, SIGKILL);
      }
    } else {
      count = 1; /* could not look: try again */
    }
    free(desc);
    rb_proc_table_free(&tab);
    if(!count || rb_clock_now() >= deadline) {
      keeper_drain_logs(k); /* every writer is dead: the rest of each pipe, then EOF */
      /* the harness is gone (or has told us to go): nobody else will remove it */
      rb_cgroup_destroy(&k->cg, deadline - rb_clock_now(), NULL, 0);
      return;
    }
    rb_clock_sleep(delay);
    delay = delay * 2 > POLL_MAX_NS ? POLL_MAX_NS : delay * 2;
  }
}

static void close_fds_from(int lowest, bool cloexec)
{
  DIR *dir;
  struct dirent *de;

  if(close_range((unsigned)lowest, ~0U, cloexec ? CLOSE_RANGE_CLOEXEC : 0) == 0)
    return;
  /* Older kernels: walk our fd table instead. */
  dir = opendir("/proc/self/fd");
  if(!dir)
    return;
  while((de = readdir(dir))) {
    int fd = atoi(de->d_name);

    if(fd < lowest || fd == dirfd(dir) || !isdigit((unsigned char)de->d_name[0]))
      continue;
    if(cloexec)
      fcntl(fd, F_SETFD, FD_CLOEXEC);
    else
      close(fd);
  }
  closedir(dir);
}

static void reset_signals(void)
{
  sigset_t none;

  for(int sig = 1; sig < NSIG; sig++)
    signal(sig, SIG_DFL); /* SIGKILL, SIGSTOP and reserved ones just fail */
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
}

/* `exec WORD...` with nothing the shell would interpret: exec the words directly
   and save starting /bin/sh (a fork+exec's worth per restart). Returns only if it
   is not such a command or execvp failed (the shell then reports it as usual). */
static void exec_simple(const char *command)
{
  static const char plain[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 _./:,+-=@%";
  char copy[4096], *argv[64], *save = NULL;
  size_t argc = 0;

  if(strncmp(command, "exec ", 5) || strspn(command, plain) != strlen(command) ||
     strlen(command) >= sizeof(copy) || strchr(command + 5, '=') == command + 5)
    return;
  strcpy(copy, command + 5);
  for(char *w = strtok_r(copy, " ", &save); w && argc < 63; w = strtok_r(NULL, " ", &save))
    argv[argc++] = w;
  if(!argc || argc == 63 || strchr(argv[0], '='))
    return; /* VAR=value prefixes are the shell's business */
  argv[argc] = NULL;
  execvp(argv[0], argv);
}

/* In the child, between fork and exec: never returns. Failures before exec are
   written (errno) to errfd, which is close-on-exec. */
static void target_child(const char *command, int logfd, char **env, size_t nenv, int errfd, pid_t keeper,
                         int cgfd)
{
  int err, null;

  reset_signals();
  if(setsid() < 0)
    goto fail;
  /* Into the cgroup before anything can fork: no descendant is ever outside it. */
  if(cgfd >= 0 && (errno = rb_cgroup_join(cgfd)))
    goto fail;
  /* The direct child dies with the keeper; its descendants are the keeper's job. */
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if(getppid() != keeper)
    _exit(127);
  null = open("/dev/null", O_RDONLY);
  if(null < 0 || dup2(null, 0) < 0 || dup2(logfd, 1) < 0 || dup2(logfd, 2) < 0)
    goto fail;
  for(size_t i = 0; i < nenv; i++)
    if(putenv(env[i]))
      goto fail;
  close_fds_from(3, true);
  exec_simple(command);
  execl("/bin/sh", "sh", "-c", command, (char *)NULL);
fail:
  err = errno;
  if(write(errfd, &err, sizeof(err)) < 0)
    _exit(127);
  _exit(127);
}

/* Wait (bounded) until the child has exec'd or reported why it could not. */
static int keeper_exec_result(int errfd)
{
  struct pollfd p = { .fd = errfd, .events = POLLIN };
  int err = 0;

  if(poll(&p, 1, rb_clock_ms_left(rb_clock_deadline(EXEC_CHECK_NS))) > 0 &&
     read(errfd, &err, sizeof(err)) != sizeof(err))
    err = 0;
  return err;
}

static void keeper_spawn(struct keeper *k, size_t len, int logfd)
{
  int outfd = -1;
  const struct rb_keeper_request *req = (const struct rb_keeper_request *)k->buf;
  char *env[RB_KEEPER_MAX_ENV], *p = k->buf + sizeof(*req), *end = k->buf + len, *command;
  size_t nenv = 0;
  int pipefd[2] = { -1, -1 }, err = 0;
  pid_t pid = 0, self = getpid();

  /* the buffer is NUL-terminated at len by the caller */
  command = p;
  p += strlen(p) + 1;
  while(p < end && nenv < req->nenv && nenv < RB_KEEPER_MAX_ENV) {
    env[nenv++] = p;
    p += strlen(p) + 1;
  }
  if(logfd < 0) {
    err = EBADF;
    goto out;
  }
  if(pipe2(pipefd, O_CLOEXEC) < 0) {
    err = errno;
    goto out;
  }
  if(k->cg.path[0] && keeper_cgroup_open(k) < 0) {
    err = errno;
    goto out;
  }
  outfd = keeper_log_pipe(k, logfd, req->log_limit);
  pid = fork();
  if(pid == 0)
    target_child(command, outfd >= 0 ? outfd : logfd, env, nenv, pipefd[1], self, k->cg.dirfd);
  keeper_cgroup_close(k);
  if(outfd >= 0)
    close(outfd); /* the child's now: EOF comes when the last writer is gone */
  if(pid < 0) {
    err = errno;
    pid = 0;
    goto out;
  }
  close(pipefd[1]);
  pipefd[1] = -1;
  err = keeper_exec_result(pipefd[0]);
  if(err) {
    waitpid(pid, NULL, 0); /* it _exits right after reporting */
    pid = 0;
  } else if(k->nspawned < KEEPER_SPAWNED) {
    k->spawned[k->nspawned++] = pid;
  }
out:
  if(pipefd[0] >= 0)
    close(pipefd[0]);
  if(pipefd[1] >= 0)
    close(pipefd[1]);
  if(logfd >= 0)
    close(logfd);
  keeper_queue(k, RB_KEEPER_SPAWNED, req->seq, pid, err);
}

/* Returns false when the harness is gone. */
static bool keeper_read_request(struct keeper *k)
{
  union {
    struct cmsghdr align;
    char space[CMSG_SPACE(sizeof(int))];
  } control;
  struct iovec iov = { .iov_base = k->buf, .iov_len = sizeof(k->buf) - 1 };
  struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.space,
                       .msg_controllen = sizeof(control.space) };
  struct cmsghdr *cm;
  int logfd = -1;
  ssize_t n = recvmsg(k->sock, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);

  if(n < 0)
    return errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK;
  if(n == 0)
    return false;
  for(cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
    if(cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS && cm->cmsg_len == CMSG_LEN(sizeof(int)))
      memcpy(&logfd, CMSG_DATA(cm), sizeof(int));
  k->buf[n] = '\0';
  if((size_t)n > sizeof(struct rb_keeper_request) && ((struct rb_keeper_request *)k->buf)->type == RB_KEEPER_SPAWN)
    keeper_spawn(k, (size_t)n, logfd);
  else if(logfd >= 0)
    close(logfd);
  return true;
}

/* Keep the socket as fd 3, nothing else above stdio; stdin/stdout on /dev/null
   (the keeper never prints; stderr stays for the unexpected). */
static int keeper_fds(int sock)
{
  int null = open("/dev/null", O_RDWR | O_CLOEXEC);

  if(sock != 3) {
    if(dup2(sock, 3) < 0)
      _exit(1);
    close(sock);
  }
  if(null >= 0) {
    dup2(null, 0);
    dup2(null, 1);
    if(fcntl(2, F_GETFD) < 0)
      dup2(null, 2);
  }
  close_fds_from(4, false);
  return 3;
}


void rb_keeper_main(int sock, const char *cgroup_path)
{
  static struct keeper k; /* the keeper is its own process: a static is private to it */
  sigset_t mask;

  reset_signals();
  /* Out of the harness's process group: a ^C is the harness's to handle (it
     then stops the targets); the keeper only goes when told or orphaned. */
  setpgid(0, 0);
  signal(SIGINT, SIG_IGN);
  signal(SIGQUIT, SIG_IGN);
  signal(SIGHUP, SIG_IGN);
  signal(SIGPIPE, SIG_IGN);
  signal(SIGTSTP, SIG_IGN);
  signal(SIGTTIN, SIG_IGN);
  signal(SIGTTOU, SIG_IGN);
  prctl(PR_SET_NAME, "rebound-keeper");
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  k.sock = keeper_fds(sock);
  k.cg.dirfd = -1;
  snprintf(k.cg.path, sizeof(k.cg.path), "%s", cgroup_path ? cgroup_path : "");
  sigemptyset(&mask);
  sigaddset(&mask, SIGCHLD);
  sigaddset(&mask, SIGTERM);
  sigprocmask(SIG_BLOCK, &mask, NULL);
  k.sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
  if(k.sigfd < 0)
    goto out;
  for(int i = 0; i < KEEPER_LOGS; i++)
    k.pipes[i].fd = -1;
  for(;;) {
    struct pollfd p[2 + KEEPER_LOGS] = { { .fd = k.sock, .events = POLLIN | (k.qlen ? POLLOUT : 0) },
                                         { .fd = k.sigfd, .events = POLLIN } };
    struct signalfd_siginfo si;
    nfds_t np = 2;
    bool term = false;

    for(int i = 0; i < KEEPER_LOGS; i++)
      if(k.pipes[i].fd >= 0)
        p[np++] = (struct pollfd){ .fd = k.pipes[i].fd, .events = POLLIN };
    /* No deadline on purpose: the keeper idles until the harness speaks, a
       child changes state or writes, or the harness goes away (EOF/HUP wakes us). */
    if(poll(p, np, -1) < 0 && errno != EINTR)
      break;
    while(read(k.sigfd, &si, sizeof(si)) == sizeof(si))
      term |= si.ssi_signo == SIGTERM;
    keeper_reap(&k, true);
    /* After the reap, before the reports go out: see "Logs" in keeper.h. */
    keeper_drain_logs(&k);
    if(term)
      break;
    if((p[0].revents & POLLIN) && !keeper_read_request(&k))
      break;
    if((p[0].revents & (POLLHUP | POLLERR | POLLNVAL)) && !(p[0].revents & POLLIN))
      break;
    if(!keeper_flush(&k))
      break;
  }
out:
  keeper_kill_tree(&k);
  _exit(0);
}