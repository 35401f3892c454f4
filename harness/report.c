/*
 * report: console output, JSON results and JSON Lines events.
 * All escaping of server-provided text (log tails, status descriptions) is done
 * by jansson; nothing here formats JSON by hand.
 */
#include "rebound/report.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "rebound/clock.h"

#define SCHEMA_VERSION 1

static const char *paint(const struct rb_reporter *rep, enum rb_verdict v)
{
  if(!rep->color)
    return "";
  switch(v) {
  case RB_VERDICT_PASS: case RB_VERDICT_XFAIL: return "\033[32m";
  case RB_VERDICT_FAIL: case RB_VERDICT_ERROR: case RB_VERDICT_XPASS: return "\033[31m";
  case RB_VERDICT_INTERRUPTED: return "\033[33m";
  }
  return "";
}

static const char *reset(const struct rb_reporter *rep)
{
  return rep->color ? "\033[0m" : "";
}

static void format_states(const unsigned *counts, char *buf, size_t buflen)
{
  rb_tcp_states_format(counts, buf, buflen);
}

static void print_ms(FILE *out, const char *label, double ms)
{
  if(ms >= 0)
    fprintf(out, "  %s %.1f ms", label, ms);
  else
    fprintf(out, "  %s -", label);
}

/* The last `lines` lines of a server log, indented, as a failure's context. */
static void print_log_tail(FILE *out, const char *tail, int lines)
{
  const char *start = tail + strlen(tail);
  int seen = 0;

  while(start > tail && (start[-1] == '\n' || start[-1] == '\r'))
    start--;
  while(start > tail && seen < lines)
    if(*--start == '\n')
      seen++;
  if(*start == '\n')
    start++;
  fputs("    server log:\n", out);
  while(*start) {
    const char *nl = strchr(start, '\n');
    int len = nl ? (int)(nl - start) : (int)strlen(start);

    if(len)
      fprintf(out, "      | %.*s\n", len, start);
    start += len + (nl ? 1 : 0);
  }
}

bool rb_report_has_targets(const struct rb_cycle_result *c)
{
  return c->ntargets > 1 || (c->ntargets == 1 && c->targets[0].nports > 1);
}

void rb_report_target_line(const struct rb_target_result *t, char *buf, size_t len)
{
  size_t used = 0;

#define PUT(...) (used += (size_t)snprintf(buf + used, used < len ? len - used : 0, __VA_ARGS__))
  buf[0] = '\0';
  PUT("%s: %s", t->name, t->restarted ? "restarted, rebind" : "not restarted");
  for(size_t k = 0; t->restarted && k < t->nports; k++) {
    if(t->ports[k].rebind_ms >= 0)
      PUT("%s port %u %.1f ms", k ? "," : "", t->ports[k].port, t->ports[k].rebind_ms);
    else
      PUT("%s port %u not rebound", k ? "," : "", t->ports[k].port);
  }
  if(t->plays && !t->restarted) {
    if(t->recovery_ms >= 0)
      PUT(", players recovered %.1f ms after the restart", t->recovery_ms);
    else
      PUT(", players did not recover");
  }
#undef PUT
}

/* One line per target when there is more to say than the cycle line does (several
   targets, or several ports). */
static void print_targets(FILE *out, const struct rb_cycle_result *c)
{
  char line[RB_FAILURE_LEN];

  if(!rb_report_has_targets(c))
    return;
  for(size_t i = 0; i < c->ntargets; i++) {
    rb_report_target_line(&c->targets[i], line, sizeof(line));
    fprintf(out, "    %s\n", line);
  }
}

/* "    HLS players 2/2  recovery 1486.4 ms  frames 75  lost 0  segments 6  resets 0" */
static void print_players(FILE *out, const char *kind, const struct rb_player_figures *p, bool hls)
{
  if(!p->planned)
    return;
  fprintf(out, "    %s players %u/%u", kind, p->ok, p->planned);
  print_ms(out, "recovery", p->recovery_ms);
  fprintf(out, "  frames %llu  gaps %llu  lost %llu", (unsigned long long)p->frames_received,
          (unsigned long long)p->gaps, (unsigned long long)p->lost_after_reconnect);
  if(hls)
    fprintf(out, "  segments %llu  discontinuities %llu  resets %llu", (unsigned long long)p->segments,
            (unsigned long long)p->restarts_signalled, (unsigned long long)p->sequence_resets);
  fputc('\n', out);
}

static void print_cycle(const struct rb_reporter *rep, const struct rb_event *ev)
{
  const struct rb_cycle_result *c = ev->result;
  enum rb_verdict v = c->pass ? RB_VERDICT_PASS : RB_VERDICT_FAIL;
  char states[160];

  format_states(c->states_at_restart, states, sizeof(states));
  fprintf(rep->out, "[%s] cycle %u/%zu %s%-4s%s", ev->scenario, c->index,
          ev->scenario_result ? ev->scenario_result->cycles_planned : (size_t)0, paint(rep, v),
          rb_verdict_name(v), reset(rep));
  print_ms(rep->out, "rebind", c->rebind_ms);
  print_ms(rep->out, "reconnect", c->reconnect_ms);
  for(size_t i = 0; i < c->ntargets; i++)
    if(c->targets[i].plays && !c->targets[i].restarted)
      print_ms(rep->out, "recovery", c->recovery_ms);
  fprintf(rep->out, "  at restart: %s", states);
  if(c->stale_ms > 0)
    fprintf(rep->out, "  stale %.0f ms", c->stale_ms);
  if(c->drain_ms >= 0)
    fprintf(rep->out, "  drain %.0f ms", c->drain_ms);
  if(c->gave_up)
    fprintf(rep->out, "  gave up %u", c->gave_up);
  /* a passing cycle whose players waited: say so where it happened */
  if(c->skipped_after_restart)
    fprintf(rep->out, "  players playing after %.1f ms, first frame after %.1f ms (%llu frames skipped)",
            c->reconnect_players_ms, c->first_frame_ms, (unsigned long long)c->skipped_after_restart);
  fputc('\n', rep->out);
  print_targets(rep->out, c);
  print_players(rep->out, "HTTP-FLV", &c->flv, false);
  print_players(rep->out, "HLS", &c->hls, true);
  if(!c->pass && c->diagnosis[0])
    fprintf(rep->out, "    diagnosis: %s\n", c->diagnosis);
  for(size_t i = 0; !c->pass && i < c->nfailures; i++)
    fprintf(rep->out, "    failure: %s\n", c->failures[i]);
  if(!c->pass && c->log_tail[0])
    print_log_tail(rep->out, c->log_tail, 5);
}

static const char *event_name(enum rb_event_kind k)
{
  static const char *const names[] = {
    [RB_EVENT_SCENARIO_START] = "scenario_start", [RB_EVENT_READY] = "ready", [RB_EVENT_FAULT] = "fault",
    [RB_EVENT_RESTART] = "restart", [RB_EVENT_REBIND] = "rebind", [RB_EVENT_RECONNECT] = "reconnect",
    [RB_EVENT_CYCLE_END] = "cycle_end", [RB_EVENT_WARNING] = "warning", [RB_EVENT_SCENARIO_END] = "scenario_end",
  };

  return (size_t)k < sizeof(names) / sizeof(names[0]) ? names[k] : "?";
}

static void write_event_line(FILE *f, const struct rb_event *ev)
{
  json_t *o = json_pack("{s:s, s:s, s:f}", "event", event_name(ev->kind), "scenario", ev->scenario,
                        "t_ms", (double)rb_clock_now() / RB_NS_PER_MS);
  char *line;

  if(!o)
    return;
  if(ev->cycle)
    json_object_set_new(o, "cycle", json_integer(ev->cycle));
  if(ev->kind == RB_EVENT_READY || ev->kind == RB_EVENT_REBIND || ev->kind == RB_EVENT_RECONNECT)
    json_object_set_new(o, "ms", json_real(ev->ms));
  if(ev->kind == RB_EVENT_SCENARIO_START)
    json_object_set_new(o, "port", json_integer((json_int_t)ev->ms));
  if(ev->detail)
    json_object_set_new(o, "detail", json_string(ev->detail));
  if(ev->kind == RB_EVENT_CYCLE_END && ev->result) {
    json_object_set_new(o, "result", json_string(ev->result->pass ? "pass" : "fail"));
    json_object_set_new(o, "diagnosis", json_string(ev->result->diagnosis));
  }
  if(ev->kind == RB_EVENT_SCENARIO_END && ev->scenario_result)
    json_object_set_new(o, "result", json_string(rb_verdict_name(ev->scenario_result->verdict)));
  if((line = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII))) {
    fprintf(f, "%s\n", line);
    fflush(f); /* crash-safe: every line is on disk before the next step */
    free(line);
  }
  json_decref(o);
}

/* Erase the live line before a normal line is printed over it. */
static void clear_line(struct rb_reporter *rep)
{
  if(rep->line_drawn)
    fputs("\r\033[K", rep->out);
  rep->line_drawn = false;
}

/* "[name] cycle 3/10  12.4s  rebind 8.1 ms  reconnect 31.0 ms  failures 0" */
static void draw_line(struct rb_reporter *rep, const struct rb_event *ev)
{
  size_t planned = ev->scenario_result ? ev->scenario_result->cycles_planned : 0;

  fprintf(rep->out, "\r\033[K[%s] cycle %u/%zu  %.1fs", ev->scenario, ev->cycle, planned,
          (double)(rb_clock_now() - rep->started_at) / RB_NS_PER_S);
  if(rep->last_rebind_ms >= 0)
    fprintf(rep->out, "  rebind %.1f ms", rep->last_rebind_ms);
  if(rep->last_reconnect_ms >= 0)
    fprintf(rep->out, "  reconnect %.1f ms", rep->last_reconnect_ms);
  fprintf(rep->out, "  failures %u  (%s)", rep->failures, event_name(ev->kind));
  rep->line_drawn = true;
}

static void track(struct rb_reporter *rep, const struct rb_event *ev)
{
  if(ev->kind == RB_EVENT_SCENARIO_START) {
    rep->started_at = rb_clock_now();
    rep->failures = 0;
    rep->last_rebind_ms = rep->last_reconnect_ms = -1;
  }
  if(ev->kind == RB_EVENT_REBIND)
    rep->last_rebind_ms = ev->ms;
  if(ev->kind == RB_EVENT_RECONNECT)
    rep->last_reconnect_ms = ev->ms;
  if(ev->kind == RB_EVENT_CYCLE_END && ev->result && !ev->result->pass)
    rep->failures++;
}

/* "[name] port 1935, artifacts in DIR", and what was already on the port. */
static void print_start(struct rb_reporter *rep, const struct rb_event *ev)
{
  const struct rb_scenario_result *s = ev->scenario_result;
  char states[256];
  bool any = false;

  for(int st = 1; s && st < RB_TCP_STATE_MAX; st++)
    any |= s->states_before_start[st] > 0;
  fprintf(rep->out, "[%s] port %.0f, artifacts in %s", ev->scenario, ev->ms, ev->detail);
  if(any) {
    format_states(s->states_before_start, states, sizeof(states));
    fprintf(rep->out, "; sockets on the port before the first start: %s", states);
  }
  fputc('\n', rep->out);
  if(s && s->containment[0])
    fprintf(rep->out, "[%s] containment: %s (%s)\n", ev->scenario, s->containment, s->containment_note);
}

void rb_report_event(const struct rb_event *ev, void *arg)
{
  struct rb_reporter *rep = arg;

  if(rep->events)
    write_event_line(rep->events, ev);
  track(rep, ev);
  if(rep->quiet)
    return;
  clear_line(rep);
  switch(ev->kind) {
  case RB_EVENT_SCENARIO_START:
    print_start(rep, ev);
    break;
  case RB_EVENT_READY:
    fprintf(rep->out, "[%s] target ready after %.1f ms\n", ev->scenario, ev->ms);
    break;
  case RB_EVENT_CYCLE_END:
    print_cycle(rep, ev);
    break;
  case RB_EVENT_WARNING:
    fprintf(rep->out, "[%s] warning: %s\n", ev->scenario, ev->detail);
    break;
  default:
    if(rep->verbose)
      fprintf(rep->out, "[%s] cycle %u %s%s%s\n", ev->scenario, ev->cycle, event_name(ev->kind),
              ev->detail ? " " : "", ev->detail ? ev->detail : "");
    break;
  }
  if(rep->progress && ev->kind != RB_EVENT_SCENARIO_END && ev->cycle)
    draw_line(rep, ev);
  fflush(rep->out);
}

static void print_summary_row(FILE *out, const char *label, const struct rb_summary *s)
{
  if(!s->count) {
    fprintf(out, "  %-11s %9s %9s %9s %9s  (no samples)\n", label, "-", "-", "-", "-");
    return;
  }
  fprintf(out, "  %-11s %9.1f %9.1f %9.1f %9.1f  ms (%zu samples)\n", label, s->p50, s->p95, s->p99, s->max,
          s->count);
}

void rb_report_summary(const struct rb_reporter *rep, const struct rb_run_result *run)
{
  FILE *out = rep->out;

  if(rep->line_drawn)
    fputs("\r\033[K", out);
  fprintf(out, "\n");
  for(size_t i = 0; i < run->nscenarios; i++) {
    const struct rb_scenario_result *s = &run->scenarios[i];
    size_t passed = 0;

    for(size_t k = 0; k < s->ncycles; k++)
      passed += s->cycles[k].pass;
    fprintf(out, "scenario %s: %s%s%s (%zu/%zu cycles passed, port %u, seed %llu)\n", s->name, paint(rep, s->verdict),
            rb_verdict_name(s->verdict), reset(rep), passed, s->ncycles, s->port, (unsigned long long)s->seed);
    if(s->verdict == RB_VERDICT_ERROR || s->error[0])
      fprintf(out, "  %s\n", s->error);
    if(s->ncycles) {
      fprintf(out, "  %-11s %9s %9s %9s %9s\n", "", "p50", "p95", "p99", "max");
      print_summary_row(out, "ready", &s->ready);
      print_summary_row(out, "rebind", &s->rebind);
      print_summary_row(out, "reconnect", &s->reconnect);
      /* per client kind, when there are players: their first frame may lag their reconnect */
      if(s->reconnect_players.count || s->first_frame.count) {
        print_summary_row(out, " publishers", &s->reconnect_publishers);
        print_summary_row(out, " players", &s->reconnect_players);
        print_summary_row(out, "first frame", &s->first_frame);
      }
      /* players on a target the fault did not hit: through the topology */
      if(s->recovery.count)
        print_summary_row(out, "recovery", &s->recovery);
      if(s->flv_recovery.count)
        print_summary_row(out, "flv recov", &s->flv_recovery);
      if(s->hls_recovery.count)
        print_summary_row(out, "hls recov", &s->hls_recovery);
    }
    for(size_t k = 0; k < s->ncycles; k++)
      if(!s->cycles[k].pass)
        fprintf(out, "  cycle %u: %s\n", s->cycles[k].index,
                s->cycles[k].diagnosis[0] ? s->cycles[k].diagnosis : s->cycles[k].failures[0]);
    for(size_t k = 0; k < s->nwarnings; k++)
      fprintf(out, "  warning: %s\n", s->warnings[k]);
  }
  fprintf(out, "result: %s%s%s (seed %llu; replay with --set seed=%llu)\n", paint(rep, run->verdict),
          rb_verdict_name(run->verdict), reset(rep), (unsigned long long)run->seed,
          (unsigned long long)run->seed);
  fflush(out);
}

/* ---- JSON ----------------------------------------------------------------- */

static json_t *ms_or_null(double ms)
{
  return ms >= 0 ? json_real(ms) : json_null();
}

static json_t *summary_json(const struct rb_summary *s)
{
  if(!s->count)
    return json_pack("{s:n, s:n, s:n, s:n, s:i}", "p50", "p95", "p99", "max", "count", 0);
  return json_pack("{s:f, s:f, s:f, s:f, s:I}", "p50", s->p50, "p95", s->p95, "p99", s->p99, "max", s->max,
                   "count", (json_int_t)s->count);
}

static json_t *states_json(const unsigned *counts)
{
  json_t *o = json_object();

  for(int st = 1; st < RB_TCP_STATE_MAX; st++)
    if(counts[st] || st == RB_TCP_LISTEN || st == RB_TCP_FIN_WAIT2 || st == RB_TCP_TIME_WAIT)
      json_object_set_new(o, rb_tcp_state_name(st), json_integer(counts[st]));
  return o;
}

/* Every target of the cycle, each with the rebind of every port it listened on. */
static json_t *targets_json(const struct rb_cycle_result *c)
{
  json_t *targets = json_array();

  for(size_t i = 0; i < c->ntargets; i++) {
    const struct rb_target_result *t = &c->targets[i];
    json_t *ports = json_array();

    for(size_t k = 0; k < t->nports; k++)
      json_array_append_new(ports, json_pack("{s:i, s:o, s:o}", "port", (int)t->ports[k].port, "rebind_ms",
                                             ms_or_null(t->ports[k].rebind_ms), "states_at_restart",
                                             states_json(t->ports[k].states_at_restart)));
    json_t *o = json_pack("{s:s, s:b, s:o}", "name", t->name, "restarted", t->restarted, "ports", ports);

    if(t->plays && !t->restarted)
      json_object_set_new(o, "recovery_ms", ms_or_null(t->recovery_ms));
    json_object_set_new(o, "publishers", json_boolean(t->publishes));
    json_object_set_new(o, "players", json_boolean(t->plays));
    json_array_append_new(targets, o);
  }
  return targets;
}

/* One kind of HTTP player (optional "players" object: only the kinds a scenario has). */
static json_t *player_figures_json(const struct rb_player_figures *p, bool hls)
{
  json_t *o = json_pack("{s:i, s:i, s:o, s:I, s:I, s:I, s:I, s:{s:f, s:f}}", "planned", (int)p->planned, "ok",
                        (int)p->ok, "recovery_ms", ms_or_null(p->recovery_ms), "received",
                        (json_int_t)p->frames_received, "lost_after_reconnect", (json_int_t)p->lost_after_reconnect,
                        "gaps", (json_int_t)p->gaps, "duplicates", (json_int_t)p->duplicates, "latency_ms", "p50",
                        p->latency_p50_ms, "p99", p->latency_p99_ms);

  if(hls) {
    json_object_set_new(o, "segments", json_integer((json_int_t)p->segments));
    json_object_set_new(o, "segments_without_sei", json_integer((json_int_t)p->segments_without_sei));
    json_object_set_new(o, "decode_errors", json_integer((json_int_t)p->decode_errors));
    json_object_set_new(o, "sequence_resets", json_integer((json_int_t)p->sequence_resets));
    json_object_set_new(o, "restarts_signalled", json_integer((json_int_t)p->restarts_signalled));
  }
  return o;
}

static json_t *arrivals_json(const struct rb_cycle_result *c)
{
  json_t *a = json_array();

  for(size_t i = 0; i < c->narrivals; i++)
    json_array_append_new(a, json_pack("[f, i]", c->arrivals[i].ms, (int)c->arrivals[i].back));
  return a;
}

static json_t *cycle_json(const struct rb_cycle_result *c)
{
  json_t *failures = json_array();
  json_t *o;

  for(size_t i = 0; i < c->nfailures; i++)
    json_array_append_new(failures, json_string(c->failures[i]));
  o = json_pack("{s:i, s:s, s:s, s:o, s:o, s:o, s:o, s:o}", "index", (int)c->index, "result",
                c->pass ? "pass" : "fail", "fault", rb_fault_name(c->fault), "port_states_at_restart",
                states_json(c->states_at_restart), "ready_ms", ms_or_null(c->ready_ms), "rebind_ms",
                ms_or_null(c->rebind_ms), "reconnect_ms", ms_or_null(c->reconnect_ms), "stale_ms",
                json_real(c->stale_ms));
  json_object_set_new(o, "clients", json_pack("{s:i, s:i, s:i}", "publishers_ok", (int)c->publishers_ok,
                                              "players_ok", (int)c->players_ok, "holders", (int)c->holders));
  json_object_set_new(o, "frames", json_pack("{s:I, s:I, s:I, s:I, s:I}", "sent", (json_int_t)c->frames_sent,
                                             "received", (json_int_t)c->frames_received, "lost_after_reconnect",
                                             (json_int_t)c->lost_after_reconnect, "gaps", (json_int_t)c->gaps,
                                             "duplicates", (json_int_t)c->duplicates));
  json_object_set_new(json_object_get(o, "frames"), "lost_in_outage", json_integer((json_int_t)c->lost_in_outage));
  json_object_set_new(json_object_get(o, "frames"), "skipped_after_restart",
                      json_integer((json_int_t)c->skipped_after_restart));
  json_object_set_new(o, "reconnect_ms_by_kind", json_pack("{s:o, s:o}", "publishers",
                                                           ms_or_null(c->reconnect_publishers_ms), "players",
                                                           ms_or_null(c->reconnect_players_ms)));
  json_object_set_new(o, "first_frame_ms", ms_or_null(c->first_frame_ms));
  json_object_set_new(o, "latency_ms", json_pack("{s:f, s:f}", "p50", c->latency_p50_ms, "p99", c->latency_p99_ms));
  if(c->fault == RB_FAULT_RELOAD)
    json_object_set_new(o, "drain_ms", ms_or_null(c->drain_ms));
  json_object_set_new(o, "gave_up", json_integer(c->gave_up));
  json_object_set_new(o, "last_back_ms", ms_or_null(c->last_back_ms));
  json_object_set_new(o, "arrivals", arrivals_json(c));
  if(c->arrival.count)
    json_object_set_new(o, "arrival_ms", summary_json(&c->arrival));
  if(c->flv.planned || c->hls.planned) {
    json_t *players = json_object();

    if(c->flv.planned)
      json_object_set_new(players, "flv", player_figures_json(&c->flv, false));
    if(c->hls.planned) {
      json_object_set_new(players, "hls", player_figures_json(&c->hls, true));
      json_object_set_new(o, "hls_recovery_ms", ms_or_null(c->hls.recovery_ms));
    }
    json_object_set_new(o, "players", players);
  }
  json_object_set_new(o, "duration_ms", json_real(c->duration_ms));
  json_object_set_new(o, "start_at_ns", json_integer(c->start_at_ns));
  json_object_set_new(o, "fault_at_ns", json_integer(c->fault_at_ns));
  json_object_set_new(o, "fault_done_at_ns", json_integer(c->fault_done_at_ns));
  json_object_set_new(o, "restart_at_ns", json_integer(c->restart_at_ns));
  json_object_set_new(o, "rebind_at_ns", c->rebind_at_ns ? json_integer(c->rebind_at_ns) : json_null());
  json_object_set_new(o, "targets", targets_json(c));
  for(size_t i = 0; i < c->ntargets; i++)
    if(c->targets[i].plays && !c->targets[i].restarted)
      json_object_set_new(o, "recovery_ms", ms_or_null(c->recovery_ms));
  if(c->net)
    json_object_set_new(o, "network", json_pack("{s:i, s:b, s:o}", "hit", (int)c->net_hit, "server_dropped",
                                                c->net_server_dropped, "dropped_ms",
                                                ms_or_null(c->net_dropped_ms)));
  json_object_set_new(o, "diagnosis", json_string(c->diagnosis));
  json_object_set_new(o, "failures", failures);
  if(!c->pass && c->log_tail[0])
    json_object_set_new(o, "log_tail", json_string(c->log_tail));
  return o;
}

static json_t *scenario_json(const struct rb_scenario_result *s)
{
  json_t *cycles = json_array(), *warnings = json_array(), *o;

  for(size_t i = 0; i < s->ncycles; i++)
    json_array_append_new(cycles, cycle_json(&s->cycles[i]));
  for(size_t i = 0; i < s->nwarnings; i++)
    json_array_append_new(warnings, json_string(s->warnings[i]));
  o = json_pack("{s:s, s:s, s:i, s:I, s:o, s:o}", "name", s->name, "result", rb_verdict_name(s->verdict), "port",
                (int)s->port, "seed", (json_int_t)s->seed, "first_ready_ms", json_real(s->first_ready_ms),
                "cycles", cycles);
  json_object_set_new(o, "summary", json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "ready_ms",
                                              summary_json(&s->ready), "rebind_ms", summary_json(&s->rebind),
                                              "reconnect_ms", summary_json(&s->reconnect), "reconnect_publishers_ms",
                                              summary_json(&s->reconnect_publishers), "reconnect_players_ms",
                                              summary_json(&s->reconnect_players), "first_frame_ms",
                                              summary_json(&s->first_frame), "last_back_ms",
                                              summary_json(&s->last_back)));
  if(s->recovery.count)
    json_object_set_new(json_object_get(o, "summary"), "recovery_ms", summary_json(&s->recovery));
  if(s->reconnect_profile[0])
    json_object_set_new(o, "reconnect_profile", json_string(s->reconnect_profile));
  if(s->flv_recovery.count)
    json_object_set_new(json_object_get(o, "summary"), "flv_recovery_ms", summary_json(&s->flv_recovery));
  if(s->hls_recovery.count)
    json_object_set_new(json_object_get(o, "summary"), "hls_recovery_ms", summary_json(&s->hls_recovery));
  json_object_set_new(o, "error", json_string(s->error));
  json_object_set_new(o, "warnings", warnings);
  if(s->containment[0])
    json_object_set_new(o, "containment", json_string(s->containment));
  json_object_set_new(o, "exercised_classic_bug", json_boolean(s->exercised_classic));
  json_object_set_new(o, "port_states_before_start", states_json(s->states_before_start));
  json_object_set_new(o, "artifacts", json_string(s->artifacts));
  return o;
}

json_t *rb_report_json(const struct rb_run_result *run)
{
  json_t *scenarios = json_array(), *doc;

  for(size_t i = 0; i < run->nscenarios; i++)
    json_array_append_new(scenarios, scenario_json(&run->scenarios[i]));
  doc = json_pack("{s:i, s:s, s:s, s:I, s:s, s:o}", "schema", SCHEMA_VERSION, "rebound", REBOUND_VERSION,
                   "scenario_file", run->scenario_file, "seed", (json_int_t)run->seed, "result",
                   rb_verdict_name(run->verdict), "scenarios", scenarios);
  if(doc && run->shard_total)
    json_object_set_new(doc, "shard", json_pack("{s:i, s:i}", "index", (int)run->shard_index, "total",
                                                (int)run->shard_total));
  return doc;
}

rb_err rb_report_dump_json(FILE *f, const void *doc, char *msg, size_t msglen)
{
  if(json_dumpf(doc, f, JSON_INDENT(2) | JSON_ENSURE_ASCII) || fputc('\n', f) == EOF)
    return rb_fail(msg, msglen, RB_ERR_IO, "%s", strerror(errno));
  return RB_OK;
}

rb_err rb_report_json_to(FILE *f, const void *run, char *msg, size_t msglen)
{
  json_t *doc = rb_report_json(run);
  rb_err err;

  if(!doc)
    return rb_fail(msg, msglen, RB_ERR_NOMEM, "cannot build the JSON results");
  err = rb_report_dump_json(f, doc, msg, msglen);
  json_decref(doc);
  return err;
}

/* ---- the report files ------------------------------------------------------- */

const struct rb_report_format rb_report_formats[RB_REPORT__COUNT] = {
  [RB_REPORT_JSON] = { "--json", rb_report_json_to },
  [RB_REPORT_JUNIT] = { "--junit", rb_report_junit_to },
  [RB_REPORT_HTML] = { "--html", rb_report_html_to },
  [RB_REPORT_METRICS] = { "--metrics", rb_report_metrics_to },
};

rb_err rb_report_write(enum rb_report_kind kind, const char *path, const struct rb_run_result *run, char *msg,
                       size_t msglen)
{
  return rb_output_write(path, rb_report_formats[kind].write, run, msg, msglen);
}

size_t rb_report_write_all(const char *const paths[RB_REPORT__COUNT], const struct rb_run_result *run, FILE *err)
{
  size_t failed = 0;
  char msg[1024];

  for(int k = 0; k < RB_REPORT__COUNT; k++) {
    if(!paths[k])
      continue;
    if(rb_report_write((enum rb_report_kind)k, paths[k], run, msg, sizeof(msg))) {
      fprintf(err, "rebound: %s %s\n", rb_report_formats[k].flag, msg);
      failed++;
    }
  }
  return failed;
}

rb_err rb_report_write_json(const char *path, const struct rb_run_result *run, char *msg, size_t msglen)
{
  return rb_report_write(RB_REPORT_JSON, path, run, msg, msglen);
}

rb_err rb_report_write_junit(const char *path, const struct rb_run_result *run, char *msg, size_t msglen)
{
  return rb_report_write(RB_REPORT_JUNIT, path, run, msg, msglen);
}

rb_err rb_report_write_html(const char *path, const struct rb_run_result *run, char *msg, size_t msglen)
{
  return rb_report_write(RB_REPORT_HTML, path, run, msg, msglen);
}
