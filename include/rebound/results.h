/*
 * results: what a run found, as plain data.
 *
 * The engine fills these structures; report only reads them. Times are in
 * milliseconds; a negative time means "not reached".
 */
#ifndef REBOUND_RESULTS_H
#define REBOUND_RESULTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rebound/ports.h"
#include "rebound/stats.h"
#include "rebound/types.h"

#define RB_MAX_FAILURES 8
#define RB_MAX_WARNINGS 4
#define RB_FAILURE_LEN 320
#define RB_DIAGNOSIS_LEN 512
#define RB_LOG_TAIL_LEN 2048
#define RB_ARRIVAL_POINTS 64   /* points kept of a cycle's arrival curve */

/* One point of the arrival curve: `back` clients were up again `ms` after the restart. */
struct rb_arrival {
  double ms;
  unsigned back;
};

#define RB_MAX_TARGETS 4
#define RB_TARGET_NAME_LEN 64

/* One port of one target in one cycle. */
struct rb_port_result {
  uint16_t port;
  double rebind_ms;                          /* restart -> LISTENed by the new generation; -1 = not */
  int64_t rebind_at_ns;                      /* CLOCK_MONOTONIC of that, 0 if never */
  unsigned states_at_restart[RB_TCP_STATE_MAX]; /* sockets on the port right before the restart */
};

/* One target in one cycle: every port it listened on at first start. */
struct rb_target_result {
  char name[RB_TARGET_NAME_LEN];
  bool restarted;                            /* the fault hit it and it was started again */
  bool plays;                                /* players play from it */
  bool publishes;                            /* publishers publish to it */
  double recovery_ms;                        /* players on it, when it was not restarted: restart of the
                                                killed target -> every one receiving new frames; -1 = not */
  size_t nports;
  struct rb_port_result ports[RB_MAX_PORTS]; /* ports[0] = its `port` */
};

/* What one kind of HTTP player saw in a cycle (flv_players, hls_players). */
struct rb_player_figures {
  unsigned planned, ok;           /* players of this kind; how many were up again after the restart */
  double recovery_ms;             /* restart -> the last of them up again (HLS: its first new segment); -1 = not reached */
  uint64_t frames_received, gaps, duplicates, lost_after_reconnect;
  double latency_p50_ms, latency_p99_ms;
  uint64_t segments, segments_without_sei, decode_errors; /* HLS */
  uint64_t sequence_resets, restarts_signalled;           /* HLS: went back without / with a discontinuity */
};

struct rb_cycle_result {
  unsigned index;                 /* 1-based */
  bool pass;
  double duration_ms;             /* the whole cycle, holders connect -> checks done */
  int64_t start_at_ns;            /* CLOCK_MONOTONIC at the start of the cycle */
  int64_t fault_at_ns;            /* the fault began */
  int64_t fault_done_at_ns;       /* the fault completed (the old server is gone) */
  int64_t restart_at_ns;          /* CLOCK_MONOTONIC just before the respawn (system-wide clock) */
  int64_t rebind_at_ns;           /* CLOCK_MONOTONIC when the new LISTEN was first seen, 0 if never */
  enum rb_fault_kind fault;
  unsigned states_at_restart[RB_TCP_STATE_MAX];
  double ready_ms;                /* restart -> ready (= rebind_ms for ready = listen) */
  double rebind_ms;               /* restart -> port LISTENed by the new process */
  double reconnect_ms;            /* restart -> every publisher and player up again */
  double reconnect_publishers_ms; /* restart -> every publisher publishing again (Publish.Start) */
  double reconnect_players_ms;    /* restart -> every player playing again (Play.Start) */
  double first_frame_ms;          /* restart -> every player has its first frame again */
  double stale_ms;                /* longest window a republish was refused, 0 if none */
  double drain_ms;                /* fault = reload: reload -> the last old worker gone (-1: not all, or no reload) */
  unsigned publishers_ok, players_ok, holders;
  uint64_t frames_sent, frames_received, lost_after_reconnect, gaps, duplicates;
  uint64_t lost_in_outage;        /* frames sent to the killed server that no player got (allowed) */
  uint64_t skipped_after_restart; /* frames sent to the restarted server before a player's first frame */
  double latency_p50_ms, latency_p99_ms;
  struct rb_player_figures flv, hls;
  /* net_fault (only when a scenario sets it): what the fault proxy did and saw */
  bool net;                       /* the clients went through the fault proxy */
  unsigned net_hit;               /* connections the cycle's network fault hit */
  bool net_server_dropped;        /* the server closed a dead (blackholed) connection by itself */
  double net_dropped_ms;          /* fault -> that close; -1 if it never did */
  unsigned gave_up;               /* clients whose reconnect retries ran out (they stay down) */
  double last_back_ms;            /* restart -> the last client that came back (-1: none came back) */
  struct rb_summary arrival;      /* every client's arrival (ms after the restart): p50/p99/max */
  size_t narrivals;               /* points of the arrival curve (publishers and players back over time) */
  struct rb_arrival arrivals[RB_ARRIVAL_POINTS];
  char diagnosis[RB_DIAGNOSIS_LEN];
  size_t nfailures;
  char failures[RB_MAX_FAILURES][RB_FAILURE_LEN];
  double recovery_ms;             /* topology: restart -> every player on a target the fault did not hit
                                     receives new frames again (-1: not reached, or no such players) */
  size_t ntargets;
  struct rb_target_result targets[RB_MAX_TARGETS]; /* every target, per port; rebind_ms above = the
                                                       killed target's `port` */
  char log_path[512];             /* the restarted server's log */
  char log_tail[RB_LOG_TAIL_LEN]; /* its last lines, when the cycle failed */
};

struct rb_scenario_result {
  char name[128];
  enum rb_verdict verdict;
  bool expect_fail;
  char error[RB_FAILURE_LEN * 2]; /* why the scenario could not run (verdict error) */
  uint16_t port;
  double first_ready_ms;
  uint64_t seed;
  size_t ncycles, cycles_planned;
  struct rb_cycle_result *cycles;
  struct rb_summary ready, rebind, reconnect;
  struct rb_summary reconnect_publishers, reconnect_players, first_frame;
  struct rb_summary recovery;      /* topology: recovery_ms of the cycles that have one */
  struct rb_summary flv_recovery, hls_recovery; /* of the cycles' flv/hls recovery_ms */
  bool exercised_classic;         /* some cycle saw FIN_WAIT2/TIME_WAIT at restart */
  unsigned states_before_start[RB_TCP_STATE_MAX]; /* the port's sockets just before the first spawn */
  char reconnect_profile[160];    /* the clients' reconnect profile, in full ("obs:first=2s,...") */
  struct rb_summary last_back;    /* restart -> last client back, over the cycles */
  char artifacts[512];
  char warnings[RB_MAX_WARNINGS][RB_FAILURE_LEN];
  size_t nwarnings;
  char containment[16];        /* "cgroup" or "subreaper" (see target.h) */
  char containment_note[512];  /* the cgroup's path, or why there is none */
};

struct rb_run_result {
  char scenario_file[512];
  uint64_t seed;
  enum rb_verdict verdict;
  size_t nscenarios;
  struct rb_scenario_result *scenarios;
  unsigned shard_index, shard_total; /* --shard I/N; total 0 = the whole file */
};

/* Progress of a run, as the engine reports it (report turns events into lines). */
enum rb_event_kind {
  RB_EVENT_SCENARIO_START, /* detail: port */
  RB_EVENT_READY,          /* first start ready; ms = first_ready_ms */
  RB_EVENT_FAULT,          /* cycle, detail: fault name */
  RB_EVENT_RESTART,
  RB_EVENT_REBIND,         /* ms = rebind_ms */
  RB_EVENT_RECONNECT,      /* ms = reconnect_ms */
  RB_EVENT_CYCLE_END,      /* cycle result in `cycle` */
  RB_EVENT_WARNING,        /* detail: text */
  RB_EVENT_SCENARIO_END
};

struct rb_event {
  enum rb_event_kind kind;
  const char *scenario;
  unsigned cycle;
  double ms;
  const char *detail;
  const struct rb_cycle_result *result;
  const struct rb_scenario_result *scenario_result;
};

typedef void (*rb_event_fn)(const struct rb_event *ev, void *arg);

/* Start cycle `index`: passing, every time "not reached" (-1). */
void rb_cycle_result_begin(struct rb_cycle_result *c, unsigned index);

/* Append a warning to r (ignored past RB_MAX_WARNINGS); false if it was dropped. */
bool rb_scenario_add_warning(struct rb_scenario_result *r, const char *fmt, ...)
  __attribute__((format(printf, 2, 3)));

/* Append a failure line to c (ignored past RB_MAX_FAILURES) and mark it failed. */
void rb_cycle_add_failure(struct rb_cycle_result *c, const char *fmt, ...)
  __attribute__((format(printf, 2, 3)));

/* Keep the arrival curve of c from the ascending arrival times ms[0..n) (ms after the
   restart): every arrival when they fit, else RB_ARRIVAL_POINTS evenly spaced in
   count, always ending with the last one. Sets last_back_ms too. */
void rb_cycle_set_arrivals(struct rb_cycle_result *c, const double *ms, size_t n);

/* Compute the scenario's ready/rebind/reconnect/last_back summaries from its cycles. */
void rb_scenario_result_summarize(struct rb_scenario_result *r);

void rb_run_result_free(struct rb_run_result *r);

#endif
