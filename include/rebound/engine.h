/*
 * engine: the restart cycle.
 *
 *  spawn -> ready -> clients up -> steady -> FAULT -> forensics -> respawn -> rebind
 *        -> reconnect -> checks
 *
 * The engine is the only module that knows what a cycle is. It owns the target,
 * drives the fleet, takes the timestamps, evaluates the checks and writes the
 * diagnosis; it never formats output (it reports progress through callbacks).
 */
#ifndef REBOUND_ENGINE_H
#define REBOUND_ENGINE_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include "rebound/error.h"
#include "rebound/results.h"
#include "rebound/scenario.h"

struct rb_engine_opts {
  const char *artifacts_dir;   /* where run folders and logs go (required; the caller owns it) */
  volatile sig_atomic_t *stop; /* set by a signal handler; the run ends at the next check */
  rb_event_fn on_event;        /* may be NULL */
  void *event_arg;
};

/* Run one scenario. sc is modified only to fill in auto ports. Target failures are
   recorded in res (verdict pass/fail); an error return means the scenario could not
   run at all (res->verdict = error, res->error says why): RB_ERR_SPAWN when the
   first start failed for the environment's reason (a missing program, nothing that
   points at the server; a first start that a dead server's connections on the port
   block is the server's bug: a failed first cycle, see rb_judge_first_start),
   RB_ERR_PORT_BUSY when a foreign process holds the port,
   RB_ERR_SCENARIO for a value that expands to nonsense, RB_ERR_INTERRUPTED. */
rb_err rb_engine_run_scenario(struct rb_scenario *sc, const struct rb_engine_opts *opts,
                              struct rb_scenario_result *res);

/* Ignore SIGPIPE process-wide (librtmp writes with send(..., 0)). */
void rb_engine_ignore_sigpipe(void);

#endif
