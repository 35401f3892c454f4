/*
 * target: the server's process tree.
 *
 * A target is started with `/bin/sh -c COMMAND` in a new session, its stdout and
 * stderr appended to a log file. rebound keeps every descendant under its control,
 * including servers that fork workers or daemonise (double fork + setsid): see
 * keeper.h for how (a keeper process that is a child subreaper, so that if the
 * harness itself is SIGKILLed the keeper notices and kills the whole tree; and,
 * where the kernel lets us, a cgroup of the target's own, so that a SIGKILLed
 * keeper lets nothing escape either).
 *
 * One struct rb_target lives for a whole scenario and across restarts: each
 * rb_target_start() begins a new *generation*; processes of earlier generations
 * that are still alive are "survivors" (e.g. nginx workers after the master was
 * SIGKILLed) and can be listed and killed.
 */
#ifndef REBOUND_TARGET_H
#define REBOUND_TARGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "rebound/error.h"
#include "rebound/procscan.h" /* rb_proc_cmdline, once declared here */
#include "rebound/types.h"

struct rb_fault {
  enum rb_fault_kind kind;
  int64_t grace_ns;         /* RB_FAULT_SIGTERM */
  int64_t hang_for_ns;      /* RB_FAULT_HANG */
  const char *exec_command; /* RB_FAULT_EXEC */
  int reload_signal;        /* RB_FAULT_RELOAD */
  int64_t timeout_ns;       /* bound on the whole fault, including waiting for exit */
};

struct rb_target;

struct rb_target_exit {
  bool exited;    /* the main process of the current generation has ended */
  int status;     /* raw wait status, valid when exited */
  int64_t at_ns;  /* monotonic time it was reaped */
};

rb_err rb_target_create(struct rb_target **out, char *msg, size_t msglen);

/* Start COMMAND (via /bin/sh -c, own session) as a new generation, output appended
   to log_path (created; NULL = /dev/null). Extra environment "NAME=VALUE" strings
   may be given in env (NULL-terminated, or NULL). */
rb_err rb_target_start(struct rb_target *t, const char *command, const char *log_path,
                       char *const *env, char *msg, size_t msglen);

/* Set the log file that exec faults append to, for targets rebound does not start
   itself (external servers). rb_target_start sets it too. */
rb_err rb_target_set_log(struct rb_target *t, const char *log_path, char *msg, size_t msglen);

/* Bound what each later start keeps of its output in a regular log file: the
   first half of it and at least the last quarter (to a line start), with a line
   saying how many bytes were dropped between (see logcap.h). The output then goes through a pipe
   the keeper drains, so a noisy target never blocks on it. 0 (the default) = no
   bound: the target writes to the file itself. Values below RB_LOGCAP_MIN count
   as RB_LOGCAP_MIN. */
void rb_target_set_log_limit(struct rb_target *t, uint64_t bytes);

/* pid of the current generation's main process (the /bin/sh, or what it exec'd);
   0 if none. */
pid_t rb_target_main_pid(const struct rb_target *t);

/* Reap without blocking; reports whether the current main process has exited. */
void rb_target_poll_exit(struct rb_target *t, struct rb_target_exit *out);

/* When the current main process has ended but the keeper has not reported it
   yet, wait for that report (bounded by timeout_ns): the keeper sends it only
   once the process's output is in the log, and rb_target_poll_exit then knows
   the status. Returns at once while the main process runs. */
void rb_target_settle(struct rb_target *t, int64_t timeout_ns);

/* Every live process of the current generation (main process and descendants),
   up to max; returns how many were written. */
size_t rb_target_list(struct rb_target *t, pid_t *pids, size_t max);

/* Is pid a live process of a generation before the current one? */
bool rb_target_is_survivor(struct rb_target *t, pid_t pid);

/* Inject a fault into the current generation; returns once the fault is complete
   (for kill faults: the main process has been reaped) or fault->timeout_ns passed. */
rb_err rb_target_fault(struct rb_target *t, const struct rb_fault *fault,
                       char *msg, size_t msglen);

/* SIGKILL every process of every generation and reap them, bounded by timeout_ns.
   Safe to call repeatedly. */
rb_err rb_target_kill_all(struct rb_target *t, int64_t timeout_ns, char *msg, size_t msglen);

/* SIGKILL the given processes, those of them that are still live members of the
   tree (a pid that left the tree is not touched), and wait for them to go. */
rb_err rb_target_kill_pids(struct rb_target *t, const pid_t *pids, size_t n, int64_t timeout_ns,
                           char *msg, size_t msglen);

/* SIGKILL every process of generations before the current one. */
rb_err rb_target_kill_survivors(struct rb_target *t, int64_t timeout_ns, char *msg, size_t msglen);

/* Run COMMAND with /bin/sh -c in its own session, outside the target's tree, and wait
   for it (bounded by timeout_ns; on timeout its process group is SIGKILLed). What it
   leaves running is deliberately not ours: this is how external servers (scenarios
   without `command`) are faulted and restarted, e.g. `systemctl restart x`. Output is
   appended to log_path (NULL = /dev/null). Non-zero exit -> RB_ERR_SYSTEM. */
rb_err rb_run_command(const char *command, const char *log_path, int64_t timeout_ns, char *msg, size_t msglen);

#define RB_TARGET_WHY_LEN 512

/* Has the keeper process gone without being told (SIGKILLed, crashed)? Then the
   whole target has already been stopped (see target.c), why says what happened
   and how, and nothing more can be started: the caller should end the run. */
bool rb_target_lost(struct rb_target *t, char *why, size_t whylen);

/* "cgroup" (every process of the target is in a cgroup of its own: no fork,
   setsid or dead keeper lets one escape) or "subreaper" (the keeper's tree only).
   *note: the cgroup's path, or why there is none. */
const char *rb_target_containment(const struct rb_target *t, const char **note);

typedef void (*rb_target_note_fn)(const char *line, void *arg);

/* Kill and remove the cgroups of rebound processes that died without cleaning
   up (the harness and its keeper both SIGKILLed), calling fn with one line for
   each; *count (may be NULL) = how many. Touches only cgroups named as
   rebound's whose owning process is gone. */
rb_err rb_target_cleanup_leftovers(rb_target_note_fn fn, void *arg, size_t *count, char *msg, size_t msglen);

/* Kill everything, then free. NULL is fine. */
void rb_target_destroy(struct rb_target *t);

/* Copy the last `lines` lines of a log file into buf (NUL-terminated, non-printable
   bytes replaced by '?'). Empty string if the file is missing. */
void rb_target_log_tail(const char *log_path, int lines, char *buf, size_t buflen);

/* Describe a wait status: "exited with status 1", "killed by signal 9 (Killed)". */
void rb_target_describe_status(int status, char *buf, size_t buflen);

#endif
