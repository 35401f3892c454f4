/*
 * cgroup: a cgroup v2 group of rebound's own (see rebound/cgroup.h).
 */
#include "rebound/cgroup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rebound/clock.h"
#include "rebound/procscan.h"

#define NAME_PREFIX "rebound-"
#define POLL_MIN_NS (200 * 1000)
#define POLL_MAX_NS (5 * RB_NS_PER_MS)
#define PROBE_NS (2 * RB_NS_PER_S)
#define LEFTOVER_KILL_NS (5 * RB_NS_PER_S)
#define MAX_PROCS_TEXT (1024 * 1024)

/* /proc/self/mountinfo escapes blanks and backslashes as \ooo. */
static void unescape(char *s)
{
  char *out = s;

  for(; *s; s++) {
    if(s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
      *out++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
      s += 3;
    } else {
      *out++ = *s;
    }
  }
  *out = '\0';
}

/* The first cgroup2 mount: its mount point and the hierarchy path it shows. */
static bool find_mount(char *point, size_t pointlen, char *root, size_t rootlen)
{
  FILE *f = fopen("/proc/self/mountinfo", "re");
  char line[4096];
  bool found = false;

  if(!f)
    return false;
  while(!found && fgets(line, sizeof(line), f)) {
    char r[PATH_MAX], m[PATH_MAX], *dash = strstr(line, " - ");
    char fstype[64];

    if(!dash || sscanf(dash + 3, "%63s", fstype) != 1 || strcmp(fstype, "cgroup2") ||
       sscanf(line, "%*s %*s %*s %4095s %4095s", r, m) != 2)
      continue;
    unescape(r);
    unescape(m);
    found = snprintf(point, pointlen, "%s", m) < (int)pointlen && snprintf(root, rootlen, "%s", r) < (int)rootlen;
  }
  fclose(f);
  return found;
}

/* Our own group in the unified hierarchy: the "0::PATH" line. */
static bool own_cgroup(char *buf, size_t buflen)
{
  FILE *f = fopen("/proc/self/cgroup", "re");
  char line[4096];
  bool found = false;

  if(!f)
    return false;
  while(!found && fgets(line, sizeof(line), f)) {
    if(strncmp(line, "0::", 3))
      continue;
    line[strcspn(line, "\n")] = '\0';
    found = snprintf(buf, buflen, "%s", line + 3) < (int)buflen;
  }
  fclose(f);
  return found;
}

/* REBOUND_CGROUP_BASE: a cgroup2 folder given by the user (a delegated subtree,
   or a private place for tests, where no other rebound looks for leftovers). */
static rb_err given_base(const char *given, char *buf, size_t buflen, char *msg, size_t msglen)
{
  struct statfs fs;

  if(given[0] != '/' || snprintf(buf, buflen, "%s", given) >= (int)buflen)
    return rb_fail(msg, msglen, RB_ERR_NOT_FOUND, "REBOUND_CGROUP_BASE=%s: not an absolute path", given);
  if(statfs(given, &fs) < 0 || fs.f_type != CGROUP2_SUPER_MAGIC)
    return rb_fail(msg, msglen, RB_ERR_NOT_FOUND, "REBOUND_CGROUP_BASE=%s: not a cgroup2 folder", given);
  if(access(given, W_OK) < 0)
    return rb_fail(msg, msglen, RB_ERR_SYSTEM, "cgroup %s is not writable: %s", given, strerror(errno));
  return RB_OK;
}

rb_err rb_cgroup_base(char *buf, size_t buflen, char *msg, size_t msglen)
{
  char point[PATH_MAX], root[PATH_MAX], own[PATH_MAX];
  const char *forced = getenv("REBOUND_CONTAINMENT"), *given = getenv("REBOUND_CGROUP_BASE"), *rel;
  size_t rootlen;

  if(forced && !strcmp(forced, "subreaper"))
    return rb_fail(msg, msglen, RB_ERR_NOT_FOUND, "REBOUND_CONTAINMENT=subreaper");
  if(given && *given)
    return given_base(given, buf, buflen, msg, msglen);
  if(!find_mount(point, sizeof(point), root, sizeof(root)))
    return rb_fail(msg, msglen, RB_ERR_NOT_FOUND, "no cgroup2 file system is mounted");
  if(!own_cgroup(own, sizeof(own)))
    return rb_fail(msg, msglen, RB_ERR_NOT_FOUND, "/proc/self/cgroup has no cgroup2 entry");
  /* A mount of a subtree (a container's) shows paths below its root. */
  rootlen = strcmp(root, "/") ? strlen(root) : 0;
  if(strncmp(own, root, rootlen) || (own[rootlen] && own[rootlen] != '/'))
    return rb_fail(msg, msglen, RB_ERR_NOT_FOUND, "rebound's cgroup %s is outside the cgroup2 mount at %s", own, point);
  rel = own + rootlen;
  if(snprintf(buf, buflen, "%s%s", point, strcmp(rel, "/") ? rel : "") >= (int)buflen)
    return rb_fail(msg, msglen, RB_ERR_NOT_FOUND, "cgroup path too long");
  if(access(buf, W_OK) < 0)
    return rb_fail(msg, msglen, RB_ERR_SYSTEM, "cgroup %s is not writable: %s", buf, strerror(errno));
  return RB_OK;
}

int rb_cgroup_join(int dirfd)
{
  int fd = openat(dirfd, "cgroup.procs", O_WRONLY | O_CLOEXEC), err = 0;

  if(fd < 0)
    return errno;
  if(write(fd, "0", 1) != 1)
    err = errno ? errno : EIO;
  close(fd);
  return err;
}

/* Can a process be moved in? A child tries and says why not in its exit status. */
static int probe_join(int dirfd)
{
  int64_t deadline = rb_clock_deadline(PROBE_NS), delay = POLL_MIN_NS;
  int status = 0;
  pid_t pid = fork();

  if(pid < 0)
    return errno;
  if(pid == 0)
    _exit(rb_cgroup_join(dirfd) & 0xff);
  for(;;) {
    pid_t r = waitpid(pid, &status, WNOHANG);

    if(r == pid)
      break;
    if(r < 0 && errno != EINTR)
      return errno;
    if(rb_clock_now() >= deadline) {
      kill(pid, SIGKILL);
      while(waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
      return ETIMEDOUT;
    }
    rb_clock_sleep(delay);
    delay = delay * 2 > POLL_MAX_NS ? POLL_MAX_NS : delay * 2;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : EIO;
}

/* Our pid namespace's inode: a pid only names a process within one namespace. */
static unsigned long pid_namespace(void)
{
  struct stat st;

  return stat("/proc/self/ns/pid", &st) == 0 ? (unsigned long)st.st_ino : 0;
}

rb_err rb_cgroup_create(struct rb_cgroup *cg, char *msg, size_t msglen)
{
  static unsigned counter; /* groups made by this process */
  char base[PATH_MAX];
  struct rb_proc_info self;
  rb_err err;
  int probe;

  cg->path[0] = '\0';
  cg->dirfd = -1;
  if((err = rb_cgroup_base(base, sizeof(base), msg, msglen)))
    return err;
  if(!rb_proc_read_stat(getpid(), &self))
    return rb_fail(msg, msglen, RB_ERR_SYSTEM, "cannot read /proc/self/stat");
  if(snprintf(cg->path, sizeof(cg->path), "%s/" NAME_PREFIX "%lu-%d-%llu-%u", base, pid_namespace(), (int)self.pid,
              self.start, ++counter) >= (int)sizeof(cg->path))
    return rb_fail(msg, msglen, RB_ERR_SYSTEM, "cgroup path too long");
  if(mkdir(cg->path, 0755) < 0) {
    err = rb_fail(msg, msglen, RB_ERR_SYSTEM, "cannot create cgroup %s: %s", cg->path, strerror(errno));
    goto fail;
  }
  cg->dirfd = open(cg->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if(cg->dirfd < 0) {
    err = rb_fail(msg, msglen, RB_ERR_SYSTEM, "cannot open cgroup %s: %s", cg->path, strerror(errno));
    rmdir(cg->path);
    goto fail;
  }
  if((probe = probe_join(cg->dirfd))) {
    err = rb_fail(msg, msglen, RB_ERR_SYSTEM, "cannot move a process into cgroup %s: %s", cg->path,
                  strerror(probe));
    rb_cgroup_destroy(cg, PROBE_NS, NULL, 0);
    goto fail;
  }
  return RB_OK;
fail:
  cg->path[0] = '\0';
  return err;
}

/* The pids listed in cgroup.procs (at most max); returns how many, or -1. */
static ssize_t read_procs(int dirfd, pid_t *pids, size_t max)
{
  int fd = openat(dirfd, "cgroup.procs", O_RDONLY | O_CLOEXEC);
  char *text, *p, *end;
  size_t used = 0, n = 0;
  ssize_t r;

  if(fd < 0)
    return -1;
  if(!(text = malloc(MAX_PROCS_TEXT + 1))) {
    close(fd);
    errno = ENOMEM;
    return -1;
  }
  while(used < MAX_PROCS_TEXT && (r = read(fd, text + used, MAX_PROCS_TEXT - used)) != 0) {
    if(r < 0 && errno == EINTR)
      continue;
    if(r < 0)
      break;
    used += (size_t)r;
  }
  close(fd);
  text[used] = '\0';
  for(p = text; n < max; p = end) {
    long pid = strtol(p, &end, 10);

    if(end == p)
      break;
    if(pid > 0)
      pids[n++] = (pid_t)pid;
  }
  free(text);
  return (ssize_t)n;
}

/* One round of killing: cgroup.kill where the kernel has it (5.14), else every
   listed pid (a fork between the read and the kill is caught next round). */
static void kill_round(int dirfd, pid_t *pids, size_t max)
{
  int fd = openat(dirfd, "cgroup.kill", O_WRONLY | O_CLOEXEC);
  ssize_t n;

  if(fd >= 0) {
    bool done = write(fd, "1", 1) == 1;

    close(fd);
    if(done)
      return;
  }
  n = read_procs(dirfd, pids, max);
  for(ssize_t i = 0; i < n; i++)
    kill(pids[i], SIGKILL);
}

rb_err rb_cgroup_kill(int dirfd, int64_t timeout_ns, size_t *killed, char *msg, size_t msglen)
{
  int64_t deadline = rb_clock_deadline(timeout_ns), delay = POLL_MIN_NS;
  size_t max = 65536;
  pid_t *pids = malloc(max * sizeof(*pids));
  ssize_t n;
  rb_err err = RB_OK;

  if(killed)
    *killed = 0;
  if(!pids)
    return rb_fail(msg, msglen, RB_ERR_NOMEM, "out of memory");
  n = read_procs(dirfd, pids, max);
  if(killed && n > 0)
    *killed = (size_t)n;
  for(;;) {
    if(n < 0 && errno != ENOENT) /* ENOENT: the group has been removed, so it is empty */
      err = rb_fail(msg, msglen, RB_ERR_SYSTEM, "cannot read cgroup.procs: %s", strerror(errno));
    if(n <= 0)
      break;
    if(rb_clock_now() >= deadline) {
      err = rb_fail(msg, msglen, RB_ERR_TIMEOUT, "%zd process%s still in the cgroup after SIGKILL", n,
                    n == 1 ? "" : "es");
      break;
    }
    kill_round(dirfd, pids, max);
    rb_clock_sleep(delay);
    delay = delay * 2 > POLL_MAX_NS ? POLL_MAX_NS : delay * 2;
    n = read_procs(dirfd, pids, max);
  }
  free(pids);
  return err;
}

/* rmdir, retried while the kernel still counts the group busy (it empties
   cgroup.procs slightly before it lets the folder go), and sub-groups first. */
static void remove_tree(int dirfd, const char *path, int depth, int64_t deadline)
{
  DIR *dir;
  struct dirent *de;
  int fd;

  if(depth < 8 && (fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0 && (dir = fdopendir(fd))) {
    while((de = readdir(dir))) {
      char sub[PATH_MAX];
      int subfd;

      if(de->d_type != DT_DIR || de->d_name[0] == '.' ||
         snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name) >= (int)sizeof(sub) ||
         (subfd = openat(dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
        continue;
      rb_cgroup_kill(subfd, deadline - rb_clock_now(), NULL, NULL, 0);
      remove_tree(subfd, sub, depth + 1, deadline);
      close(subfd);
    }
    closedir(dir);
  }
  for(int64_t delay = POLL_MIN_NS; rmdir(path) < 0 && errno == EBUSY && rb_clock_now() < deadline;) {
    rb_clock_sleep(delay);
    delay = delay * 2 > POLL_MAX_NS ? POLL_MAX_NS : delay * 2;
  }
}

rb_err rb_cgroup_destroy(struct rb_cgroup *cg, int64_t timeout_ns, char *msg, size_t msglen)
{
  int64_t deadline = rb_clock_deadline(timeout_ns);
  rb_err err;

  if(!cg || cg->dirfd < 0)
    return RB_OK;
  err = rb_cgroup_kill(cg->dirfd, timeout_ns, NULL, msg, msglen);
  remove_tree(cg->dirfd, cg->path, 0, deadline);
  if(!err && access(cg->path, F_OK) == 0)
    err = rb_fail(msg, msglen, RB_ERR_SYSTEM, "cannot remove cgroup %s: %s", cg->path, strerror(EBUSY));
  close(cg->dirfd);
  cg->dirfd = -1;
  return err;
}

/* A name of ours, rebound-PIDNS-PID-START-N, whose owner is no longer alive. A
   group made in another pid namespace (a container sharing the cgroup tree) is
   not ours to judge: its pid means nothing here. */
static bool is_leftover(const char *name, pid_t *owner)
{
  struct rb_proc_info pi;
  unsigned long long start;
  unsigned long ns;
  char path[64];
  unsigned n;
  int pid, used = 0;

  if(strncmp(name, NAME_PREFIX, strlen(NAME_PREFIX)) ||
     sscanf(name + strlen(NAME_PREFIX), "%lu-%d-%llu-%u%n", &ns, &pid, &start, &n, &used) != 4 ||
     name[strlen(NAME_PREFIX) + (size_t)used] || pid <= 0 || ns != pid_namespace())
    return false;
  *owner = (pid_t)pid;
  /* dead: gone from /proc, a zombie, or the pid now names a younger process */
  if(rb_proc_read_stat((pid_t)pid, &pi))
    return pi.start != start || !rb_proc_is_live(pi.state);
  /* could not read it (out of descriptors, say): only a pid that is gone is dead */
  snprintf(path, sizeof(path), "/proc/%d", pid);
  return access(path, F_OK) < 0 && errno == ENOENT;
}

rb_err rb_cgroup_cleanup_leftovers(rb_cgroup_leftover_fn fn, void *arg, size_t *count, char *msg, size_t msglen)
{
  char base[PATH_MAX];
  struct dirent *de;
  DIR *dir;
  rb_err err = RB_OK;

  if(count)
    *count = 0;
  if(rb_cgroup_base(base, sizeof(base), NULL, 0))
    return RB_OK; /* no group of ours can exist */
  if(!(dir = opendir(base)))
    return rb_fail(msg, msglen, RB_ERR_SYSTEM, "%s: %s", base, strerror(errno));
  while((de = readdir(dir))) {
    struct rb_cgroup cg;
    size_t killed = 0;
    pid_t owner;

    if(de->d_type != DT_DIR || !is_leftover(de->d_name, &owner) ||
       snprintf(cg.path, sizeof(cg.path), "%s/%s", base, de->d_name) >= (int)sizeof(cg.path) ||
       (cg.dirfd = openat(dirfd(dir), de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
      continue;
    if(rb_cgroup_kill(cg.dirfd, LEFTOVER_KILL_NS, &killed, msg, msglen))
      err = RB_ERR_TIMEOUT;
    if(rb_cgroup_destroy(&cg, LEFTOVER_KILL_NS, err ? NULL : msg, err ? 0 : msglen) && !err)
      err = RB_ERR_SYSTEM;
    if(count)
      (*count)++;
    if(fn)
      fn(cg.path, owner, killed, arg);
  }
  closedir(dir);
  return err;
}
