/*
 * cgroup: a cgroup v2 group of rebound's own, which no fork, setsid or double
 * fork leaves.
 *
 * The target module puts every process it starts into one group per rb_target
 * and stops them all with cgroup.kill (kernel >= 5.14; before that, by SIGKILLing
 * every pid in cgroup.procs until it is empty). Unlike the keeper's subreaper
 * tree, this holds even when the keeper itself is SIGKILLed. Groups are made
 * under the cgroup rebound runs in (<cgroup2 mount><path in /proc/self/cgroup>),
 * named rebound-PIDNS-PID-START-N after the harness that owns them (its pid
 * namespace, pid and start time, so that a reused pid is not taken for a live
 * owner, nor another container's pid for a dead one); a group whose owner is
 * dead is a leftover (the harness and the keeper were both killed), and only
 * such groups are ever touched by rb_cgroup_cleanup_leftovers.
 *
 * Where no cgroup2 is mounted or the place is not writable (no root, no
 * delegation, a read-only /sys in a container), rb_cgroup_create fails with the
 * reason and the caller falls back to the subreaper alone. In the environment,
 * REBOUND_CONTAINMENT=subreaper forces that fallback, and REBOUND_CGROUP_BASE=DIR
 * puts the groups (and the search for leftovers) in DIR instead: a delegated
 * subtree, or a private place where no other rebound cleans up (tests).
 */
#ifndef REBOUND_CGROUP_H
#define REBOUND_CGROUP_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "rebound/error.h"

struct rb_cgroup {
  char path[PATH_MAX];
  int dirfd; /* the group's folder, O_DIRECTORY; -1 when none */
};

/* Where rebound's groups go: the cgroup2 folder rebound itself is in, if it may
   write there. RB_ERR_NOT_FOUND (no cgroup2, or forced off) or RB_ERR_SYSTEM (not
   writable) with the reason in msg. */
rb_err rb_cgroup_base(char *buf, size_t buflen, char *msg, size_t msglen);

/* Make a new empty group for this process and check that a process can really be
   moved into it (a probe child joins and exits). */
rb_err rb_cgroup_create(struct rb_cgroup *cg, char *msg, size_t msglen);

/* Move the calling process into the group. Async-signal-safe, for a child
   between fork and exec; returns 0 or an errno value. */
int rb_cgroup_join(int dirfd);

/* SIGKILL every process of the group (cgroup.kill, or pid by pid), and wait,
   bounded by timeout_ns, until it is empty. *killed (may be NULL) is how many
   processes it held. */
rb_err rb_cgroup_kill(int dirfd, int64_t timeout_ns, size_t *killed, char *msg, size_t msglen);

/* Kill what is left, remove the folder, close. Safe on a group never created
   (dirfd -1). */
rb_err rb_cgroup_destroy(struct rb_cgroup *cg, int64_t timeout_ns, char *msg, size_t msglen);

/* Called for each leftover cleaned: its folder, the dead owner's pid, how many
   processes were killed in it. */
typedef void (*rb_cgroup_leftover_fn)(const char *path, pid_t owner, size_t killed, void *arg);

/* Kill and remove every group of a dead rebound under rb_cgroup_base(). *count
   (may be NULL) = groups cleaned. No cgroup2 is not an error (nothing to clean). */
rb_err rb_cgroup_cleanup_leftovers(rb_cgroup_leftover_fn fn, void *arg, size_t *count, char *msg, size_t msglen);

#endif
