/*
 * diagnosis: one sentence naming the cause of a failed rebind (or of a server that
 * kept a dead client's stream after a network fault), chosen from the
 * evidence the engine recorded. A pure function of its input, so each branch is
 * unit-tested without starting anything.
 */
#ifndef REBOUND_DIAGNOSIS_H
#define REBOUND_DIAGNOSIS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "rebound/types.h"

struct rb_rebind_evidence {
  uint16_t port;
  double waited_ms;                          /* how long the rebind was waited for */
  unsigned states_at_restart[RB_TCP_STATE_MAX]; /* snapshot right before the restart */
  /* LISTEN owners seen when the wait ended, and whether each is a survivor of the
     killed tree (true) or of the new generation (false). */
  size_t nowners;
  pid_t owner_pids[RB_SOCKDIAG_MAX_OWNERS];
  char owner_cmdlines[RB_SOCKDIAG_MAX_OWNERS][160];
  bool owner_is_survivor[RB_SOCKDIAG_MAX_OWNERS];
  bool new_exited;                           /* the restarted main process ended */
  int new_status;                            /* its wait status */
  const char *log_tail;                      /* the restarted server's last log lines */
};

/* What was seen when the first start of the target failed (no restart yet). */
struct rb_first_start_evidence {
  uint16_t port;
  double waited_ms;                             /* spawn -> the wait ended */
  unsigned states_before[RB_TCP_STATE_MAX];     /* the port's sockets just before the first spawn */
  unsigned states_at_failure[RB_TCP_STATE_MAX]; /* ... and when the wait ended */
  size_t nforeign;                              /* LISTEN owners outside the target's tree then */
  pid_t foreign_pid;                            /* the first of them */
  char foreign_cmdline[160];
  bool exited;                                  /* the target's processes have all ended */
  int status;                                   /* its main process' wait status, when exited */
  const char *log_tail;                         /* its last log lines */
};

#define RB_RELOAD_MAX_OLD 16

/* What a reload (fault = reload) left behind. */
struct rb_reload_evidence {
  uint16_t port;
  double reload_timeout_ms;
  const char *command_error;                 /* reload_command failed (NULL: it did not) */
  bool main_exited;                          /* the main process ended on the reload */
  int main_status;
  double not_listening_ms;                   /* longest stretch without a LISTEN socket (0: none) */
  const char *new_client_error;              /* a new client could not publish (NULL: it could) */
  size_t nstuck;                             /* old workers still running at reload_timeout */
  pid_t stuck_pids[RB_RELOAD_MAX_OLD];
  char stuck_cmdlines[RB_RELOAD_MAX_OLD][160];
  double stuck_age_ms;                       /* how long they have been shutting down */
  const char *log_tail;
};

/* The sentence for a failed reload, or "" when the evidence shows none. */
void rb_diagnose_reload(const struct rb_reload_evidence *ev, char *buf, size_t buflen);

/* True when text reports EADDRINUSE ("Address already in use", "EADDRINUSE",
   "errno 98", "(98: ", "BindException"). */
bool rb_diagnosis_mentions_eaddrinuse(const char *text);

/* Write the sentence for a failed rebind. */
void rb_diagnose_rebind(const struct rb_rebind_evidence *ev, char *buf, size_t buflen);

/* What a network fault cycle saw of the server's handling of a dead client. */
struct rb_stale_evidence {
  const char *net_fault;   /* "blackhole", "reset", "partition" */
  const char *stream;      /* the stream whose republish was refused (NULL: none was) */
  const char *refusal;     /* the server's words for it (status code), may be NULL */
  double refused_ms;       /* network death -> republish accepted (or -> end of the wait) */
  bool accepted;           /* the republish was accepted in the end */
  bool server_dropped;     /* the server closed the dead connection by itself */
  double dropped_ms;       /* network death -> that close */
  const char *why;         /* the fleet's word on the first client not up (NULL: all up) */
};

/* Write the sentence for a network fault cycle: the refusal and its length, and
   whether the server ever dropped the dead session; "" when there is nothing to say
   (nothing refused and every client back). */
void rb_diagnose_stale(const struct rb_stale_evidence *ev, char *buf, size_t buflen);
/* True when states hold connections that block a bind() without SO_REUSEADDR:
   FIN_WAIT1/2, TIME_WAIT, CLOSING, LAST_ACK, CLOSE_WAIT. */
bool rb_diagnosis_lingering(const unsigned states[RB_TCP_STATE_MAX]);

/* The sentence for a first start that failed while lingering connections were on the
   port (judge decides when that is the cause): "bind() failed with EADDRINUSE while
   6 sockets on the port were in TIME_WAIT before the first start (left by an earlier
   server): the server does not set SO_REUSEADDR". */
void rb_diagnose_first_start(const struct rb_first_start_evidence *ev, char *buf, size_t buflen);

/* The last non-empty line of text (copied, at most buflen-1 bytes). */
void rb_last_line(const char *text, char *buf, size_t buflen);

#endif
