/*
 * output: the one way rebound writes a file it was asked for (reports, events,
 * the results kept in the artifacts folder).
 *
 * rebound runs as root in CI, so a report path must never destroy what it names:
 *   "-"                        standard output
 *   an existing non-regular    (character device, FIFO, socket, or a symlink to one)
 *                              opened and written in place, never replaced
 *   a symlink to a file        the link is followed (also when it dangles) and the
 *                              file it names is written atomically in its own folder;
 *                              the link stays a link
 *   a regular file / new path  written atomically: temp file in the same folder,
 *                              write, fsync, rename, fsync the folder
 * Every write error (ENOSPC, EIO, a short write, a failed close) is reported with a
 * one-line message naming the path; nothing half-written is left under the name.
 */
#ifndef REBOUND_OUTPUT_H
#define REBOUND_OUTPUT_H

#include <stdio.h>

#include "rebound/error.h"

/* Writes the whole content to f; an error return (with msg) aborts the write. */
typedef rb_err (*rb_output_fn)(FILE *f, const void *arg, char *msg, size_t msglen);

/* Write path by the rules above. msg: "PATH: reason". */
rb_err rb_output_write(const char *path, rb_output_fn fn, const void *arg, char *msg, size_t msglen);

/* An output opened for appending lines as they happen (--events): "-" is stdout, a
   special file is opened in place, anything else is created or appended to (O_APPEND).
   A FIFO must get its reader within a few seconds. */
struct rb_output;

struct rb_output *rb_output_open_append(const char *path, char *msg, size_t msglen);

/* The stream to write to. */
FILE *rb_output_file(const struct rb_output *o);

/* Flush, close and free o (NULL is fine); RB_ERR_IO with "PATH: reason" when anything
   written to it was lost. */
rb_err rb_output_close(struct rb_output *o, char *msg, size_t msglen);

#endif
