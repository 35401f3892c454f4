/*
 * logcap: a log file that keeps a bounded amount of what it is given.
 *
 * A noisy server (trace level, or `yes` in its start script) must not fill the
 * disk: of everything written through one rb_logcap, the file keeps the first
 * half of `limit` bytes (the head: how it started) and the most recent bytes (the
 * tail: why it ended), with one line between them saying how many bytes were
 * dropped. The file always reads in order (head, marker, tail) and never grows
 * beyond what it held at open + limit, so a reader may look at its end at any
 * moment and see the real last lines. Bytes already in the file when it was
 * opened are left alone (exec faults and restarts may append to it).
 *
 * How: the tail is written in place after the head; when the next write would
 * pass the limit, the last quarter of the limit is moved down to just after the
 * marker (rounded to a line start) and the file truncated there. Each byte is
 * thus copied at most about twice, with a buffer of RB_LOGCAP_CHUNK bytes.
 */
#ifndef REBOUND_LOGCAP_H
#define REBOUND_LOGCAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define RB_LOGCAP_MIN 4096    /* the smallest limit that keeps a useful head and tail */
#define RB_LOGCAP_CHUNK 65536 /* largest write rb_logcap_write takes at once */

struct rb_logcap {
  int fd;
  uint64_t limit;
  off_t base;        /* file size at open: not ours */
  off_t end;         /* where the next byte goes */
  uint64_t head;     /* bytes of the head written so far (<= limit / 2) */
  uint64_t dropped;  /* bytes dropped between head and tail */
  off_t tail_start;  /* first byte of the tail (after the marker); 0 until the head is full */
  bool head_newline; /* the head ends with '\n' */
};

/* Take over fd (a regular file open for reading and writing; O_APPEND is
   cleared) with limit >= RB_LOGCAP_MIN. Returns 0 or an errno value (EINVAL, or
   EBADF for a descriptor not open O_RDWR; fd is then left open for the caller). */
int rb_logcap_open(struct rb_logcap *lc, int fd, uint64_t limit);

/* Largest n accepted by rb_logcap_write. */
size_t rb_logcap_chunk(const struct rb_logcap *lc);

/* Keep buf[0..n) under the rules above; n <= rb_logcap_chunk(). Returns 0 or an
   errno value. */
int rb_logcap_write(struct rb_logcap *lc, const char *buf, size_t n);

/* Close the file. Safe on a closed or zeroed-then-fd=-1 rb_logcap. */
void rb_logcap_close(struct rb_logcap *lc);

#endif
