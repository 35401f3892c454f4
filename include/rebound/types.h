/*
 * types: the shared vocabulary, readable by every module.
 *
 * The words a scenario file, a report and a diagnosis use for fault kinds, fault
 * moments, readiness kinds, verdicts and TCP states live here, each enum next to
 * one {word, value, arg, help} table in the style of fio's posval. The scenario
 * loader parses with the table, reports name values with it, and `rebound keys`
 * prints its rows, so a new fault kind (or ready kind) is one enum value, one row,
 * and the code that implements it (plus its word in the results' JSON Schema enum,
 * which test_types checks against the tables). No module's worker header has to be
 * included just to name a value.
 */
#ifndef REBOUND_TYPES_H
#define REBOUND_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

/* One accepted word of an enumerated option. A row with an arg is a prefix: the
   value is written word + arg ("exec:CMD", "http://URL"), the arg's leading
   punctuation (":", "://") being the separator and the rest of the text the
   argument. The tables end with a row whose word is NULL. */
struct rb_word {
  const char *word;  /* as written in a scenario and as reports name it ("sigkill", "exec") */
  int value;         /* the enum value it stands for */
  const char *arg;   /* NULL, or the separator and what follows the word (":CMD", "://URL") */
  const char *help;  /* one line for `rebound keys` */
};

/* How the target is faulted (scenario key `fault`). */
enum rb_fault_kind {
  RB_FAULT_SIGKILL,      /* SIGKILL every process of the current tree at once */
  RB_FAULT_SIGKILL_MAIN, /* SIGKILL only the main process, like a crashed master */
  RB_FAULT_SIGTERM,      /* SIGTERM the main process, SIGKILL the tree after grace */
  RB_FAULT_HANG,         /* SIGSTOP the tree for hang_for, then SIGKILL it */
  RB_FAULT_RELOAD,       /* send reload_signal (or run reload_command); the server stays up */
  RB_FAULT_NETWORK,      /* no signal: net_fault on the clients' connections is the fault */
  RB_FAULT_EXEC          /* run exec_command with /bin/sh -c and wait for it */
};
extern const struct rb_word rb_fault_words[];

/* What the clients are doing when the fault comes (scenario key `fault_at`). */
enum rb_fault_at {
  RB_FAULT_AT_PUBLISHING,
  RB_FAULT_AT_IDLE,
  RB_FAULT_AT_HANDSHAKE,
  RB_FAULT_AT_RANDOM
};
extern const struct rb_word rb_fault_at_words[];

/* When the target counts as ready (scenario key `ready`). */
enum rb_ready_kind {
  RB_READY_LISTEN, /* the socket table shows LISTEN on the port */
  RB_READY_TCP,    /* a TCP connect to host:port succeeds */
  RB_READY_RTMP,   /* a full RTMP handshake + connect succeeds on url */
  RB_READY_HTTP    /* GET http_url answers 2xx (libcurl) */
};
extern const struct rb_word rb_ready_words[];

/* Which clients a network fault hits (scenario key `net_fault_clients`; a count N
   is accepted besides the words: the first N publishers, then players). */
enum rb_net_clients { RB_NET_CLIENTS_ALL, RB_NET_CLIENTS_PUBLISHERS, RB_NET_CLIENTS_PLAYERS,
                      RB_NET_CLIENTS_COUNT };
extern const struct rb_word rb_net_clients_words[];

enum rb_expect { RB_EXPECT_PASS, RB_EXPECT_FAIL };
extern const struct rb_word rb_expect_words[];

/* State a (deliberately buggy) publisher carries into its next connection
   (scenario key `keep_across_reconnect`). */
enum rb_keep_state { RB_KEEP_NOTHING, RB_KEEP_CHUNK_SIZE };
extern const struct rb_word rb_keep_words[];

/* The outcome of a scenario or a run. */
enum rb_verdict {
  RB_VERDICT_PASS,
  RB_VERDICT_FAIL,
  RB_VERDICT_ERROR,       /* environment error: could not even start (exit 3) */
  RB_VERDICT_INTERRUPTED, /* SIGINT/SIGTERM */
  RB_VERDICT_XFAIL,       /* expect = fail and it failed */
  RB_VERDICT_XPASS        /* expect = fail and it passed */
};
extern const struct rb_word rb_verdict_words[];

/* The kernel's TCP state numbers (include/net/tcp_states.h); index into counts[]. */
enum rb_tcp_state {
  RB_TCP_ESTABLISHED = 1,
  RB_TCP_SYN_SENT = 2,
  RB_TCP_SYN_RECV = 3,
  RB_TCP_FIN_WAIT1 = 4,
  RB_TCP_FIN_WAIT2 = 5,
  RB_TCP_TIME_WAIT = 6,
  RB_TCP_CLOSE = 7,
  RB_TCP_CLOSE_WAIT = 8,
  RB_TCP_LAST_ACK = 9,
  RB_TCP_LISTEN = 10,
  RB_TCP_CLOSING = 11,
  RB_TCP_NEW_SYN_RECV = 12,
  RB_TCP_STATE_MAX = 13 /* size of counts[] */
};
extern const struct rb_word rb_tcp_state_words[];

#define RB_SOCKDIAG_MAX_OWNERS 16

struct rb_port_owner {
  pid_t pid;
  char cmdline[160]; /* /proc/<pid>/cmdline, NULs as spaces, truncated */
};

/* What the socket table showed for one port (sockdiag fills it). */
struct rb_port_snapshot {
  uint16_t port;
  unsigned counts[RB_TCP_STATE_MAX]; /* sockets with local port == port, per state */
  unsigned accepted;                 /* ESTABLISHED ones a process has accept()ed (they have an inode) */
  size_t nowners;                    /* distinct processes owning a LISTEN socket */
  struct rb_port_owner owners[RB_SOCKDIAG_MAX_OWNERS];
};

/* The row text matches: the word itself, or for a prefix row the word and separator
   followed by anything (*rest, if given, points at the argument; it may be empty).
   NULL if none. */
const struct rb_word *rb_word_match(const struct rb_word *table, const char *text, const char **rest);

/* The row of value; NULL if none. */
const struct rb_word *rb_word_of(const struct rb_word *table, int value);

/* The name of value: its row's word ("sigkill", "exec"); fallback (NULL = "?") if
   the table has no such value. */
const char *rb_word_name(const struct rb_word *table, int value, const char *fallback);

/* "sigkill, sigkill-main, sigterm, hang or exec:CMD" (last_sep = " or "), or with
   last_sep = ", " "publishing, idle, handshake, random". Truncated to buflen. */
void rb_words_format(const struct rb_word *table, const char *last_sep, char *buf, size_t buflen);

/* One line per row, "  <indent>word[arg]   help", for `rebound keys`. */
void rb_words_print(const struct rb_word *table, FILE *out, int indent);

/* Write "LISTEN=1 FIN_WAIT2=2" (LISTEN first, then non-zero states in order; "none"
   if every count is 0). No half entries when buf is short. */
void rb_tcp_states_format(const unsigned counts[RB_TCP_STATE_MAX], char *buf, size_t buflen);

/* Name of a fault kind as written in scenario files ("sigkill", ..., "exec"). */
const char *rb_fault_name(enum rb_fault_kind kind);

/* "pass", "fail", "error", "interrupted", "xfail", "xpass" */
const char *rb_verdict_name(enum rb_verdict v);

/* "LISTEN", "FIN_WAIT2", ...; "UNKNOWN" for out-of-range values. */
const char *rb_tcp_state_name(int state);

/* Parse "listen", "tcp", "rtmp" or an http(s):// URL; false if none of them. */
bool rb_ready_parse(const char *text, enum rb_ready_kind *kind);

#endif
