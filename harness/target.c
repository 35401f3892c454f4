/*
 * target: the server's process tree, across restarts.
 *
 * This module owns every process rebound starts for the server under test: it
 * spawns them (/bin/sh -c COMMAND, own session, stdin /dev/null, output appended
 * to a log), knows which live process belongs to which generation (one per
 * rb_target_start), injects faults, and guarantees that no process of the tree
 * outlives rebound, not even when rebound itself is SIGKILLed.
 *
 * Why a keeper process. PR_SET_PDEATHSIG alone is not enough: it only covers the
 * direct child (and fires when the forking *thread* ends), and a server that
 * daemonises (fork, setsid, fork) leaves it behind and is reparented to init,
 * out of reach. A session or process group does not hold it either: setsid()
 * leaves both. A PID namespace would (its init's death kills everything), and so
 * would a cgroup, but both need privileges (CAP_SYS_ADMIN, or user namespaces
 * that CI containers often disable, or a delegated cgroup). So rb_target_create
 * forks a *keeper*: a small child process that sets PR_SET_CHILD_SUBREAPER and
 * forks the targets on the harness's request. Orphans of the tree are reparented
 * to the nearest subreaper, i.e. the keeper, so "the whole tree" is simply "every
 * descendant of the keeper" (found by following /proc/<pid>/stat ppid links).
 * The keeper is the parent of every target's main process, so it is the one that
 * can wait for them: it reports each exit (pid, wait status, time) to the harness
 * over a SOCK_SEQPACKET socketpair. When that socket reaches EOF (the harness
 * exited, crashed, or was SIGKILLed) the keeper SIGKILLs every descendant, again
 * and again until none is left (bounded), and exits. The keeper holds nothing but
 * its socket and stdio; a target gets only fds 0, 1 and 2 (a leaked listening
 * socket would hold the very port we test).
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

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "rebound/clock.h"

#define POLL_MIN_NS (200 * 1000)
#define POLL_MAX_NS (5 * RB_NS_PER_MS)
#define REPLY_TIMEOUT_NS (10 * RB_NS_PER_S)
#define DEFAULT_FAULT_NS (10 * RB_NS_PER_S)
#define DESTROY_KILL_NS (5 * RB_NS_PER_S)
#define KEEPER_EXIT_NS (3 * RB_NS_PER_S)
#define KEEPER_CLEANUP_NS (10 * RB_NS_PER_S)
#define EXEC_CHECK_NS (5 * RB_NS_PER_S)
#define MAX_REQUEST 65536
#define MAX_ENV 256
#define KEEPER_QUEUE 128
#define KEEPER_SPAWNED 256
#define LOG_TAIL_MAX 65536
#define GEN_AUX (-1)

/* ---- wire protocol between the harness and the keeper ---------------------- */

enum wire_type { WIRE_SPAWN = 1, WIRE_SPAWNED = 2, WIRE_EXIT = 3 };

/* Harness -> keeper: header, then command NUL, then nenv "NAME=VALUE" NUL; the
   log file descriptor travels as SCM_RIGHTS so that the harness opens it (its
   cwd, its error message). */
struct wire_request {
  uint32_t type;
  uint32_t seq;
  uint32_t nenv;
};

/* Keeper -> harness. SPAWNED: pid > 0, or pid 0 and value = errno. EXIT: value =
   wait status. */
struct wire_reply {
  uint32_t type;
  uint32_t seq;
  int32_t pid;
  int32_t value;
  int64_t at_ns;
};

/* ---- /proc scanning (used by both sides) ---------------------------------- */

struct proc_info {
  pid_t pid;
  pid_t ppid;
  char state;
  unsigned long long start; /* clock ticks since boot; with pid, names a process */
};

struct proc_table {
  struct proc_info *v; /* sorted by pid */
  size_t n;
};

static bool read_proc_stat(pid_t pid, struct proc_info *pi)
{
  char path[64], buf[1024], *p;
  ssize_t n;
  int fd;

  snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
  fd = open(path, O_RDONLY | O_CLOEXEC);
  if(fd < 0)
    return false;
  n = read(fd, buf, sizeof(buf) - 1);
  close(fd);
  if(n <= 0)
    return false;
  buf[n] = '\0';
  /* The command name (field 2) may hold spaces and ')': skip to the last ')'. */
  p = strrchr(buf, ')');
  if(!p || p[1] != ' ')
    return false;
  pi->pid = pid;
  return sscanf(p + 2, "%c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu",
                &pi->state, &pi->ppid, &pi->start) == 3;
}

static int compare_pid(const void *a, const void *b)
{
  const struct proc_info *x = a, *y = b;

  return (x->pid > y->pid) - (x->pid < y->pid);
}

static void free_procs(struct proc_table *tab)
{
  free(tab->v);
  tab->v = NULL;
  tab->n = 0;
}

static bool scan_procs(struct proc_table *tab)
{
  size_t cap = 256;
  struct dirent *de;
  DIR *dir;

  tab->n = 0;
  tab->v = malloc(cap * sizeof(*tab->v));
  dir = opendir("/proc");
  if(!tab->v || !dir)
    goto fail;
  while((de = readdir(dir))) {
    char *end;
    long pid = strtol(de->d_name, &end, 10);

    if(*end || pid <= 0)
      continue;
    if(tab->n == cap) {
      struct proc_info *bigger = realloc(tab->v, 2 * cap * sizeof(*tab->v));

      if(!bigger)
        goto fail;
      tab->v = bigger;
      cap *= 2;
    }
    if(read_proc_stat((pid_t)pid, &tab->v[tab->n]))
      tab->n++;
  }
  closedir(dir);
  qsort(tab->v, tab->n, sizeof(*tab->v), compare_pid);
  return true;
fail:
  if(dir)
    closedir(dir);
  free_procs(tab);
  return false;
}

/* Append the children of pid (every thread's /proc/PID/task/TID/children) to queue. */
static bool add_children(pid_t pid, pid_t **queue, size_t *n, size_t *cap)
{
  char path[64];
  struct dirent *de;
  DIR *tasks;

  snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
  if(!(tasks = opendir(path)))
    return true; /* gone since: nothing to add */
  while((de = readdir(tasks))) {
    char file[96], buf[4096];
    ssize_t len;
    int fd;

    if(de->d_name[0] == '.')
      continue;
    if(snprintf(file, sizeof(file), "/proc/%d/task/%s/children", (int)pid, de->d_name) >= (int)sizeof(file) ||
       (fd = open(file, O_RDONLY | O_CLOEXEC)) < 0)
      continue;
    len = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if(len <= 0)
      continue;
    buf[len] = '\0';
    for(char *p = buf, *end; *p; p = end) {
      long child = strtol(p, &end, 10);

      if(end == p)
        break;
      if(*n == *cap) {
        pid_t *bigger = realloc(*queue, 2 * *cap * sizeof(**queue));

        if(!bigger) {
          closedir(tasks);
          return false;
        }
        *queue = bigger;
        *cap *= 2;
      }
      (*queue)[(*n)++] = (pid_t)child;
    }
  }
  closedir(tasks);
  return true;
}

/* Only root's descendants, found through the kernel's children lists instead of
   reading every process on the machine (a scan costs ~1 ms per call on a small VM,
   and the engine asks several times per cycle). False if the children files are
   missing (kernels without CONFIG_PROC_CHILDREN): the caller then scans /proc. */
static bool scan_tree(struct proc_table *tab, pid_t root)
{
  size_t cap = 64, n = 0, tabcap = 64;
  pid_t *queue = malloc(cap * sizeof(*queue));
  char probe[64];

  snprintf(probe, sizeof(probe), "/proc/%d/task/%d/children", (int)root, (int)root);
  tab->n = 0;
  tab->v = malloc(tabcap * sizeof(*tab->v));
  if(!queue || !tab->v || access(probe, R_OK) || !add_children(root, &queue, &n, &cap))
    goto fail;
  for(size_t i = 0; i < n; i++) {
    if(tab->n == tabcap) {
      struct proc_info *bigger = realloc(tab->v, 2 * tabcap * sizeof(*tab->v));

      if(!bigger)
        goto fail;
      tab->v = bigger;
      tabcap *= 2;
    }
    if(read_proc_stat(queue[i], &tab->v[tab->n])) {
      tab->n++;
      if(!add_children(queue[i], &queue, &n, &cap))
        goto fail;
    }
  }
  free(queue);
  qsort(tab->v, tab->n, sizeof(*tab->v), compare_pid);
  return true;
fail:
  free(queue);
  free_procs(tab);
  return false;
}

static const struct proc_info *find_proc(const struct proc_table *tab, pid_t pid)
{
  struct proc_info key = { .pid = pid };

  return tab->n ? bsearch(&key, tab->v, tab->n, sizeof(*tab->v), compare_pid) : NULL;
}

static bool proc_is_live(char state)
{
  return state != 'Z' && state != 'X' && state != 'x';
}

/* desc[i] = 1 when tab->v[i] descends from root, 2 when not. Each ancestor chain
   is walked once and its verdict cached. Returns false on allocation failure. */
static bool mark_descendants(const struct proc_table *tab, pid_t root, unsigned char *desc)
{
  size_t *chain = malloc((tab->n ? tab->n : 1) * sizeof(*chain));

  if(!chain)
    return false;
  memset(desc, 0, tab->n);
  for(size_t i = 0; i < tab->n; i++) {
    size_t depth = 0, j = i;
    unsigned char verdict = 2;

    for(;;) {
      const struct proc_info *parent;

      if(desc[j]) {
        verdict = desc[j];
        break;
      }
      if(depth == tab->n) /* a cycle cannot happen; do not loop if it does */
        break;
      chain[depth++] = j;
      if(tab->v[j].ppid == root) {
        verdict = 1;
        break;
      }
      parent = find_proc(tab, tab->v[j].ppid);
      if(!parent || tab->v[j].ppid <= 1)
        break;
      j = (size_t)(parent - tab->v);
    }
    while(depth)
      desc[chain[--depth]] = verdict;
  }
  free(chain);
  return true;
}

/* ---- the keeper ------------------------------------------------------------ */

struct keeper {
  int sock;
  int sigfd;
  struct wire_reply queue[KEEPER_QUEUE]; /* replies the harness has not taken yet */
  size_t qhead, qlen;
  pid_t spawned[KEEPER_SPAWNED]; /* our direct children, whose exits are reported */
  size_t nspawned;
  char buf[MAX_REQUEST];
};

static void keeper_queue(struct keeper *k, uint32_t type, uint32_t seq, pid_t pid, int value)
{
  struct wire_reply *r;

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
    ssize_t n = send(k->sock, &k->queue[k->qhead], sizeof(struct wire_reply), MSG_DONTWAIT | MSG_NOSIGNAL);

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
        keeper_queue(k, WIRE_EXIT, 0, pid, status);
      break;
    }
  }
}

/* SIGKILL every descendant until there is none left (zombies included, so that
   everything has been reaped), bounded. */
static void keeper_kill_tree(struct keeper *k)
{
  int64_t deadline = rb_clock_deadline(KEEPER_CLEANUP_NS), delay = POLL_MIN_NS;
  pid_t self = getpid();

  for(;;) {
    struct proc_table tab = { 0 };
    unsigned char *desc = NULL;
    size_t count = 0;

    keeper_reap(k, false);
    if(scan_procs(&tab) && (desc = malloc(tab.n ? tab.n : 1)) && mark_descendants(&tab, self, desc)) {
      for(size_t i = 0; i < tab.n; i++) {
        if(desc[i] != 1)
          continue;
        count++;
        if(proc_is_live(tab.v[i].state))
          kill(tab.v[i].pid, SIGKILL);
      }
    } else {
      count = 1; /* could not look: try again */
    }
    free(desc);
    free_procs(&tab);
    if(!count || rb_clock_now() >= deadline)
      return;
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
static void target_child(const char *command, int logfd, char **env, size_t nenv, int errfd, pid_t keeper)
{
  int err, null;

  reset_signals();
  if(setsid() < 0)
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
  const struct wire_request *req = (const struct wire_request *)k->buf;
  char *env[MAX_ENV], *p = k->buf + sizeof(*req), *end = k->buf + len, *command;
  size_t nenv = 0;
  int pipefd[2] = { -1, -1 }, err = 0;
  pid_t pid = 0, self = getpid();

  /* the buffer is NUL-terminated at len by the caller */
  command = p;
  p += strlen(p) + 1;
  while(p < end && nenv < req->nenv && nenv < MAX_ENV) {
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
  pid = fork();
  if(pid == 0)
    target_child(command, logfd, env, nenv, pipefd[1], self);
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
  keeper_queue(k, WIRE_SPAWNED, req->seq, pid, err);
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
  if((size_t)n > sizeof(struct wire_request) && ((struct wire_request *)k->buf)->type == WIRE_SPAWN)
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

static void keeper_main(int sock) __attribute__((noreturn));
static void keeper_main(int sock)
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
  sigemptyset(&mask);
  sigaddset(&mask, SIGCHLD);
  sigaddset(&mask, SIGTERM);
  sigprocmask(SIG_BLOCK, &mask, NULL);
  k.sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
  if(k.sigfd < 0)
    goto out;
  for(;;) {
    struct pollfd p[2] = { { .fd = k.sock, .events = POLLIN | (k.qlen ? POLLOUT : 0) },
                           { .fd = k.sigfd, .events = POLLIN } };
    struct signalfd_siginfo si;
    bool term = false;

    /* No deadline on purpose: the keeper idles until the harness speaks, a
       child changes state, or the harness goes away (EOF/HUP wakes us). */
    if(poll(p, 2, -1) < 0 && errno != EINTR)
      break;
    while(read(k.sigfd, &si, sizeof(si)) == sizeof(si))
      term |= si.ssi_signo == SIGTERM;
    keeper_reap(&k, true);
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

/* ---- the harness side ------------------------------------------------------ */

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
  uint32_t seq;
  uint32_t want_seq; /* the SPAWNED reply we wait for */
  bool want_aux;
  bool got_reply;
  int reply_err;
  int gen;                      /* current generation; -1 before the first start */
  unsigned long long gen_start; /* boot-time ticks at the current start */
  pid_t main;
  char *log_path; /* the current generation's log; exec faults write there too */
  struct rb_target_exit exit;
  pid_t aux;
  bool aux_exited;
  int aux_status;
  struct member *members;
  size_t nmembers, capmembers;
};

typedef bool (*member_pick)(const struct rb_target *t, const struct member *m);

static unsigned long long boot_ticks_now(void)
{
  struct timespec ts;
  long hz = sysconf(_SC_CLK_TCK);

  clock_gettime(CLOCK_BOOTTIME, &ts);
  if(hz <= 0)
    hz = 100;
  return (unsigned long long)ts.tv_sec * (unsigned long long)hz +
         (unsigned long long)ts.tv_nsec / (1000000000ULL / (unsigned long long)hz);
}

static void handle_reply(struct rb_target *t, const struct wire_reply *r)
{
  if(r->type == WIRE_SPAWNED && r->seq == t->want_seq && !t->got_reply) {
    t->got_reply = true;
    t->reply_err = r->pid > 0 ? 0 : (r->value ? r->value : EAGAIN);
    if(r->pid > 0 && t->want_aux) {
      t->aux = r->pid;
      t->aux_exited = false;
    } else if(r->pid > 0) {
      t->main = r->pid;
      memset(&t->exit, 0, sizeof(t->exit));
    }
  } else if(r->type == WIRE_SPAWNED && r->pid > 0) {
    /* The answer to a spawn we gave up waiting for: it is nobody's target. The
       keeper has not reported its exit, so the pid still names that process. */
    kill(r->pid, SIGKILL);
  } else if(r->type == WIRE_EXIT) {
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

/* Take every reply the keeper has sent, without blocking. */
static void drain(struct rb_target *t)
{
  struct wire_reply r;

  while(!t->keeper_gone) {
    ssize_t n = recv(t->sock, &r, sizeof(r), MSG_DONTWAIT);

    if(n < 0 && errno == EINTR)
      continue;
    if(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
      break;
    if(n <= 0) {
      t->keeper_gone = true;
      break;
    }
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

static struct member *add_member(struct rb_target *t, const struct proc_info *pi, int gen)
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
static int classify(struct rb_target *t, const struct proc_table *tab, const struct proc_info *pi, unsigned depth)
{
  const struct proc_info *parent;
  struct member *m = find_member(t, pi->pid);
  int gen;

  if(m)
    return m->gen;
  if(pi->pid == t->main) {
    gen = t->gen;
  } else if(pi->ppid == t->keeper || depth > 1000 || !(parent = find_proc(tab, pi->ppid))) {
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
  struct proc_table tab = { 0 };
  unsigned char *desc = NULL;
  size_t keep = 0;

  if(!(scan_tree(&tab, t->keeper) || scan_procs(&tab)) || !(desc = malloc(tab.n ? tab.n : 1)) ||
     !mark_descendants(&tab, t->keeper, desc))
    goto out;
  for(size_t i = 0; i < t->nmembers; i++) {
    struct member *m = &t->members[i];
    const struct proc_info *pi = find_proc(&tab, m->pid);

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
  free_procs(&tab);
}

/* Signal a member only if its pid still names the same process. */
static void signal_member(const struct member *m, int sig)
{
  struct proc_info pi;
  int fd = pidfd_open(m->pid, 0);

  if(fd < 0) {
    if(errno == ENOSYS && read_proc_stat(m->pid, &pi) && pi.start == m->start)
      kill(m->pid, sig);
    return;
  }
  if(read_proc_stat(m->pid, &pi) && pi.start == m->start)
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
      return proc_is_live(t->members[i].state);
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
    n += proc_is_live(t->members[i].state) && pick(t, &t->members[i]);
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
      if(t->members[i].marked && proc_is_live(t->members[i].state))
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
      t->keeper_gone = errno == EPIPE || errno == ECONNRESET || errno == ENOTCONN;
      return rb_fail(msg, msglen, RB_ERR_SYSTEM, "talking to the keeper process: %s", strerror(errno));
    }
    if(rb_clock_now() >= deadline)
      return rb_fail(msg, msglen, RB_ERR_TIMEOUT, "the keeper process does not take requests");
    poll(&p, 1, rb_clock_ms_left(deadline));
  }
}

static rb_err encode_request(struct rb_target *t, const char *command, char *const *env, char **out,
                             size_t *outlen, char *msg, size_t msglen)
{
  struct wire_request req = { .type = WIRE_SPAWN, .seq = ++t->seq };
  size_t len = sizeof(req) + strlen(command) + 1;
  char *buf, *p;

  for(size_t i = 0; env && env[i]; i++, req.nenv++) {
    if(req.nenv == MAX_ENV)
      return rb_fail(msg, msglen, RB_ERR_USAGE, "more than %d environment entries", MAX_ENV);
    len += strlen(env[i]) + 1;
  }
  if(len >= MAX_REQUEST)
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
  return open(log_path ? log_path : "/dev/null", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY, 0644);
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
  struct proc_info pi;

  if(read_proc_stat(pid, &pi) && pi.ppid == t->keeper && !find_member(t, pid))
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
    keeper_main(sv[1]);
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
  t->gen_start = boot_ticks_now();
  t->main = 0;
  memset(&t->exit, 0, sizeof(t->exit));
  free(t->log_path);
  t->log_path = log_path ? strdup(log_path) : NULL;
  if((err = spawn(t, command, log_path, env, false, &pid, msg, msglen)))
    return err;
  adopt(t, pid, t->gen);
  return RB_OK;
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
  struct proc_info pi;

  return m && m->gen == t->gen && !t->exit.exited && read_proc_stat(t->main, &pi) && pi.start == m->start &&
         proc_is_live(pi.state);
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
    if(pick_current(t, &t->members[i]) && proc_is_live(t->members[i].state))
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
  return m && proc_is_live(m->state) && pick_older(t, m);
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
    if(t->members[i].marked && proc_is_live(t->members[i].state))
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

    if(pick_current(t, m) && proc_is_live(m->state) && m->state != 'T' && m->state != 't')
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
  }
  return rb_fail(msg, msglen, RB_ERR_USAGE, "unknown fault kind %d", (int)fault->kind);
}

rb_err rb_target_kill_all(struct rb_target *t, int64_t timeout_ns, char *msg, size_t msglen)
{
  if(!t)
    return RB_OK;
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

/* Reap the keeper, bounded; SIGKILL it if it does not go by itself. */
static void reap_keeper(pid_t keeper)
{
  for(int round = 0; round < 2; round++) {
    int64_t deadline = rb_clock_deadline(KEEPER_EXIT_NS), delay = POLL_MIN_NS;

    for(;;) {
      pid_t r = waitpid(keeper, NULL, WNOHANG);

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

void rb_target_destroy(struct rb_target *t)
{
  if(!t)
    return;
  rb_target_kill_all(t, DESTROY_KILL_NS, NULL, 0);
  /* EOF tells the keeper to kill whatever is left and exit. */
  close(t->sock);
  reap_keeper(t->keeper);
  free(t->members);
  free(t->log_path);
  free(t);
}

/* ---- logs and descriptions ------------------------------------------------- */

static char printable(unsigned char c)
{
  return (c == '\n' || c == '\t' || (c >= 0x20 && c < 0x7f)) ? (char)c : '?';
}

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
    buf[i - start] = printable((unsigned char)chunk[i]);
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

void rb_proc_cmdline(pid_t pid, char *buf, size_t buflen)
{
  char path[64];
  ssize_t n = -1;
  int fd;

  if(!buf || !buflen)
    return;
  snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
  fd = open(path, O_RDONLY | O_CLOEXEC);
  if(fd >= 0) {
    n = read(fd, buf, buflen - 1);
    close(fd);
  }
  if(n <= 0) {
    snprintf(buf, buflen, "?");
    return;
  }
  while(n > 0 && buf[n - 1] == '\0')
    n--;
  for(ssize_t i = 0; i < n; i++)
    buf[i] = buf[i] == '\0' ? ' ' : printable((unsigned char)buf[i]);
  buf[n] = '\0';
  if(!n)
    snprintf(buf, buflen, "?");
}
