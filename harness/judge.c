/*
 * judge: evidence -> failures and verdicts. See include/rebound/judge.h.
 */
#include "rebound/judge.h"

#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "rebound/clock.h"

/* restart -> at, when all `want` clients of a kind got there (-1: not all did). */
static double kind_ms(int64_t restart_at, unsigned want, unsigned got, int64_t at)
{
  return want && got >= want && at ? rb_clock_ms(restart_at, at) : -1;
}

/* One kind of HTTP player's figures for the cycle. */
static void record_player_figures(struct rb_player_figures *p, const struct rb_fleet_kind_counts *k, int64_t restart_at)
{
  p->planned = k->planned;
  p->ok = k->up;
  p->recovery_ms = kind_ms(restart_at, k->planned, k->up, k->last_up_at);
  p->frames_received = k->frames_received;
  p->gaps = k->gaps;
  p->duplicates = k->duplicates;
  p->lost_after_reconnect = k->lost_after_reconnect;
  p->latency_p50_ms = k->latency_p50_ms;
  p->latency_p99_ms = k->latency_p99_ms;
  p->segments = k->segments;
  p->segments_without_sei = k->segments_without_sei;
  p->decode_errors = k->decode_errors;
  p->sequence_resets = k->resets;
  p->restarts_signalled = k->restarts;
}

/* What the HTTP players saw, before the generic reconnect sentence: a reset is the
   cause even when every player came back, and a viewer side that stayed dark while
   the ingest recovered is named as such. */
static void judge_http_players(const struct rb_reconnect_evidence *ev, struct rb_cycle_result *c)
{
  const struct rb_fleet_kind_counts *flv = &ev->counts.kinds[RB_PLAYER_FLV], *hls = &ev->counts.kinds[RB_PLAYER_HLS];
  bool ingest_up = ev->counts.publishers_up == ev->counts.publishers && ev->counts.players_up == ev->counts.players;

  record_player_figures(&c->flv, flv, ev->restart_at);
  record_player_figures(&c->hls, hls, ev->restart_at);
  if(hls->resets) {
    rb_cycle_add_failure(c, "%s", hls->reset_why);
    if(!c->diagnosis[0])
      snprintf(c->diagnosis, sizeof(c->diagnosis), "%s", hls->reset_why);
  }
  if(hls->segments_without_sei)
    rb_cycle_add_failure(c, "%llu HLS segments carried none of the publisher's SEI sequence numbers",
                         (unsigned long long)hls->segments_without_sei);
  if(hls->decode_errors)
    rb_cycle_add_failure(c, "HLS segments did not decode: the H.264 decoder refused %llu packets",
                         (unsigned long long)hls->decode_errors);
  if(flv->lost_after_reconnect || hls->lost_after_reconnect)
    rb_cycle_add_failure(c, "HTTP players lost %llu frames after reconnecting (HTTP-FLV %llu, HLS %llu)",
                         (unsigned long long)(flv->lost_after_reconnect + hls->lost_after_reconnect),
                         (unsigned long long)flv->lost_after_reconnect, (unsigned long long)hls->lost_after_reconnect);
  if(!ev->wait_err || ev->wait_err == RB_ERR_INTERRUPTED || !ingest_up || c->diagnosis[0])
    return;
  if(flv->up < flv->planned)
    snprintf(c->diagnosis, sizeof(c->diagnosis), "the restarted server took the publisher back but its HTTP-FLV "
             "output delivered no media to %u of %u players within %.0f ms: %s", flv->planned - flv->up,
             flv->planned, ev->window_ms, ev->counts.first_problem);
  else if(hls->up < hls->planned)
    snprintf(c->diagnosis, sizeof(c->diagnosis), "the restarted server took the publisher back but served no new "
             "HLS segment to %u of %u players within %.0f ms: %s", hls->planned - hls->up, hls->planned,
             ev->window_ms, ev->counts.first_problem);
}

void rb_judge_reconnect(const struct rb_reconnect_evidence *ev, struct rb_cycle_result *c)
{
  const struct rb_fleet_counts *n = &ev->counts;

  judge_http_players(ev, c);
  if(!ev->wait_err)
    c->reconnect_ms = ev->reconnect_ms;
  else if(ev->wait_err != RB_ERR_INTERRUPTED) {
    if(ev->profile)
      rb_cycle_add_failure(c, "clients did not reconnect within %.0f ms (reconnect = %s): %s", ev->window_ms,
                           ev->profile, ev->why);
    else
      rb_cycle_add_failure(c, "clients did not reconnect within %.0f ms: %s", ev->window_ms, ev->why);
    if(!c->diagnosis[0])
      snprintf(c->diagnosis, sizeof(c->diagnosis), "%s: %s", ev->wait_err == RB_ERR_REJECTED ?
               "the restarted server kept refusing the clients' republish (stale stream state?)" :
               ev->wait_err == RB_ERR_PROTOCOL ? "a protocol failure after the reconnect: the server and a client "
                                                 "disagree on the wire (state kept from the previous connection?)" :
               n->gave_up ? "clients gave up before the restarted server took them back (their reconnect "
                            "profile's retries ran out)" :
               "the restarted server listens but the clients could not publish/play again", ev->why);
  }
  c->reconnect_publishers_ms = kind_ms(ev->restart_at, n->publishers, n->publishers_up, n->publishers_up_at);
  c->reconnect_players_ms = kind_ms(ev->restart_at, n->players, n->players_playing, n->players_playing_at);
  c->first_frame_ms = kind_ms(ev->restart_at, n->players, n->players_up, n->players_up_at);
  c->lost_in_outage = n->lost_in_outage;
  c->skipped_after_restart = n->skipped_after_restart;
  c->gave_up = n->gave_up;
  c->publishers_ok = n->publishers_up;
  c->players_ok = n->players_up;
  c->frames_sent = n->frames_sent;
  c->frames_received = n->frames_received;
  c->gaps = n->gaps;
  c->duplicates = n->duplicates;
  c->lost_after_reconnect = n->lost_after_reconnect;
  c->latency_p50_ms = n->latency_p50_ms;
  c->latency_p99_ms = n->latency_p99_ms;
  c->stale_ms = n->stale_ms_max;
  if(c->lost_after_reconnect)
    rb_cycle_add_failure(c, "players lost %llu frames after reconnecting",
                         (unsigned long long)c->lost_after_reconnect);
}

void rb_judge_thresholds(const struct rb_judge_rules *rules, struct rb_scenario_result *res)
{
  if(rules->max_rebind_ms > 0 && res->rebind.count && res->rebind.p99 > rules->max_rebind_ms) {
    snprintf(res->error, sizeof(res->error), "rebind p99 %.1f ms exceeds max_rebind_ms %.0f", res->rebind.p99,
             rules->max_rebind_ms);
    res->verdict = RB_VERDICT_FAIL;
  }
  if(rules->max_reconnect_ms > 0 && res->reconnect.count && res->reconnect.p99 > rules->max_reconnect_ms) {
    size_t used = strlen(res->error);

    snprintf(res->error + used, sizeof(res->error) - used, "%sreconnect p99 %.1f ms exceeds max_reconnect_ms %.0f",
             used ? "; " : "", res->reconnect.p99, rules->max_reconnect_ms);
    res->verdict = RB_VERDICT_FAIL;
  }
}

/* Frames sent to a restarted server that players never got before their first
   frame: the scenario passes, but says so with the numbers that show why. */
static void warn_skipped(struct rb_scenario_result *res)
{
  uint64_t skipped = 0;
  size_t cycles = 0;
  double first_frame = -1, playing = -1;

  for(size_t i = 0; i < res->ncycles; i++) {
    const struct rb_cycle_result *c = &res->cycles[i];

    if(!c->skipped_after_restart)
      continue;
    skipped += c->skipped_after_restart;
    cycles++;
    if(c->first_frame_ms > first_frame)
      first_frame = c->first_frame_ms;
    if(c->reconnect_players_ms > playing)
      playing = c->reconnect_players_ms;
  }
  if(!cycles)
    return;
  rb_scenario_add_warning(res, "players missed %llu frames sent to the restarted server before their first frame "
                          "(%zu of %zu cycles; first frame up to %.0f ms after the restart, playing again after at "
                          "most %.0f ms): the server starts players at a later keyframe or drops frames; only frames "
                          "sent while it was down may be lost", (unsigned long long)skipped, cycles, res->ncycles,
                          first_frame, playing);
}

void rb_judge_scenario(const struct rb_judge_rules *rules, struct rb_scenario_result *res)
{
  bool failed = false;

  for(size_t i = 0; i < res->ncycles; i++) {
    failed |= !res->cycles[i].pass;
    for(int s = RB_TCP_FIN_WAIT1; s <= RB_TCP_TIME_WAIT; s++)
      res->exercised_classic |= res->cycles[i].states_at_restart[s] > 0;
  }
  rb_scenario_result_summarize(res);
  if(res->verdict == RB_VERDICT_PASS && failed)
    res->verdict = RB_VERDICT_FAIL;
  if(res->verdict == RB_VERDICT_PASS)
    rb_judge_thresholds(rules, res);
  if(rules->holders && res->ncycles && !res->exercised_classic && res->verdict != RB_VERDICT_INTERRUPTED)
    rb_scenario_add_warning(res, "no FIN_WAIT2/TIME_WAIT socket was seen at any restart: this run did not exercise "
                            "the classic rebind bug");
  warn_skipped(res);
  if(res->expect_fail && res->verdict == RB_VERDICT_FAIL)
    res->verdict = RB_VERDICT_XFAIL;
  else if(res->expect_fail && res->verdict == RB_VERDICT_PASS)
    res->verdict = RB_VERDICT_XPASS;
}

enum rb_verdict rb_judge_first_start(const struct rb_first_start_evidence *ev, char *sentence, size_t len)
{
  bool not_run = ev->exited && WIFEXITED(ev->status) &&
                 (WEXITSTATUS(ev->status) == 127 || WEXITSTATUS(ev->status) == 126);

  if(len)
    sentence[0] = '\0';
  if(ev->nforeign) {
    snprintf(sentence, len, "port %u is LISTENed by pid %d (%s), which rebound did not start: stop it or choose "
             "another port", ev->port, (int)ev->foreign_pid, ev->foreign_cmdline);
    return RB_VERDICT_ERROR;
  }
  /* sh's "not found" / "cannot execute": the program, not the port */
  if(not_run || ev->states_at_failure[RB_TCP_LISTEN])
    return RB_VERDICT_ERROR;
  if(!rb_diagnosis_lingering(ev->states_before) && !rb_diagnosis_lingering(ev->states_at_failure))
    return RB_VERDICT_ERROR;
  rb_diagnose_first_start(ev, sentence, len);
  return RB_VERDICT_FAIL;
}
