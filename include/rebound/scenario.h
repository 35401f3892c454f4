/*
 * scenario: what to run, from a fio-style INI file.
 *
 * One option table (name, type, default, help) drives the INI loader, `--set
 * KEY=VALUE`, `--cycles N` and `rebound keys`. `[global]` sets defaults that every
 * other section (one scenario each) inherits; `--set` overrides both.
 *
 * Values may contain `${NAME}`: another key's value, or a built-in (port, host,
 * run_dir, scenario_dir, cycle, client, config, name). Typed values (durations,
 * counts, ports) are expanded and checked when the file is loaded; strings such as
 * command and url are checked for syntax and known names at load time but expanded
 * only when used (rb_scenario_expand), because port, run_dir and cycle are known
 * only then.
 *
 * Every error names its place as "FILE:LINE: message" (or "--set: message"), and
 * loading never starts anything.
 */
#ifndef REBOUND_SCENARIO_H
#define REBOUND_SCENARIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "rebound/backoff.h"
#include "rebound/error.h"
#include "rebound/netfault.h"
#include "rebound/types.h"

enum rb_opt_type {
  RB_OPT_STRING,   /* expanded at use */
  RB_OPT_UINT,     /* 0 .. max */
  RB_OPT_U64,      /* seed */
  RB_OPT_DURATION, /* 250ms, 2s, 1m, plain seconds */
  RB_OPT_MS,       /* a threshold in milliseconds: plain number = ms, or a duration */
  RB_OPT_PORT,     /* 1..65535 or auto */
  RB_OPT_ENUM,     /* one of a fixed list of words */
  RB_OPT_SIZE      /* bytes: 4096, 512KiB, 4MiB, 1GiB (K/M/G = KiB/MiB/GiB); 0 or >= 4KiB */
};

/* Index of every key in the option table; also the index into raw values. */
enum rb_opt_id {
  RB_OPT_COMMAND,
  RB_OPT_RESTART_COMMAND,
  RB_OPT_HOST,
  RB_OPT_PORT_KEY,
  RB_OPT_HTTP_PORT,
  RB_OPT_APP,
  RB_OPT_STREAM,
  RB_OPT_URL,
  RB_OPT_CONFIG_TEMPLATE,
  RB_OPT_READY,
  RB_OPT_READY_TIMEOUT,
  RB_OPT_FAULT,
  RB_OPT_FAULT_AT,
  RB_OPT_GRACE,
  RB_OPT_HANG_FOR,
  RB_OPT_NET_FAULT,
  RB_OPT_NET_FAULT_CLIENTS,
  RB_OPT_CYCLES,
  RB_OPT_DURATION_KEY,
  RB_OPT_PUBLISHERS,
  RB_OPT_PLAYERS,
  RB_OPT_FLV_PLAYERS,
  RB_OPT_FLV_URL,
  RB_OPT_HLS_PLAYERS,
  RB_OPT_HLS_URL,
  RB_OPT_HOLDERS,
  RB_OPT_PUBLISH_FOR,
  RB_OPT_REBIND_TIMEOUT,
  RB_OPT_RECONNECT_TIMEOUT,
  RB_OPT_STAT_URL,
  RB_OPT_STAT_EXPECT,
  RB_OPT_MEDIA,
  RB_OPT_SEED,
  RB_OPT_MAX_REBIND_MS,
  RB_OPT_MAX_RECONNECT_MS,
  RB_OPT_EXPECT,
  RB_OPT_LOG_LIMIT,
  RB_OPT_TARGETS,
  RB_OPT_FAULT_TARGET,
  RB_OPT_PUBLISH_TO,
  RB_OPT_PLAY_FROM,
  RB_OPT_RECONNECT,
  RB_OPT_KEEP_ACROSS_RECONNECT,
  RB_OPT_RELOAD_SIGNAL,
  RB_OPT_RELOAD_COMMAND,
  RB_OPT_RELOAD_TIMEOUT,
  RB_OPT__COUNT
};

struct rb_option {
  const char *name;
  enum rb_opt_type type;
  const char *def;       /* default as text (NULL = unset) */
  const char *help;
  size_t offset;         /* offsetof(struct rb_scenario, field) of the resolved value */
  const struct rb_word *words; /* RB_OPT_ENUM (and grammar strings): the accepted words */
  uint64_t max;          /* RB_OPT_UINT, RB_OPT_SIZE: largest accepted value */
};

/* The option table, RB_OPT__COUNT entries, in the order of enum rb_opt_id. */
extern const struct rb_option rb_options[RB_OPT__COUNT];

/* Keys a [target NAME] section may set (command, port, ready, ...). */
bool rb_option_is_target_key(enum rb_opt_id id);

/* Look a key up by name; NULL if unknown. */
const struct rb_option *rb_option_find(const char *name);

struct rb_scenario {
  char *name;
  char *file;             /* the .ini it came from ("(built-in)" for the default) */
  char *scenario_dir;     /* its folder, absolute */
  int line;               /* line of its [section] header */

  /* Effective raw text of every key (section over [global] over default; --set over
     all) and the line it came from (0 = default, -1 = --set). */
  char *raw[RB_OPT__COUNT];
  int raw_line[RB_OPT__COUNT];

  /* Resolved typed values. Strings stay raw here: expand them with rb_scenario_expand. */
  uint16_t port;          /* 0 when auto until the engine picks one */
  bool port_auto;
  uint16_t http_port;
  bool http_port_auto;
  int64_t ready_timeout_ns;
  enum rb_fault_kind fault;
  char *fault_exec;       /* the argument of a fault word that takes one (the CMD of exec:CMD), raw */
  enum rb_fault_at fault_at;
  int64_t grace_ns;
  int64_t hang_for_ns;
  struct rb_netfault_spec net_fault; /* kind RB_NETFAULT_NONE: no proxy at all */
  enum rb_net_clients net_clients;
  unsigned net_clients_n;            /* RB_NET_CLIENTS_COUNT: the first N publishers, then players */
  unsigned cycles;
  int64_t duration_ns;
  unsigned publishers;
  unsigned players;
  unsigned flv_players;
  unsigned hls_players;
  unsigned holders;
  int64_t publish_for_ns;
  int64_t rebind_timeout_ns;
  int64_t reconnect_timeout_ns;
  uint64_t seed;
  int64_t max_rebind_ns;
  int64_t max_reconnect_ns;
  enum rb_expect expect;
  uint64_t log_limit;     /* bytes kept of each start's output; 0 = all */

  /* Topology: [target NAME] sections. ntargets == 0 (a file without them): the
     scenario's own keys describe its one target, as they always did. Otherwise
     targets[] holds one view per target, in start order: a copy of the scenario
     whose target keys (rb_option_is_target_key) come from the [target NAME]
     section; the engine fills in a view's auto ports. */
  char *target_name;      /* in a view: NAME; NULL elsewhere */
  size_t ntargets;
  struct rb_scenario *targets;
  const struct rb_scenario *topology; /* the scenario owning targets[], for ${NAME.port}; NULL without */
  int fault_target;       /* index into targets; -1 = all of them at once */
  unsigned publish_to;    /* index into targets */
  unsigned play_from;     /* index into targets */
  struct rb_backoff_profile reconnect; /* how clients come back (reconnect = ...) */
  enum rb_keep_state keep_across_reconnect;
  int reload_signal;      /* fault = reload: the signal sent to the main process */
  int64_t reload_timeout_ns;
};

#define RB_MAX_SCENARIO_TARGETS 4

struct rb_scenario_set {
  char *file;
  size_t count;
  struct rb_scenario *items;
};

/* Run-time values of the built-ins; NULL / 0 members are unavailable. */
struct rb_scenario_vars {
  const char *run_dir;
  const char *config;     /* rendered config_template */
  unsigned cycle;
  int client;             /* -1 = not in a client context */
};

/* Load FILE. overrides: "KEY=VALUE" strings (--set), applied to every scenario.
   only: scenario names to keep (NULL-terminated or NULL = all). On error returns
   RB_ERR_SCENARIO (or RB_ERR_IO / RB_ERR_NOT_FOUND) with "FILE:LINE: message" in msg. */
rb_err rb_scenario_load(const char *file, char *const *overrides, char *const *only,
                        struct rb_scenario_set *out, char *msg, size_t msglen);

/* Load from text (name is used in messages and as the file; dir is scenario_dir). */
rb_err rb_scenario_load_string(const char *text, const char *name, const char *dir,
                               char *const *overrides, char *const *only,
                               struct rb_scenario_set *out, char *msg, size_t msglen);

void rb_scenario_set_free(struct rb_scenario_set *set);

/* Keep only the scenarios k (0-based, file order) for which keep(k, arg) is true, in
   order; the others are freed (--shard). */
void rb_scenario_set_keep(struct rb_scenario_set *set, bool (*keep)(size_t k, const void *arg), const void *arg);

/* Expand `${...}` in text for scenario sc into a new string (*out, caller frees). */
rb_err rb_scenario_expand(const struct rb_scenario *sc, const char *text,
                          const struct rb_scenario_vars *vars, char **out,
                          char *msg, size_t msglen);

/* Expand the effective value of key id. */
rb_err rb_scenario_expand_key(const struct rb_scenario *sc, enum rb_opt_id id,
                              const struct rb_scenario_vars *vars, char **out,
                              char *msg, size_t msglen);

/* Print every key, its default and meaning (rebound keys). */
void rb_scenario_print_keys(FILE *out);

#endif
