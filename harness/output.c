/*
 * output: writing the files rebound was asked for, without ever replacing a device,
 * a FIFO, a socket or a symlink, and without losing a write error (see output.h).
 */
#include "rebound/output.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "rebound/clock.h"

#define MAX_LINK_HOPS 40                 /* the kernel's own limit */
#define FIFO_READER_WAIT (5 * RB_NS_PER_S) /* a FIFO's reader may start just after us */

/* A link in /proc (/dev/stdout -> /proc/self/fd/1) names an open file, not a path:
   its target must be reopened through the link, never replaced -- replacing the file
   a shell redirected stdout to would drop what was printed before. */
static bool magic_link(const char *path)
{
  return !strncmp(path, "/proc/", 6);
}

/* Where path leads: symlinks followed by hand, so a dangling one yields the file it
   would create. *exists false when that file does not exist yet. A /proc link stops
   the walk with *magic set: out is that link. */
static rb_err resolve(const char *path, char *out, size_t outlen, struct stat *st, bool *exists, bool *magic,
                      char *msg, size_t msglen)
{
  char cur[PATH_MAX], link[PATH_MAX];
  ssize_t n;

  if(snprintf(cur, sizeof(cur), "%s", path) >= (int)sizeof(cur))
    return rb_fail(msg, msglen, RB_ERR_IO, "%s: path too long", path);
  for(int hop = 0; hop < MAX_LINK_HOPS; hop++) {
    char *slash;

    if(lstat(cur, st)) {
      if(errno != ENOENT)
        return rb_fail(msg, msglen, RB_ERR_IO, "%s: %s", path, strerror(errno));
      *exists = false;
      break;
    }
    *magic = S_ISLNK(st->st_mode) && magic_link(cur);
    if(!S_ISLNK(st->st_mode) || *magic) {
      *exists = true;
      break;
    }
    if((n = readlink(cur, link, sizeof(link) - 1)) < 0)
      return rb_fail(msg, msglen, RB_ERR_IO, "%s: %s", path, strerror(errno));
    link[n] = '\0';
    slash = strrchr(cur, '/');
    if(link[0] == '/' || !slash)
      memmove(cur, link, (size_t)n + 1);
    else if((size_t)(slash + 1 - cur) + (size_t)n >= sizeof(cur))
      return rb_fail(msg, msglen, RB_ERR_IO, "%s: path too long", path);
    else
      memcpy(slash + 1, link, (size_t)n + 1);
    if(hop == MAX_LINK_HOPS - 1)
      return rb_fail(msg, msglen, RB_ERR_IO, "%s: %s", path, strerror(ELOOP));
  }
  if(snprintf(out, outlen, "%s", cur) >= (int)outlen)
    return rb_fail(msg, msglen, RB_ERR_IO, "%s: path too long", path);
  return RB_OK;
}

static void folder_of(const char *file, char *dir, size_t dirlen)
{
  const char *slash = strrchr(file, '/');

  if(!slash)
    snprintf(dir, dirlen, ".");
  else if(slash == file)
    snprintf(dir, dirlen, "/");
  else
    snprintf(dir, dirlen, "%.*s", (int)(slash - file), file);
}

/* The rename is only durable once the folder's entry is on disk too. */
static rb_err sync_folder(const char *target, const char *path, char *msg, size_t msglen)
{
  char dir[PATH_MAX];
  int fd, rc;

  folder_of(target, dir, sizeof(dir));
  if((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
    return rb_fail(msg, msglen, RB_ERR_IO, "%s: %s", path, strerror(errno));
  rc = fsync(fd);
  /* some file systems cannot fsync a folder (EINVAL): nothing more can be done there */
  if(rc && errno != EINVAL) {
    rc = errno;
    close(fd);
    return rb_fail(msg, msglen, RB_ERR_IO, "%s: %s", path, strerror(rc));
  }
  close(fd);
  return RB_OK;
}

/* A FIFO opened non-blocking fails with ENXIO until a reader is there: wait for
   one, bounded, then write blocking as to any pipe. */
static int open_fifo(const char *target)
{
  int64_t deadline = rb_clock_deadline(FIFO_READER_WAIT);
  int fd;

  while((fd = open(target, O_WRONLY | O_NONBLOCK | O_CLOEXEC)) < 0 && errno == ENXIO &&
        rb_clock_now() < deadline)
    rb_clock_sleep(10 * RB_NS_PER_MS);
  if(fd >= 0)
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  return fd;
}

static int open_socket(const char *target)
{
  struct sockaddr_un sa = { .sun_family = AF_UNIX };
  int fd;

  if(strlen(target) >= sizeof(sa.sun_path)) {
    errno = ENAMETOOLONG;
    return -1;
  }
  memcpy(sa.sun_path, target, strlen(target) + 1);
  if((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
    return -1;
  if(connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
    int e = errno;

    close(fd);
    errno = e;
    return -1;
  }
  return fd;
}

/* /proc/self/fd/N: one of our own descriptors (/dev/stdout, /dev/fd/N). */
static bool own_fd_number(const char *target, int *n)
{
  int len = 0;

  return sscanf(target, "/proc/self/fd/%d%n", n, &len) == 1 && !target[len] && *n >= 0;
}

/* An existing file that is not regular: the descriptor to write it where it is. One
   of our own descriptors (/dev/stdout) is duplicated, so the report continues at the
   same offset as what the console printed (a shell redirect to a file keeps both, in
   order); another /proc link (st is the link's) is opened for appending. */
static int open_in_place(const char *path, const char *target, const struct stat *st, bool magic, char *msg,
                         size_t msglen)
{
  int fd;

  if(S_ISDIR(st->st_mode) || S_ISBLK(st->st_mode)) {
    rb_fail(msg, msglen, RB_ERR_IO, "%s: is a %s, not a file to write a report to", path,
            S_ISDIR(st->st_mode) ? "folder" : "block device");
    return -1;
  }
  if(magic && own_fd_number(target, &fd)) {
    fflush(stdout); /* what was printed comes first, then the report, at the same offset */
    fflush(stderr);
    fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
  }
  else if(magic)
    fd = open(target, O_WRONLY | O_APPEND | O_NOCTTY | O_CLOEXEC);
  else if(S_ISFIFO(st->st_mode))
    fd = open_fifo(target);
  else if(S_ISSOCK(st->st_mode))
    fd = open_socket(target);
  else
    fd = open(target, O_WRONLY | O_NOCTTY | O_CLOEXEC);
  if(fd < 0)
    rb_fail(msg, msglen, RB_ERR_IO, "%s: %s", path,
            S_ISFIFO(st->st_mode) && errno == ENXIO ? "a FIFO without a reader" : strerror(errno));
  return fd;
}

/* An open output. Its FILE writes through sink_write, which keeps the first error
   (ENOSPC, EIO, a write that made no progress): stdio would only keep a flag. */
struct rb_output {
  FILE *f;
  int fd;
  int err;                /* first errno of a write or of the close */
  bool own_fd;            /* false for standard output */
  bool atomic;            /* f is tmp: fsync, rename to target, fsync the folder */
  char path[PATH_MAX];    /* as given, for messages */
  char target[PATH_MAX];
  char tmp[PATH_MAX + 16];
};

static ssize_t sink_write(void *cookie, const char *buf, size_t len)
{
  struct rb_output *o = cookie;
  size_t done = 0;

  while(done < len) {
    ssize_t n = write(o->fd, buf + done, len - done);

    if(n < 0 && errno == EINTR)
      continue;
    if(n <= 0) {
      if(!o->err)
        o->err = n < 0 ? errno : EIO;
      errno = o->err;
      return -1;
    }
    done += (size_t)n;
  }
  return (ssize_t)len;
}

static int sink_close(void *cookie)
{
  struct rb_output *o = cookie;

  if(o->own_fd && close(o->fd) && !o->err)
    o->err = errno;
  return o->err ? -1 : 0;
}

static rb_err attach(struct rb_output *o, int fd, bool own_fd, char *msg, size_t msglen)
{
  cookie_io_functions_t io = { .write = sink_write, .close = sink_close };

  o->fd = fd;
  o->own_fd = own_fd;
  if(!(o->f = fopencookie(o, "w", io))) {
    if(own_fd)
      close(fd);
    return rb_fail(msg, msglen, RB_ERR_NOMEM, "%s: %s", o->path, strerror(errno));
  }
  return RB_OK;
}

/* A new temporary file next to target, to be renamed over it; mode 0 = as a plain
   fopen would create it (not mkstemp's 0600), else the replaced file's. */
static int open_temp(struct rb_output *o, mode_t mode, char *msg, size_t msglen)
{
  mode_t mask = umask(0);
  int fd;

  umask(mask);
  if(snprintf(o->tmp, sizeof(o->tmp), "%s.tmp.XXXXXX", o->target) >= (int)sizeof(o->tmp)) {
    rb_fail(msg, msglen, RB_ERR_IO, "%s: path too long", o->path);
    return -1;
  }
  if((fd = mkostemp(o->tmp, O_CLOEXEC)) < 0) {
    rb_fail(msg, msglen, RB_ERR_IO, "%s: %s", o->path, strerror(errno));
    return -1;
  }
  fchmod(fd, mode ? mode : 0666 & ~mask);
  o->atomic = true;
  return fd;
}

static rb_err open_output(struct rb_output *o, const char *path, bool append, char *msg, size_t msglen)
{
  struct stat st;
  bool exists, magic = false;
  rb_err err;
  int fd;

  memset(o, 0, sizeof(*o));
  snprintf(o->path, sizeof(o->path), "%s", path);
  if(!strcmp(path, "-")) {
    fflush(stdout); /* what the console printed comes first */
    return attach(o, STDOUT_FILENO, false, msg, msglen);
  }
  if((err = resolve(path, o->target, sizeof(o->target), &st, &exists, &magic, msg, msglen)))
    return err;
  if(exists && (!S_ISREG(st.st_mode) || magic))
    fd = open_in_place(path, o->target, &st, magic, msg, msglen);
  else if(append) {
    if((fd = open(o->target, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0666)) < 0)
      rb_fail(msg, msglen, RB_ERR_IO, "%s: %s", path, strerror(errno));
  }
  else
    fd = open_temp(o, exists ? st.st_mode & 07777 : 0, msg, msglen);
  if(fd < 0)
    return RB_ERR_IO;
  return attach(o, fd, true, msg, msglen);
}

/* Flush, sync, close and (atomic) rename; err is the writer's, kept if set. */
static rb_err close_output(struct rb_output *o, rb_err err, char *msg, size_t msglen)
{
  if(fflush(o->f) && !o->err)
    o->err = errno ? errno : EIO;
  if(o->atomic && !err && !o->err && fsync(o->fd))
    o->err = errno;
  fclose(o->f); /* sink_close records a failed close */
  if(!err && o->err)
    err = rb_fail(msg, msglen, RB_ERR_IO, "%s: %s", o->path, strerror(o->err));
  if(o->atomic && !err && rename(o->tmp, o->target))
    err = rb_fail(msg, msglen, RB_ERR_IO, "%s: %s", o->path, strerror(errno));
  if(o->atomic && err)
    unlink(o->tmp);
  else if(o->atomic)
    err = sync_folder(o->target, o->path, msg, msglen);
  return err;
}

rb_err rb_output_write(const char *path, rb_output_fn fn, const void *arg, char *msg, size_t msglen)
{
  struct rb_output o;
  char why[512] = "";
  rb_err err;

  if((err = open_output(&o, path, false, msg, msglen)))
    return err;
  if((err = fn(o.f, arg, why, sizeof(why))))
    rb_fail(msg, msglen, err, "%s: %s", path, why[0] ? why : rb_strerror(err));
  return close_output(&o, err, msg, msglen);
}

struct rb_output *rb_output_open_append(const char *path, char *msg, size_t msglen)
{
  struct rb_output *o = malloc(sizeof(*o));

  if(!o) {
    rb_fail(msg, msglen, RB_ERR_NOMEM, "%s: out of memory", path);
    return NULL;
  }
  if(open_output(o, path, true, msg, msglen)) {
    free(o);
    return NULL;
  }
  return o;
}

FILE *rb_output_file(const struct rb_output *o)
{
  return o ? o->f : NULL;
}

rb_err rb_output_close(struct rb_output *o, char *msg, size_t msglen)
{
  rb_err err;

  if(!o)
    return RB_OK;
  err = close_output(o, RB_OK, msg, msglen);
  free(o);
  return err;
}
