/*
 * logcap: a log file that keeps a bounded amount of what it is given
 * (see rebound/logcap.h for the layout and why).
 */
#include "rebound/logcap.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ALIGN_SCAN 4096 /* how far the kept tail may be moved to start at a line */

int rb_logcap_open(struct rb_logcap *lc, int fd, uint64_t limit)
{
  struct stat st;
  int flags;

  memset(lc, 0, sizeof(*lc));
  lc->fd = -1;
  if(limit < RB_LOGCAP_MIN)
    return EINVAL;
  if(fstat(fd, &st) < 0)
    return errno;
  if(!S_ISREG(st.st_mode))
    return EINVAL;
  /* pwrite() on an O_APPEND descriptor appends on Linux: the compaction needs offsets. */
  if((flags = fcntl(fd, F_GETFL)) < 0)
    return errno;
  if((flags & O_ACCMODE) != O_RDWR)
    return EBADF; /* the compaction reads the tail back */
  if(fcntl(fd, F_SETFL, flags & ~O_APPEND) < 0)
    return errno;
  lc->fd = fd;
  lc->limit = limit;
  lc->base = lc->end = st.st_size;
  return 0;
}

size_t rb_logcap_chunk(const struct rb_logcap *lc)
{
  uint64_t quarter = lc->limit / 4;

  return quarter < RB_LOGCAP_CHUNK ? (size_t)quarter : RB_LOGCAP_CHUNK;
}

static int write_at(int fd, const char *buf, size_t n, off_t off)
{
  while(n) {
    ssize_t w = pwrite(fd, buf, n, off);

    if(w < 0 && errno == EINTR)
      continue;
    if(w < 0)
      return errno;
    if(w == 0)
      return EIO;
    buf += w;
    n -= (size_t)w;
    off += w;
  }
  return 0;
}

/* Copy [from, from + n) down to `to` (to < from), front to back: each chunk is
   written below the next one read, so nothing unread is overwritten. */
static int move_down(int fd, off_t from, off_t to, off_t n)
{
  char buf[RB_LOGCAP_CHUNK];

  while(n > 0) {
    ssize_t r = pread(fd, buf, n < (off_t)sizeof(buf) ? (size_t)n : sizeof(buf), from);
    int err;

    if(r < 0 && errno == EINTR)
      continue;
    if(r <= 0)
      return r < 0 ? errno : EIO;
    if((err = write_at(fd, buf, (size_t)r, to)))
      return err;
    from += r;
    to += r;
    n -= r;
  }
  return 0;
}

/* Skip to just after the first newline near `from`, if there is one: the tail
   then starts with a whole line. */
static off_t line_start(int fd, off_t from, off_t end)
{
  char buf[ALIGN_SCAN];
  off_t len = end - from < (off_t)sizeof(buf) ? end - from : (off_t)sizeof(buf);
  ssize_t r = len > 0 ? pread(fd, buf, (size_t)len, from) : 0;
  char *nl = r > 0 ? memchr(buf, '\n', (size_t)r) : NULL;

  return nl && nl + 1 < buf + r ? from + (nl + 1 - buf) : from;
}

/* Make room for n more bytes: keep only the newest limit/4 - n bytes of the tail. */
static int compact(struct rb_logcap *lc, size_t n)
{
  off_t head_end = lc->base + (off_t)lc->head;
  off_t old_tail = lc->tail_start ? lc->tail_start : head_end;
  off_t keep = (off_t)(lc->limit / 4) - (off_t)n, from;
  char marker[160];
  int len, err;

  if(keep < 0)
    keep = 0;
  if(keep > lc->end - old_tail)
    keep = lc->end - old_tail;
  from = line_start(lc->fd, lc->end - keep, lc->end);
  keep = lc->end - from;
  lc->dropped += (uint64_t)(from - old_tail);
  len = snprintf(marker, sizeof(marker), "%s[rebound: %" PRIu64 " bytes of output dropped here: log_limit %" PRIu64
                 " keeps the first and the last bytes]\n", lc->head_newline ? "" : "\n", lc->dropped, lc->limit);
  if((err = write_at(lc->fd, marker, (size_t)len, head_end)))
    return err;
  lc->tail_start = head_end + len;
  if((err = move_down(lc->fd, from, lc->tail_start, keep)))
    return err;
  lc->end = lc->tail_start + keep;
  return ftruncate(lc->fd, lc->end) < 0 ? errno : 0;
}

int rb_logcap_write(struct rb_logcap *lc, const char *buf, size_t n)
{
  uint64_t head_room = lc->limit / 2 - lc->head;
  int err;

  if(lc->fd < 0)
    return EBADF;
  if(!n)
    return 0;
  if(n > rb_logcap_chunk(lc))
    return EINVAL;
  if(!lc->tail_start && head_room) {
    size_t h = n < head_room ? n : (size_t)head_room;

    if((err = write_at(lc->fd, buf, h, lc->end)))
      return err;
    lc->head += h;
    lc->end += (off_t)h;
    lc->head_newline = buf[h - 1] == '\n';
    buf += h;
    n -= h;
  }
  if(!n)
    return 0;
  if((uint64_t)(lc->end - lc->base) + n > lc->limit && (err = compact(lc, n)))
    return err;
  if((err = write_at(lc->fd, buf, n, lc->end)))
    return err;
  lc->end += (off_t)n;
  return 0;
}

void rb_logcap_close(struct rb_logcap *lc)
{
  if(lc->fd >= 0)
    close(lc->fd);
  lc->fd = -1;
}
