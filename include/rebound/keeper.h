/*
 * keeper: the process that holds the target's process tree.
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
 * Logs. With a log_limit, a target's stdout and stderr are a pipe the keeper
 * drains into the log file through rb_logcap (head + tail, bounded), so that a
 * noisy server can neither fill the disk nor block on a full pipe while the
 * harness is busy elsewhere. The keeper drains every pipe after reaping and
 * before reporting exits, so when the harness hears that a process ended, that
 * process's last words are already in the file.
 *
 * Containment. Where a writable cgroup v2 exists, every target also joins a
 * cgroup of its own (cgroup.h) before it execs; the keeper stays outside it. A
 * SIGKILLed keeper then leaves nothing out of reach: the harness sees the
 * socket's EOF and kills the whole group (and if both die, the next rebound
 * finds the leftover group). Without one, the subreaper tree is all there is,
 * and a SIGKILLed keeper lets a daemonised target escape.
 *
 * Only the target module talks to the keeper; this header is the wire between them.
 */
#ifndef REBOUND_KEEPER_H
#define REBOUND_KEEPER_H

#include <stdint.h>

#define RB_KEEPER_MAX_REQUEST 65536
#define RB_KEEPER_MAX_ENV 256

enum rb_keeper_msg { RB_KEEPER_SPAWN = 1, RB_KEEPER_SPAWNED = 2, RB_KEEPER_EXIT = 3 };

/* Harness -> keeper: header, then command NUL, then nenv "NAME=VALUE" NUL; the
   log file descriptor travels as SCM_RIGHTS so that the harness opens it (its
   cwd, its error message). */
struct rb_keeper_request {
  uint32_t type;
  uint32_t seq;
  uint32_t nenv;
  uint32_t reserved;
  uint64_t log_limit; /* 0: the target writes to the log file itself; else see below */
};

/* Keeper -> harness. SPAWNED: pid > 0, or pid 0 and value = errno. EXIT: value =
   wait status. */
struct rb_keeper_reply {
  uint32_t type;
  uint32_t seq;
  int32_t pid;
  int32_t value;
  int64_t at_ns;
};

/* The keeper's life, in the child of a fork: sock is its end of a SOCK_SEQPACKET
   socketpair with the harness; cgroup_path (or "") the folder of the cgroup every
   target joins before it execs (cgroup.h), which the keeper empties with
   cgroup.kill and removes when it goes. Never returns. */
void rb_keeper_main(int sock, const char *cgroup_path) __attribute__((noreturn));

#endif
