/*
 * procscan: what /proc says about processes.
 *
 * A process is named by its pid *and* its start time (/proc/<pid>/stat field 22,
 * clock ticks since boot), so that a reused pid is never mistaken for a known
 * process. Tables are snapshots sorted by pid: the whole machine
 * (rb_proc_scan_all) or one process's descendants through the kernel's
 * children lists (rb_proc_scan_tree, much cheaper). Used by the target module's
 * harness side and keeper, and by sockdiag for the owners of a socket.
 */
#ifndef REBOUND_PROCSCAN_H
#define REBOUND_PROCSCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct rb_proc_info {
  pid_t pid;
  pid_t ppid;
  char state;
  unsigned long long start; /* clock ticks since boot; with pid, names a process */
};

struct rb_proc_table {
  struct rb_proc_info *v; /* sorted by pid */
  size_t n;
};

/* Read /proc/<pid>/stat; false if the process is gone or the file is odd. */
bool rb_proc_read_stat(pid_t pid, struct rb_proc_info *pi);

/* Every process on the machine. False (and an empty table) on failure. */
bool rb_proc_scan_all(struct rb_proc_table *tab);

/* Only root's descendants (root itself excluded). False when the kernel has no
   children lists (CONFIG_PROC_CHILDREN) or on failure: then use rb_proc_scan_all. */
bool rb_proc_scan_tree(struct rb_proc_table *tab, pid_t root);

void rb_proc_table_free(struct rb_proc_table *tab);

const struct rb_proc_info *rb_proc_find(const struct rb_proc_table *tab, pid_t pid);

/* Not a zombie or dead. */
bool rb_proc_is_live(char state);

/* desc[i] = 1 when tab->v[i] descends from root, 2 when not (desc has tab->n
   bytes). False on allocation failure. */
bool rb_proc_mark_descendants(const struct rb_proc_table *tab, pid_t root, unsigned char *desc);

/* Now, in the unit of rb_proc_info.start. */
unsigned long long rb_proc_boot_ticks_now(void);

/* c if it is printable ASCII, newline or tab, else '?'. */
char rb_proc_printable(unsigned char c);

/* Read /proc/<pid>/cmdline as one line; "?" if unreadable. */
void rb_proc_cmdline(pid_t pid, char *buf, size_t buflen);

#endif
