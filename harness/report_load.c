/*
 * report (load): a schema-1 results file read back into struct rb_run_result, the
 * inverse of rb_report_json, for `rebound merge` and `rebound report`. Summaries are
 * not read: they are recomputed from the cycles (rb_scenario_result_summarize), so a
 * merged run's percentiles are those of all its cycles, never an average of shards'.
 */
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rebound/report.h"
#include "rebound/sockdiag.h"

#define SCHEMA_VERSION 1

struct loader {
  const char *path;
  char *msg;
  size_t msglen;
};

static rb_err bad(const struct loader *l, const char *where, const char *what)
{
  return rb_fail(l->msg, l->msglen, RB_ERR_USAGE, "%s: %s%s%s", l->path, where, *where ? ": " : "", what);
}

static void copy_str(json_t *o, const char *key, char *buf, size_t len)
{
  snprintf(buf, len, "%s", json_is_string(json_object_get(o, key)) ? json_string_value(json_object_get(o, key)) : "");
}

/* Bounds on what a results file may say, so that the writers' arithmetic on it
   (ms -> ns, stamp + duration, in int64_t) cannot overflow: 10^12 ms is 31 years,
   10^18 ns of CLOCK_MONOTONIC 31 years of uptime; anything beyond is a hostile file. */
#define LOAD_MS_MAX 1e12
#define LOAD_NS_MAX ((uint64_t)1000000000000000000ULL)

/* A figure (ms, ratio): a finite number within +-LOAD_MS_MAX, else dflt. */
static double num(json_t *o, const char *key, double dflt)
{
  json_t *v = json_object_get(o, key);
  double d = json_is_number(v) ? json_number_value(v) : dflt;

  return isfinite(d) && fabs(d) <= LOAD_MS_MAX ? d : dflt;
}

/* A count or timestamp: a whole number in 0..max, else 0 (a cast of an out-of-range
   double would be undefined). */
static uint64_t whole(json_t *o, const char *key, uint64_t max)
{
  json_t *v = json_object_get(o, key);
  json_int_t i = json_integer_value(v);
  double d = json_real_value(v);

  if(json_is_integer(v))
    return i > 0 && (uint64_t)i <= max ? (uint64_t)i : 0;
  return json_is_real(v) && d > 0 && d <= (double)max ? (uint64_t)d : 0;
}

static bool parse_verdict(const char *name, enum rb_verdict *v)
{
  const struct rb_word *w = name ? rb_word_match(rb_verdict_words, name, NULL) : NULL;

  if(w)
    *v = (enum rb_verdict)w->value;
  return w != NULL;
}

/* A fault this build does not know (a newer writer) is shown as the default. */
static enum rb_fault_kind parse_fault(const char *name)
{
  const struct rb_word *w = name ? rb_word_match(rb_fault_words, name, NULL) : NULL;

  return w ? (enum rb_fault_kind)w->value : RB_FAULT_SIGKILL;
}

static void load_states(json_t *o, unsigned *counts)
{
  for(int st = 1; st < RB_TCP_STATE_MAX; st++)
    counts[st] = (unsigned)whole(o, rb_tcp_state_name(st), UINT_MAX);
}

/* cycles[].targets: every target and the rebind of each of its ports. */
static void load_targets(json_t *arr, struct rb_cycle_result *c)
{
  json_t *t, *p;
  size_t i, k;

  json_array_foreach(arr, i, t) {
    struct rb_target_result *tr;

    if(c->ntargets == RB_MAX_TARGETS || !json_is_object(t))
      break;
    tr = &c->targets[c->ntargets++];
    copy_str(t, "name", tr->name, sizeof(tr->name));
    tr->restarted = json_is_true(json_object_get(t, "restarted"));
    tr->plays = json_is_true(json_object_get(t, "players"));
    tr->publishes = json_is_true(json_object_get(t, "publishers"));
    tr->recovery_ms = num(t, "recovery_ms", -1);
    json_array_foreach(json_object_get(t, "ports"), k, p) {
      struct rb_port_result *pr;

      if(tr->nports == RB_MAX_PORTS || !json_is_object(p))
        break;
      pr = &tr->ports[tr->nports++];
      pr->port = (uint16_t)whole(p, "port", UINT16_MAX);
      pr->rebind_ms = num(p, "rebind_ms", -1);
      load_states(json_object_get(p, "states_at_restart"), pr->states_at_restart);
    }
  }
}

/* One kind of HTTP player (absent: none of that kind). */
static void load_players(json_t *o, struct rb_player_figures *p)
{
  p->recovery_ms = num(o, "recovery_ms", -1);
  if(!json_is_object(o))
    return;
  p->planned = (unsigned)whole(o, "planned", UINT_MAX);
  p->ok = (unsigned)whole(o, "ok", UINT_MAX);
  p->frames_received = whole(o, "received", UINT64_MAX);
  p->lost_after_reconnect = whole(o, "lost_after_reconnect", UINT64_MAX);
  p->gaps = whole(o, "gaps", UINT64_MAX);
  p->duplicates = whole(o, "duplicates", UINT64_MAX);
  p->latency_p50_ms = num(json_object_get(o, "latency_ms"), "p50", 0);
  p->latency_p99_ms = num(json_object_get(o, "latency_ms"), "p99", 0);
  p->segments = whole(o, "segments", UINT64_MAX);
  p->segments_without_sei = whole(o, "segments_without_sei", UINT64_MAX);
  p->decode_errors = whole(o, "decode_errors", UINT64_MAX);
  p->sequence_resets = whole(o, "sequence_resets", UINT64_MAX);
  p->restarts_signalled = whole(o, "restarts_signalled", UINT64_MAX);
}

/* net_fault: the proxy's view, present only when the scenario used it. */
static void load_network(json_t *n, struct rb_cycle_result *c)
{
  c->net = json_is_object(n);
  if(!c->net)
    return;
  c->net_hit = (unsigned)whole(n, "hit", UINT_MAX);
  c->net_server_dropped = json_is_true(json_object_get(n, "server_dropped"));
  c->net_dropped_ms = num(n, "dropped_ms", -1);
}

/* The reconnect profile's record of a cycle: who gave up, the arrival curve (at most
   RB_ARRIVAL_POINTS points of [ms, back]) and its summary. */
static void load_arrivals(json_t *o, struct rb_cycle_result *c)
{
  json_t *a = json_object_get(o, "arrival_ms"), *v;
  size_t i;

  c->gave_up = (unsigned)whole(o, "gave_up", UINT_MAX);
  c->last_back_ms = num(o, "last_back_ms", -1);
  c->drain_ms = num(o, "drain_ms", -1);
  json_array_foreach(json_object_get(o, "arrivals"), i, v)
    if(c->narrivals < RB_ARRIVAL_POINTS && json_is_number(json_array_get(v, 0))) {
      c->arrivals[c->narrivals].ms = json_number_value(json_array_get(v, 0));
      c->arrivals[c->narrivals++].back = (unsigned)(json_is_integer(json_array_get(v, 1)) &&
                                                    json_integer_value(json_array_get(v, 1)) > 0 ?
                                                    json_integer_value(json_array_get(v, 1)) : 0);
    }
  if(json_is_object(a)) {
    c->arrival.count = (size_t)whole(a, "count", SIZE_MAX);
    c->arrival.p50 = num(a, "p50", 0);
    c->arrival.p95 = num(a, "p95", 0);
    c->arrival.p99 = num(a, "p99", 0);
    c->arrival.max = num(a, "max", 0);
  }
}

static void load_cycle_details(json_t *o, struct rb_cycle_result *c)
{
  json_t *clients = json_object_get(o, "clients"), *frames = json_object_get(o, "frames"), *v;
  size_t i;

  c->fault = parse_fault(json_string_value(json_object_get(o, "fault")));
  load_states(json_object_get(o, "port_states_at_restart"), c->states_at_restart);
  c->ready_ms = num(o, "ready_ms", -1);
  c->rebind_ms = num(o, "rebind_ms", -1);
  c->reconnect_ms = num(o, "reconnect_ms", -1);
  c->stale_ms = num(o, "stale_ms", 0);
  c->publishers_ok = (unsigned)whole(clients, "publishers_ok", UINT_MAX);
  c->players_ok = (unsigned)whole(clients, "players_ok", UINT_MAX);
  c->holders = (unsigned)whole(clients, "holders", UINT_MAX);
  c->frames_sent = whole(frames, "sent", UINT64_MAX);
  c->frames_received = whole(frames, "received", UINT64_MAX);
  c->lost_after_reconnect = whole(frames, "lost_after_reconnect", UINT64_MAX);
  c->gaps = whole(frames, "gaps", UINT64_MAX);
  c->duplicates = whole(frames, "duplicates", UINT64_MAX);
  c->lost_in_outage = whole(frames, "lost_in_outage", UINT64_MAX);
  c->skipped_after_restart = whole(frames, "skipped_after_restart", UINT64_MAX);
  c->reconnect_publishers_ms = num(json_object_get(o, "reconnect_ms_by_kind"), "publishers", -1);
  c->reconnect_players_ms = num(json_object_get(o, "reconnect_ms_by_kind"), "players", -1);
  c->first_frame_ms = num(o, "first_frame_ms", -1);
  load_players(json_object_get(json_object_get(o, "players"), "flv"), &c->flv);
  load_players(json_object_get(json_object_get(o, "players"), "hls"), &c->hls);
  load_network(json_object_get(o, "network"), c);
  c->latency_p50_ms = num(json_object_get(o, "latency_ms"), "p50", 0);
  c->latency_p99_ms = num(json_object_get(o, "latency_ms"), "p99", 0);
  c->duration_ms = num(o, "duration_ms", 0);
  c->start_at_ns = (int64_t)whole(o, "start_at_ns", LOAD_NS_MAX);
  c->fault_at_ns = (int64_t)whole(o, "fault_at_ns", LOAD_NS_MAX);
  c->fault_done_at_ns = (int64_t)whole(o, "fault_done_at_ns", LOAD_NS_MAX);
  c->restart_at_ns = (int64_t)whole(o, "restart_at_ns", LOAD_NS_MAX);
  c->rebind_at_ns = (int64_t)whole(o, "rebind_at_ns", LOAD_NS_MAX);
  c->recovery_ms = num(o, "recovery_ms", -1);
  load_targets(json_object_get(o, "targets"), c);
  load_arrivals(o, c);
  copy_str(o, "diagnosis", c->diagnosis, sizeof(c->diagnosis));
  copy_str(o, "log_tail", c->log_tail, sizeof(c->log_tail));
  json_array_foreach(json_object_get(o, "failures"), i, v)
    if(c->nfailures < RB_MAX_FAILURES && json_is_string(v))
      snprintf(c->failures[c->nfailures++], RB_FAILURE_LEN, "%s", json_string_value(v));
}

static rb_err load_cycle(const struct loader *l, const char *where, json_t *o, struct rb_cycle_result *c)
{
  const char *result = json_string_value(json_object_get(o, "result"));

  if(!json_is_object(o) || !json_is_integer(json_object_get(o, "index")) || !result ||
     (strcmp(result, "pass") && strcmp(result, "fail")))
    return bad(l, where, "not a cycle (index, result pass/fail)");
  c->index = (unsigned)json_integer_value(json_object_get(o, "index"));
  c->pass = !strcmp(result, "pass");
  load_cycle_details(o, c);
  return RB_OK;
}

static rb_err load_scenario(const struct loader *l, size_t k, json_t *o, struct rb_scenario_result *s)
{
  json_t *cycles = json_object_get(o, "cycles"), *v;
  char where[160];
  size_t i;
  rb_err err;

  snprintf(where, sizeof(where), "scenarios[%zu]", k);
  if(!json_is_object(o) || !json_is_string(json_object_get(o, "name")) || !json_is_array(cycles) ||
     !parse_verdict(json_string_value(json_object_get(o, "result")), &s->verdict))
    return bad(l, where, "not a scenario (name, result, cycles)");
  copy_str(o, "name", s->name, sizeof(s->name));
  copy_str(o, "error", s->error, sizeof(s->error));
  copy_str(o, "artifacts", s->artifacts, sizeof(s->artifacts));
  copy_str(o, "reconnect_profile", s->reconnect_profile, sizeof(s->reconnect_profile));
  copy_str(o, "containment", s->containment, sizeof(s->containment));
  s->expect_fail = s->verdict == RB_VERDICT_XFAIL || s->verdict == RB_VERDICT_XPASS;
  s->port = (uint16_t)whole(o, "port", UINT16_MAX);
  s->seed = (uint64_t)json_integer_value(json_object_get(o, "seed")) /* written as json_int_t */;
  s->first_ready_ms = num(o, "first_ready_ms", 0);
  s->exercised_classic = json_is_true(json_object_get(o, "exercised_classic_bug"));
  load_states(json_object_get(o, "port_states_before_start"), s->states_before_start);
  json_array_foreach(json_object_get(o, "warnings"), i, v)
    if(s->nwarnings < RB_MAX_WARNINGS && json_is_string(v))
      snprintf(s->warnings[s->nwarnings++], RB_FAILURE_LEN, "%s", json_string_value(v));
  if(json_array_size(cycles) && !(s->cycles = calloc(json_array_size(cycles), sizeof(*s->cycles))))
    return rb_fail(l->msg, l->msglen, RB_ERR_NOMEM, "%s: out of memory", l->path);
  json_array_foreach(cycles, i, v) {
    snprintf(where, sizeof(where), "scenarios[%zu].cycles[%zu]", k, i);
    if((err = load_cycle(l, where, v, &s->cycles[s->ncycles])))
      return err;
    s->ncycles++;
  }
  s->cycles_planned = s->ncycles;
  rb_scenario_result_summarize(s);
  return RB_OK;
}

static rb_err load_doc(const struct loader *l, json_t *doc, struct rb_run_result *run)
{
  json_t *scenarios = json_object_get(doc, "scenarios"), *v;
  size_t i;
  rb_err err;

  if(!json_is_object(doc))
    return bad(l, "", "not a rebound results file");
  if(!json_is_integer(json_object_get(doc, "schema")) || json_integer_value(json_object_get(doc, "schema")) != SCHEMA_VERSION) {
    char what[96];

    if(json_is_integer(json_object_get(doc, "schema")))
      snprintf(what, sizeof(what), "results schema %lld, expected %d (mixed rebound versions?)",
               (long long)json_integer_value(json_object_get(doc, "schema")), SCHEMA_VERSION);
    else
      snprintf(what, sizeof(what), "no results schema: not a rebound results file");
    return bad(l, "", what);
  }
  if(!json_is_array(scenarios) || !parse_verdict(json_string_value(json_object_get(doc, "result")), &run->verdict))
    return bad(l, "", "not a rebound results file (result, scenarios)");
  copy_str(doc, "scenario_file", run->scenario_file, sizeof(run->scenario_file));
  run->seed = (uint64_t)json_integer_value(json_object_get(doc, "seed"));
  run->shard_index = (unsigned)whole(json_object_get(doc, "shard"), "index", UINT_MAX);
  run->shard_total = (unsigned)whole(json_object_get(doc, "shard"), "total", UINT_MAX);
  if(json_array_size(scenarios) && !(run->scenarios = calloc(json_array_size(scenarios), sizeof(*run->scenarios))))
    return rb_fail(l->msg, l->msglen, RB_ERR_NOMEM, "%s: out of memory", l->path);
  json_array_foreach(scenarios, i, v) {
    run->nscenarios++; /* counted first, so a half-loaded scenario is freed too */
    if((err = load_scenario(l, i, v, &run->scenarios[i])))
      return err;
  }
  return RB_OK;
}

static rb_err load_parsed(const char *path, json_t *doc, const json_error_t *jerr, struct rb_run_result *run,
                          char *msg, size_t msglen)
{
  struct loader l = { path, msg, msglen };
  rb_err err;

  /* a truncated file is a parse error here ("premature end of input") */
  if(!doc)
    return rb_fail(msg, msglen, RB_ERR_USAGE, "%s:%d: %s", path, jerr->line, jerr->text);
  err = load_doc(&l, doc, run);
  json_decref(doc);
  if(err)
    rb_run_result_free(run);
  return err;
}

rb_err rb_report_load_json(const char *path, struct rb_run_result *run, char *msg, size_t msglen)
{
  json_error_t jerr;

  memset(run, 0, sizeof(*run));
  return load_parsed(path, json_load_file(path, JSON_REJECT_DUPLICATES, &jerr), &jerr, run, msg, msglen);
}

rb_err rb_report_load_json_buffer(const char *buf, size_t len, const char *name, struct rb_run_result *run,
                                  char *msg, size_t msglen)
{
  json_error_t jerr;

  memset(run, 0, sizeof(*run));
  return load_parsed(name, json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr), &jerr, run, msg, msglen);
}
