/*
 * judge: the engine's verdicts, as pure functions over results.
 *
 * The engine gathers evidence (what the fleet reported after a restart, the
 * scenario's cycles); judge decides what it means: which failures a cycle gets,
 * whether a threshold is exceeded, what the scenario's verdict is. Like diagnosis,
 * it touches no process, socket or clock, so every rule is unit-tested with
 * made-up evidence (tests/unit/test_judge.c).
 */
#ifndef REBOUND_JUDGE_H
#define REBOUND_JUDGE_H

#include <stdbool.h>
#include <stddef.h>

#include "rebound/diagnosis.h"
#include "rebound/error.h"
#include "rebound/fleet.h"
#include "rebound/results.h"

/* What was seen after a restart, for judging the reconnect. */
struct rb_reconnect_evidence {
  int64_t restart_at;            /* monotonic ns the restart began; the counts' times are on this clock */
  rb_err wait_err;               /* RB_OK: every client came back; RB_ERR_INTERRUPTED: stopped */
  const char *why;               /* the wait's message when wait_err is another error */
  double window_ms;              /* reconnect_timeout */
  const char *profile;           /* the reconnect profile as written, when not rebound's own (NULL) */
  double reconnect_ms;           /* restart -> every publisher and player up (wait_err == RB_OK) */
  struct rb_fleet_counts counts; /* the fleet's counters, "up" judged since the restart */
};

/* Fill c's reconnect fields from ev -- overall, per client kind (publishers'
   Publish.Start, players' Play.Start and first frame) and the frames of the resumed
   streams -- and add its failures (and a diagnosis when the cycle has none yet):
   clients that did not come back (refused, a protocol failure, retries of their
   reconnect profile exhausted), frames lost after a player's first frame. For HTTP
   players also an HLS media sequence that went back without a discontinuity (that
   sentence is the diagnosis), segments without SEI or that did not decode, and, when
   the ingest came back but HTTP viewers did not, a diagnosis naming the delivery.

   The rule on frames: those sent while the server was down (to the killed server) are
   the only allowed loss. Frames sent to the restarted server that a player never got
   before its first frame (a server that starts players at the next keyframe) are a
   warning of the scenario (rb_judge_scenario); frames missing after that first frame
   fail the cycle. */
void rb_judge_reconnect(const struct rb_reconnect_evidence *ev, struct rb_cycle_result *c);

/* Whose fault a failed first start is. RB_VERDICT_FAIL, the server's: no LISTEN on
   the port, but connections a dead server left (FIN_WAIT*, TIME_WAIT, CLOSE_WAIT ...)
   were there before the spawn or at the failure -- the classic rebind bug one start
   early; sentence is the diagnosis. RB_VERDICT_ERROR, the environment's (exit 3): a
   foreign process LISTENs on the port (sentence names it), the command is missing or
   cannot be executed (status 127 / 126), or nothing points at the server (for these
   sentence is left empty: the caller's own message, with the log tail, says it). */
enum rb_verdict rb_judge_first_start(const struct rb_first_start_evidence *ev, char *sentence, size_t len);

/* What the scenario asks of its numbers (0 = no bound). */
struct rb_judge_rules {
  double max_rebind_ms;      /* bound on rebind p99 */
  double max_reconnect_ms;   /* bound on reconnect p99 */
  bool holders;              /* the scenario had holders: the classic bug should have been exercised */
};

/* Turn a pass into a fail when a p99 exceeds its bound; res->error says which. */
void rb_judge_thresholds(const struct rb_judge_rules *rules, struct rb_scenario_result *res);

/* The scenario's verdict from its cycles, once they have run: summaries, fail if a
   cycle failed, thresholds, exercised_classic, and expect = fail (XFAIL / XPASS).
   res->verdict comes in as the run left it (pass, or error / interrupted). Warnings
   (the classic bug not exercised; frames skipped after a restart) are appended to
   res->warnings. */
void rb_judge_scenario(const struct rb_judge_rules *rules, struct rb_scenario_result *res);

#endif
