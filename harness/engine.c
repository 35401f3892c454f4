/*
 * engine: runs one scenario's restart cycles and judges them.
 * See include/rebound/engine.h for the cycle.
 *
 * Timing: every duration is a difference of CLOCK_MONOTONIC stamps taken here
 * (restart = just before the new process is spawned), except client up times,
 * which the fleet threads stamp the moment Publish.Start / the first frame
 * arrives. Polling is sub-millisecond at first and backs off to 1 ms, so a
 * fast server costs milliseconds per cycle.
 */
#include "rebound/engine.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rebound/client.h"
#include "rebound/clock.h"
#include "rebound/diagnosis.h"
#include "rebound/fleet.h"
#include "rebound/http.h"
#include "rebound/judge.h"
#include "rebound/netfault.h"
#include "rebound/probe.h"
#include "rebound/random.h"
#include "rebound/sockdiag.h"
#include "rebound/target.h"

#define POLL_MIN_NS (100 * 1000)
#define POLL_MAX_NS RB_NS_PER_MS
#define EXIT_REPORT_WAIT_NS (2 * RB_NS_PER_S) /* bound on the keeper's exit report (event-driven: rarely waited for) */
#define FAULT_SLACK_NS (10 * RB_NS_PER_S)
#define CLEANUP_NS (5 * RB_NS_PER_S)
#define STEP_TIMEOUT_NS (5 * RB_NS_PER_S)
#define LOG_TAIL_LINES 15

struct run {
  struct rb_scenario *sc;
  const struct rb_engine_opts *opts;
  struct rb_scenario_result *res;
  struct rb_target *target;
  struct rb_fleet *fleet;
  char run_dir[PATH_MAX];
  char config_path[PATH_MAX];
  struct rb_scenario_vars vars;
  char *url;
  char *host;
  char **streams;
  char **flv_urls, **hls_urls;  /* one per HTTP player: flv_url / hls_url for its stream */
  enum rb_ready_kind ready_kind;
  char *ready_http;
  uint64_t rng;
  int64_t started_at;
  bool external;          /* no command: a server rebound neither starts nor owns */
  struct rb_netfault *proxy; /* net_fault: the clients' way to the server */
  char *client_url;       /* url through the proxy (NULL: the clients use url) */
  unsigned log_cycle;     /* the cycle whose start writes the server log now (0 = first start) */
};

void rb_engine_ignore_sigpipe(void)
{
  signal(SIGPIPE, SIG_IGN);
}

static bool stop_requested(const struct run *r)
{
  return r->opts->stop && *r->opts->stop;
}

static void emit(const struct run *r, enum rb_event_kind kind, unsigned cycle, double ms,
                 const char *detail, const struct rb_cycle_result *result)
{
  struct rb_event ev = { kind, r->sc->name, cycle, ms, detail, result, r->res };

  if(r->opts->on_event)
    r->opts->on_event(&ev, r->opts->event_arg);
}

static void warn(struct run *r, const char *text)
{
  if(r->res->nwarnings < sizeof(r->res->warnings) / sizeof(r->res->warnings[0]))
    snprintf(r->res->warnings[r->res->nwarnings++], RB_FAILURE_LEN, "%s", text);
  emit(r, RB_EVENT_WARNING, 0, 0, text, NULL);
}

static void warn_line(const char *text, void *arg)
{
  warn(arg, text);
}

/* Wait for duration unless a stop is requested or the keeper died (the run ends
   then: see run_cycles); false when cut short. */
static bool wait_for(const struct run *r, int64_t duration)
{
  int64_t deadline = rb_clock_deadline(duration);

  while(rb_clock_now() < deadline) {
    if(stop_requested(r) || rb_target_lost(r->target, NULL, 0))
      return false;
    int64_t left = deadline - rb_clock_now();
    rb_clock_sleep(left < 20 * RB_NS_PER_MS ? left : 20 * RB_NS_PER_MS);
  }
  return !stop_requested(r);
}

/* ---- preparation ---------------------------------------------------------- */

static rb_err make_dir(const char *path, char *msg, size_t msglen)
{
  char tmp[PATH_MAX];

  snprintf(tmp, sizeof(tmp), "%s", path);
  for(char *p = tmp + 1; *p; p++)
    if(*p == '/') {
      *p = '\0';
      if(mkdir(tmp, 0755) && errno != EEXIST)
        return rb_fail(msg, msglen, RB_ERR_IO, "%s: %s", tmp, strerror(errno));
      *p = '/';
    }
  if(mkdir(tmp, 0755) && errno != EEXIST)
    return rb_fail(msg, msglen, RB_ERR_IO, "%s: %s", tmp, strerror(errno));
  return RB_OK;
}

/* Render config_template into the run folder as ${config}. */
static rb_err render_config(struct run *r, char *msg, size_t msglen)
{
  char *path = NULL, *text = NULL, *out = NULL, *base;
  FILE *f = NULL;
  long size;
  rb_err err = RB_OK;

  if(!r->sc->raw[RB_OPT_CONFIG_TEMPLATE])
    return RB_OK;
  if((err = rb_scenario_expand_key(r->sc, RB_OPT_CONFIG_TEMPLATE, &r->vars, &path, msg, msglen)))
    goto out;
  if(!(f = fopen(path, "rb")) || fseek(f, 0, SEEK_END) || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET)) {
    err = rb_fail(msg, msglen, RB_ERR_IO, "config_template %s: %s", path, strerror(errno));
    goto out;
  }
  if(!(text = calloc(1, (size_t)size + 1)) || fread(text, 1, (size_t)size, f) != (size_t)size) {
    err = rb_fail(msg, msglen, RB_ERR_IO, "config_template %s: cannot read", path);
    goto out;
  }
  fclose(f);
  f = NULL;
  base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
  {
    size_t n = strlen(base) > 3 && !strcmp(base + strlen(base) - 3, ".in") ? strlen(base) - 3 : strlen(base);

    if(strlen(r->run_dir) + 1 + n >= sizeof(r->config_path)) {
      err = rb_fail(msg, msglen, RB_ERR_IO, "config path too long in %s", r->run_dir);
      goto out;
    }
    memcpy(r->config_path, r->run_dir, strlen(r->run_dir));
    r->config_path[strlen(r->run_dir)] = '/';
    memcpy(r->config_path + strlen(r->run_dir) + 1, base, n);
    r->config_path[strlen(r->run_dir) + 1 + n] = '\0';
  }
  r->vars.config = r->config_path;
  if((err = rb_scenario_expand(r->sc, text, &r->vars, &out, msg, msglen)))
    goto out;
  if(!(f = fopen(r->config_path, "w")) || fputs(out, f) == EOF) {
    err = rb_fail(msg, msglen, RB_ERR_IO, "%s: %s", r->config_path, strerror(errno));
    goto out;
  }
out:
  if(f)
    fclose(f);
  free(path);
  free(text);
  free(out);
  return err;
}

static rb_err pick_ports(struct run *r, char *msg, size_t msglen)
{
  rb_err err = RB_OK;

  if(r->sc->port_auto && (err = rb_probe_free_port(&r->sc->port, msg, msglen)))
    return err;
  if(r->sc->http_port_auto)
    err = rb_probe_free_port(&r->sc->http_port, msg, msglen);
  return err;
}

/* Refuse to start when someone else LISTENs on a port of ours: exit 3, named. */
static rb_err preflight(struct run *r, uint16_t port, char *msg, size_t msglen)
{
  struct rb_port_snapshot snap;
  rb_err err;

  if(!port)
    return RB_OK;
  if((err = rb_sockdiag_snapshot(port, true, &snap, msg, msglen)))
    return err;
  /* The last look before the first spawn: a dead server's connections still on the
     port decide a failed first start (see first_start_failure). */
  if(port == r->sc->port)
    memcpy(r->res->states_before_start, snap.counts, sizeof(r->res->states_before_start));
  if(!snap.counts[RB_TCP_LISTEN])
    return RB_OK;
  if(snap.nowners)
    return rb_fail(msg, msglen, RB_ERR_PORT_BUSY, "port %u is already LISTENed by pid %d (%s), which rebound "
                   "did not start: stop it or choose another port", port, (int)snap.owners[0].pid,
                   snap.owners[0].cmdline);
  return rb_fail(msg, msglen, RB_ERR_PORT_BUSY, "port %u is already LISTENed by a process rebound did not "
                 "start (not visible to this user): stop it or choose another port", port);
}

/* flv_url / hls_url for each HTTP player; player i plays publisher i's stream (mod publishers). */
static rb_err expand_player_urls(struct run *r, enum rb_opt_id key, unsigned n, char ***out, char *msg,
                                 size_t msglen)
{
  rb_err err = RB_OK;

  if(!(*out = calloc(n ? n : 1, sizeof(**out))))
    return rb_fail(msg, msglen, RB_ERR_NOMEM, "out of memory");
  for(unsigned i = 0; i < n && !err; i++) {
    r->vars.client = (int)(i % r->sc->publishers);
    err = rb_scenario_expand_key(r->sc, key, &r->vars, &(*out)[i], msg, msglen);
  }
  r->vars.client = -1;
  return err;
}

static void free_player_urls(char **urls, unsigned n)
{
  for(unsigned i = 0; urls && i < n; i++)
    free(urls[i]);
  free(urls);
}

/* ---- network faults ------------------------------------------------------- */

static bool net_fault_at_fault(enum rb_netfault_kind k)
{
  return k == RB_NETFAULT_BLACKHOLE || k == RB_NETFAULT_RESET || k == RB_NETFAULT_PARTITION;
}

/* net_fault: the proxy in front of the server, shaping from the start; the clients'
   URL is the scenario's url with ${port} meaning the proxy's port. */
static rb_err start_proxy(struct run *r, char *msg, size_t msglen)
{
  const struct rb_netfault_spec *nf = &r->sc->net_fault;
  uint16_t real = r->sc->port;
  rb_err err;

  if(nf->kind == RB_NETFAULT_NONE)
    return RB_OK;
  if((err = rb_netfault_start(&r->proxy, r->host, real, msg, msglen)))
    return err;
  rb_netfault_shape(r->proxy, nf->kind == RB_NETFAULT_LATENCY ? nf->ns : 0,
                    nf->kind == RB_NETFAULT_BANDWIDTH ? nf->rate : 0);
  r->sc->port = rb_netfault_port(r->proxy);
  err = rb_scenario_expand_key(r->sc, RB_OPT_URL, &r->vars, &r->client_url, msg, msglen);
  r->sc->port = real;
  return err;
}

static struct rb_fleet_select net_select(const struct rb_scenario *sc)
{
  struct rb_fleet_select sel = { true, true, true, 0 };

  if(sc->net_clients == RB_NET_CLIENTS_PUBLISHERS)
    sel.players = sel.holders = false;
  else if(sc->net_clients == RB_NET_CLIENTS_PLAYERS)
    sel.publishers = sel.holders = false;
  else if(sc->net_clients == RB_NET_CLIENTS_COUNT) {
    sel.holders = false;
    sel.max = sc->net_clients_n;
  }
  return sel;
}

/* The fault moment of a net_fault: the proxy fails the selected clients'
   connections first, then (blackhole) the clients learn their network is gone, so
   nothing of theirs reaches the server. */
static void hit_network(struct run *r, struct rb_cycle_result *c)
{
  const struct rb_netfault_spec *nf = &r->sc->net_fault;
  struct rb_fleet_select sel = net_select(r->sc);
  size_t cap = (size_t)r->sc->publishers + r->sc->players + r->sc->holders + 1, n;
  uint16_t *ports;

  c->net = r->proxy != NULL;
  c->net_dropped_ms = -1;
  if(!r->proxy || !net_fault_at_fault(nf->kind))
    return;
  if(!(ports = calloc(cap, sizeof(*ports)))) {
    rb_cycle_add_failure(c, "out of memory for the network fault");
    return;
  }
  n = rb_fleet_client_ports(r->fleet, &sel, ports, cap);
  c->net_hit = n ? (unsigned)rb_netfault_apply(r->proxy, nf, ports, n) : 0;
  free(ports);
  if(nf->kind != RB_NETFAULT_PARTITION)
    rb_fleet_network_died(r->fleet, &sel, nf->kind == RB_NETFAULT_BLACKHOLE);
}

/* What the proxy saw the server do about the dead connections. */
static void record_network(struct run *r, struct rb_cycle_result *c)
{
  struct rb_netfault_stats st;

  if(!r->proxy)
    return;
  rb_netfault_stats(r->proxy, &st);
  c->net_server_dropped = st.server_dropped > 0;
  if(st.first_drop_at)
    c->net_dropped_ms = rb_clock_ms(c->fault_at_ns, st.first_drop_at);
}

/* fault = network failed: say what the server did with the dead session. */
static void diagnose_network(struct run *r, struct rb_cycle_result *c)
{
  struct rb_fleet_counts counts;
  struct rb_stale_evidence ev = { 0 };

  rb_fleet_counts(r->fleet, 0, &counts);
  ev.net_fault = rb_netfault_name(r->sc->net_fault.kind);
  ev.stream = counts.refused_stream[0] ? counts.refused_stream : NULL;
  ev.refusal = counts.refused_code;
  ev.refused_ms = rb_clock_ms(c->fault_at_ns, rb_clock_now());
  ev.accepted = !ev.stream;
  ev.server_dropped = c->net_server_dropped;
  ev.dropped_ms = c->net_dropped_ms;
  ev.why = counts.first_problem;
  if(ev.stream && ev.refused_ms > c->stale_ms)
    c->stale_ms = ev.refused_ms; /* still refused: the window so far */
  rb_diagnose_stale(&ev, c->diagnosis, sizeof(c->diagnosis));
}

static rb_err prepare(struct run *r, char *msg, size_t msglen)
{
  char *ready = NULL;
  rb_err err;

  if((err = pick_ports(r, msg, msglen)))
    return err;
  r->res->port = r->sc->port;
  if(!r->opts->artifacts_dir)
    return rb_fail(msg, msglen, RB_ERR_USAGE, "no folder for the artifacts");
  snprintf(r->run_dir, sizeof(r->run_dir), "%s/%s", r->opts->artifacts_dir, r->sc->name);
  if((err = make_dir(r->run_dir, msg, msglen)))
    return err;
  snprintf(r->res->artifacts, sizeof(r->res->artifacts), "%.*s", (int)sizeof(r->res->artifacts) - 1, r->run_dir);
  r->vars.run_dir = r->run_dir;
  r->vars.client = -1;
  if((err = rb_scenario_expand_key(r->sc, RB_OPT_URL, &r->vars, &r->url, msg, msglen)) ||
     (err = rb_scenario_expand_key(r->sc, RB_OPT_HOST, &r->vars, &r->host, msg, msglen)))
    return err;
  if(!(r->streams = calloc(r->sc->publishers ? r->sc->publishers : 1, sizeof(*r->streams))))
    return rb_fail(msg, msglen, RB_ERR_NOMEM, "out of memory");
  for(unsigned i = 0; i < r->sc->publishers; i++) {
    r->vars.client = (int)i;
    if((err = rb_scenario_expand_key(r->sc, RB_OPT_STREAM, &r->vars, &r->streams[i], msg, msglen)))
      return err;
  }
  r->vars.client = -1;
  if((err = expand_player_urls(r, RB_OPT_FLV_URL, r->sc->flv_players, &r->flv_urls, msg, msglen)) ||
     (err = expand_player_urls(r, RB_OPT_HLS_URL, r->sc->hls_players, &r->hls_urls, msg, msglen)))
    return err;
  if((err = rb_scenario_expand_key(r->sc, RB_OPT_READY, &r->vars, &ready, msg, msglen)))
    return err;
  if(!rb_ready_parse(ready, &r->ready_kind)) {
    err = rb_fail(msg, msglen, RB_ERR_SCENARIO, "ready: cannot use '%s'", ready);
    free(ready);
    return err;
  }
  if(r->ready_kind == RB_READY_HTTP)
    r->ready_http = ready;
  else
    free(ready);
  r->rng = r->sc->seed ? r->sc->seed : 1;
  r->external = !r->sc->raw[RB_OPT_COMMAND];
  if(r->external)
    return RB_OK; /* its port is supposed to be LISTENed already: by the server itself */
  if((err = preflight(r, r->sc->port, msg, msglen)) || (err = preflight(r, r->sc->http_port, msg, msglen)))
    return err;
  return start_proxy(r, msg, msglen);
}

/* ---- target --------------------------------------------------------------- */

static void log_path_for(const struct run *r, unsigned cycle, char *buf, size_t buflen)
{
  /* run_dir comes from a PATH_MAX buffer: a path that does not fit is dropped, not cut */
  if(snprintf(buf, buflen, "%s/server-%u.log", r->run_dir, cycle) >= (int)buflen)
    buf[0] = '\0';
}

/* Start generation `cycle` (0 = first start) with command or restart_command. */
static rb_err start_target(struct run *r, unsigned cycle, int64_t *spawned_at, char *msg, size_t msglen)
{
  char log[PATH_MAX], *command = NULL;
  rb_err err;

  r->vars.cycle = cycle;
  if((err = render_config(r, msg, msglen)))
    return err;
  if((err = rb_scenario_expand_key(r->sc, cycle ? RB_OPT_RESTART_COMMAND : RB_OPT_COMMAND, &r->vars, &command,
                                   msg, msglen)))
    return err;
  log_path_for(r, cycle, log, sizeof(log));
  r->log_cycle = cycle;
  *spawned_at = rb_clock_now();
  err = rb_target_start(r->target, command, log, NULL, msg, msglen);
  free(command);
  return err;
}

/* keep_going for probes: the generation still has a live process (a daemonising
   server's main process exits normally, so the main pid alone is not enough). */
static bool target_alive(void *arg)
{
  struct run *r = arg;
  pid_t pid;

  if(stop_requested(r))
    return false;
  return rb_target_list(r->target, &pid, 1) > 0;
}

static bool not_stopped(void *arg)
{
  return !stop_requested(arg);
}

static rb_err wait_ready(struct run *r, int64_t deadline, int64_t *ready_at, char *msg, size_t msglen)
{
  struct rb_ready ready = {
    .kind = r->ready_kind, .host = r->host, .port = r->sc->port,
    .url = r->url, .http_url = r->ready_http,
  };

  /* An external server is not ours to watch: only a stop request ends the wait early. */
  return rb_probe_wait(&ready, deadline, r->external ? not_stopped : target_alive, r, ready_at, msg, msglen);
}

/* An external server is not started, only waited for; exec faults log to server-0.log. */
static rb_err start_external(struct run *r, int64_t *spawned_at, char *msg, size_t msglen)
{
  char log[PATH_MAX];

  log_path_for(r, 0, log, sizeof(log));
  *spawned_at = rb_clock_now();
  return rb_target_set_log(r->target, log, msg, msglen);
}

/* The keeper died (someone SIGKILLed it): the target module has stopped the whole
   target; record it on the cycle and end the run as rebound's own failure. */
static bool keeper_lost(struct run *r, struct rb_cycle_result *c, char *msg, size_t msglen)
{
  char why[RB_TARGET_WHY_LEN];

  if(!rb_target_lost(r->target, why, sizeof(why)))
    return false;
  if(c) {
    rb_cycle_add_failure(c, "%s", why);
    snprintf(c->diagnosis, sizeof(c->diagnosis), "%s", why);
  }
  rb_fail(msg, msglen, RB_ERR_SYSTEM, "%s", why);
  return true;
}

/* A first start that failed for the server's own reason is the scenario's first
   cycle, failed, with the diagnosis (exit 1); see rb_judge_first_start. */
static struct rb_cycle_result *first_cycle_failure(struct run *r, const char *diagnosis)
{
  struct rb_cycle_result *c = &r->res->cycles[r->res->ncycles++];

  rb_cycle_result_begin(c, 1);
  c->fault = r->sc->fault;
  c->pass = false;
  snprintf(c->diagnosis, sizeof(c->diagnosis), "%s", diagnosis);
  log_path_for(r, 0, c->log_path, sizeof(c->log_path));
  rb_target_log_tail(c->log_path, LOG_TAIL_LINES, c->log_tail, sizeof(c->log_tail));
  return c;
}

/* What the port and the target showed when the first start failed. */
static void first_start_evidence(struct run *r, int64_t spawned_at, const char *tail,
                                 struct rb_first_start_evidence *ev)
{
  struct rb_port_snapshot snap;
  struct rb_target_exit ex;
  pid_t current[256];
  size_t ncurrent = rb_target_list(r->target, current, 256);

  memset(ev, 0, sizeof(*ev));
  ev->port = r->sc->port;
  ev->waited_ms = rb_clock_ms(spawned_at, rb_clock_now());
  memcpy(ev->states_before, r->res->states_before_start, sizeof(ev->states_before));
  rb_target_poll_exit(r->target, &ex); /* settled by the caller: see await_exit_report */
  ev->exited = !ncurrent;
  ev->status = ex.status;
  ev->log_tail = tail;
  if(rb_sockdiag_snapshot(r->sc->port, true, &snap, NULL, 0))
    return;
  memcpy(ev->states_at_failure, snap.counts, sizeof(ev->states_at_failure));
  for(size_t i = 0; i < snap.nowners; i++) {
    bool ours = false;

    for(size_t k = 0; k < ncurrent; k++)
      ours |= current[k] == snap.owners[i].pid;
    if(!ours && !ev->nforeign++) {
      ev->foreign_pid = snap.owners[i].pid;
      snprintf(ev->foreign_cmdline, sizeof(ev->foreign_cmdline), "%s", snap.owners[i].cmdline);
    }
  }
}

/* The keeper reports the main process's exit over its socket, a moment after /proc
   shows it gone, and only once its output is in the log: when it has ended, wait
   (bounded) for that report, so that the log tail holds its last words and the
   message says how it ended rather than "still running". */
static void await_exit_report(struct run *r, struct rb_target_exit *ex)
{
  rb_target_settle(r->target, EXIT_REPORT_WAIT_NS);
  rb_target_poll_exit(r->target, ex);
}

/* The first start did not become ready: the server's bug (a failed first cycle,
   RB_OK) or the environment's (RB_ERR_SPAWN / RB_ERR_PORT_BUSY with msg). */
static rb_err first_start_failure(struct run *r, int64_t spawned_at, const char *why, char *msg, size_t msglen)
{
  char tail[RB_LOG_TAIL_LEN], log[PATH_MAX], status[96] = "is still running", sentence[RB_DIAGNOSIS_LEN];
  struct rb_first_start_evidence ev;
  struct rb_target_exit ex;
  enum rb_verdict verdict = RB_VERDICT_ERROR;

  memset(&ev, 0, sizeof(ev));
  if(keeper_lost(r, NULL, msg, msglen))
    return RB_ERR_SYSTEM;
  await_exit_report(r, &ex); /* before the log is read: see there */
  log_path_for(r, 0, log, sizeof(log));
  rb_target_log_tail(log, LOG_TAIL_LINES, tail, sizeof(tail));
  if(!r->external) {
    first_start_evidence(r, spawned_at, tail, &ev);
    verdict = rb_judge_first_start(&ev, sentence, sizeof(sentence));
  }
  if(verdict == RB_VERDICT_FAIL) {
    struct rb_cycle_result *c = first_cycle_failure(r, sentence);

    memcpy(c->states_at_restart, r->res->states_before_start, sizeof(c->states_at_restart));
    rb_cycle_add_failure(c, "the first start did not become ready on port %u (%s)", r->sc->port, why);
    emit(r, RB_EVENT_CYCLE_END, 1, 0, NULL, c);
    return RB_OK;
  }
  if(ev.nforeign)
    return rb_fail(msg, msglen, RB_ERR_PORT_BUSY, "%s", sentence);
  if(ex.exited)
    rb_target_describe_status(ex.status, status, sizeof(status));
  else if(!target_alive(r))
    snprintf(status, sizeof(status), "has no process left");
  return rb_fail(msg, msglen, RB_ERR_SPAWN, "the target did not become ready on port %u (%s; it %s)%s%s",
                 r->sc->port, why, status, tail[0] ? "; last log lines:\n" : "", tail);
}

/* ---- one cycle ------------------------------------------------------------ */

/* Classify LISTEN owners of the port into new generation / survivor / foreign. */
static void collect_owners(struct run *r, const struct rb_port_snapshot *snap, struct rb_rebind_evidence *ev,
                           bool *new_listens, bool *survivor_listens)
{
  pid_t current[256];
  size_t ncurrent = rb_target_list(r->target, current, 256);

  *new_listens = *survivor_listens = false;
  ev->nowners = snap->nowners;
  for(size_t i = 0; i < snap->nowners; i++) {
    bool in_current = false;

    ev->owner_pids[i] = snap->owners[i].pid;
    snprintf(ev->owner_cmdlines[i], sizeof(ev->owner_cmdlines[i]), "%s", snap->owners[i].cmdline);
    ev->owner_is_survivor[i] = rb_target_is_survivor(r->target, snap->owners[i].pid);
    for(size_t k = 0; k < ncurrent; k++)
      in_current |= current[k] == snap->owners[i].pid;
    *new_listens |= in_current;
    *survivor_listens |= ev->owner_is_survivor[i];
  }
}

/* Poll until the new generation LISTENs on the port. Fills ev on the way. */
static bool wait_rebind(struct run *r, int64_t deadline, int64_t *listen_at, struct rb_rebind_evidence *ev,
                        bool *shared_with_survivor)
{
  int64_t delay = POLL_MIN_NS;
  struct rb_port_snapshot snap;
  struct rb_target_exit ex;

  *shared_with_survivor = false;
  for(;;) {
    if(rb_sockdiag_is_listening(r->sc->port)) {
      int64_t seen = rb_clock_now();
      bool new_listens, survivor_listens;

      /* Clients backing off retry now rather than at the end of their backoff
         (the owner check below takes a while; a wrong owner fails the cycle anyway). */
      rb_fleet_kick(r->fleet);
      /* The common case, cheaply: the new main process holds every LISTEN socket. */
      if(rb_sockdiag_listen_all_held_by(r->sc->port, rb_target_main_pid(r->target))) {
        *listen_at = seen;
        return true;
      }

      if(rb_sockdiag_snapshot(r->sc->port, true, &snap, NULL, 0) == RB_OK) {
        collect_owners(r, &snap, ev, &new_listens, &survivor_listens);
        /* Owners we cannot see (another user's process) are given the benefit of the doubt. */
        if(new_listens || (!snap.nowners && snap.counts[RB_TCP_LISTEN])) {
          *listen_at = seen;
          *shared_with_survivor = survivor_listens;
          return true;
        }
      }
    }
    rb_target_poll_exit(r->target, &ex);
    if(ex.exited && !target_alive(r)) {
      ev->new_exited = true;
      ev->new_status = ex.status;
      return false;
    }
    if(rb_clock_now() >= deadline || stop_requested(r))
      return false;
    rb_clock_sleep(delay);
    delay = delay * 2 > POLL_MAX_NS ? POLL_MAX_NS : delay * 2;
  }
}

static struct rb_fault make_fault(struct run *r, char **exec_cmd)
{
  struct rb_fault f = {
    .kind = r->sc->fault, .grace_ns = r->sc->grace_ns, .hang_for_ns = r->sc->hang_for_ns,
    .timeout_ns = r->sc->grace_ns + r->sc->hang_for_ns + FAULT_SLACK_NS, .reload_signal = r->sc->reload_signal,
  };

  *exec_cmd = NULL;
  if(f.kind == RB_FAULT_EXEC && rb_scenario_expand(r->sc, r->sc->fault_exec, &r->vars, exec_cmd, NULL, 0) == RB_OK)
    f.exec_command = *exec_cmd;
  return f;
}

/* Bring the clients into the state fault_at asks for. */
static void arrange_fault_moment(struct run *r, struct rb_cycle_result *c)
{
  enum rb_fault_at at = r->sc->fault_at;
  char why[RB_FAILURE_LEN];

  if(at == RB_FAULT_AT_RANDOM)
    at = (enum rb_fault_at)(rb_random_next(&r->rng) % 3);
  rb_fleet_set_paused(r->fleet, at == RB_FAULT_AT_IDLE);
  if(at == RB_FAULT_AT_HANDSHAKE &&
     rb_fleet_open_handshakes(r->fleet, r->sc->publishers ? r->sc->publishers : 1,
                              rb_clock_deadline(STEP_TIMEOUT_NS), why, sizeof(why)))
    rb_cycle_add_failure(c, "could not open the mid-handshake connections before the fault: %s", why);
}



/* The arrival curve: when each client (up in a session begun at or after since) came
   back, in ms after t0; a client that never went down counts at 0. */
static void record_arrivals(struct run *r, struct rb_cycle_result *c, int64_t t0, int64_t since)
{
  size_t n = r->sc->publishers + r->sc->players;
  double *ms = malloc((n ? n : 1) * sizeof(*ms)), shift = rb_clock_ms(since, t0);

  if(!ms)
    return;
  n = rb_fleet_arrivals(r->fleet, since, ms, n);
  for(size_t i = 0; i < n; i++)
    ms[i] = ms[i] > shift ? ms[i] - shift : 0;
  rb_cycle_set_arrivals(c, ms, n);
  free(ms);
}

/* Wait for every client to be up in a session begun at or after since, by deadline,
   then let judge say what the counters mean; reconnect_ms counts from t0 (the
   restart, or the reload). */
static void judge_reconnect(struct run *r, struct rb_cycle_result *c, int64_t t0, int64_t since, int64_t deadline)
{
  struct rb_reconnect_evidence ev = { .restart_at = t0, .window_ms = rb_clock_ms(t0, deadline) };
  int64_t all_up_at = 0;
  char why[RB_FAILURE_LEN] = "";

  rb_fleet_set_paused(r->fleet, false);
  ev.wait_err = rb_fleet_wait_up(r->fleet, since, deadline, r->opts->stop, &all_up_at, why, sizeof(why));
  ev.why = why;
  ev.profile = r->sc->reconnect.kind == RB_BACKOFF_REBOUND ? NULL : r->sc->raw[RB_OPT_RECONNECT];
  if(!ev.wait_err)
    ev.reconnect_ms = all_up_at > t0 ? rb_clock_ms(t0, all_up_at) : 0;
  rb_fleet_counts(r->fleet, since, &ev.counts);
  rb_judge_reconnect(&ev, c);
  record_arrivals(r, c, t0, since);
  if(!ev.wait_err)
    emit(r, RB_EVENT_RECONNECT, c->index, c->reconnect_ms, NULL, c);
}

/* stat_url: the server's own stats page must show every publisher's stream. */
static void check_stats(struct run *r, struct rb_cycle_result *c)
{
  char *url = NULL, *body = NULL, *expect = NULL, why[RB_FAILURE_LEN];
  long status;

  if(!r->sc->raw[RB_OPT_STAT_URL])
    return;
  r->vars.client = -1;
  if(rb_scenario_expand_key(r->sc, RB_OPT_STAT_URL, &r->vars, &url, why, sizeof(why)) ||
     rb_http_get(url, rb_clock_deadline(STEP_TIMEOUT_NS), &body, &status, why, sizeof(why))) {
    rb_cycle_add_failure(c, "stat_url: %s", why);
    goto out;
  }
  if(status < 200 || status > 299) {
    rb_cycle_add_failure(c, "stat_url %s answered HTTP %ld", url, status);
    goto out;
  }
  for(unsigned i = 0; i < r->sc->publishers; i++) {
    r->vars.client = (int)i;
    free(expect);
    expect = NULL;
    if(rb_scenario_expand_key(r->sc, RB_OPT_STAT_EXPECT, &r->vars, &expect, why, sizeof(why)) ||
       !strstr(body, expect)) {
      rb_cycle_add_failure(c, "stat_url %s does not show '%s' after the reconnect", url, expect ? expect : why);
      break;
    }
  }
out:
  r->vars.client = -1;
  free(url);
  free(body);
  free(expect);
}

static void record_rebind_failure(struct run *r, struct rb_cycle_result *c, struct rb_rebind_evidence *ev,
                                  int64_t restart_at)
{
  ev->port = r->sc->port;
  ev->waited_ms = rb_clock_ms(restart_at, rb_clock_now());
  memcpy(ev->states_at_restart, c->states_at_restart, sizeof(c->states_at_restart));
  rb_target_log_tail(c->log_path, LOG_TAIL_LINES, c->log_tail, sizeof(c->log_tail));
  ev->log_tail = c->log_tail;
  rb_diagnose_rebind(ev, c->diagnosis, sizeof(c->diagnosis));
  rb_cycle_add_failure(c, "port %u not rebound within %.0f ms: %s", r->sc->port,
                       (double)r->sc->rebind_timeout_ns / RB_NS_PER_MS, c->diagnosis);
}

/* Artifacts: the socket table of the port at restart, one file per cycle. */
static void save_snapshot(const struct run *r, unsigned cycle, const struct rb_port_snapshot *snap)
{
  char path[PATH_MAX + 32], states[256];
  FILE *f;

  if(snprintf(path, sizeof(path), "%s/sockets-%u.txt", r->run_dir, cycle) >= (int)sizeof(path) ||
     !(f = fopen(path, "w")))
    return;
  rb_sockdiag_format_counts(snap, states, sizeof(states));
  fprintf(f, "port %u at restart of cycle %u: %s\n", snap->port, cycle, states);
  for(size_t i = 0; i < snap->nowners; i++)
    fprintf(f, "LISTEN owner: pid %d %s\n", (int)snap->owners[i].pid, snap->owners[i].cmdline);
  fclose(f);
}

/* The rebind has been judged: holders may go now, sending nothing; then every client
   must come back, and the server's own stats must agree. */
static void after_rebind(struct run *r, struct rb_cycle_result *c, int64_t restart_at)
{
  rb_fleet_release_holders(r->fleet);
  rb_fleet_close_handshakes(r->fleet);
  judge_reconnect(r, c, restart_at, restart_at, restart_at + r->sc->reconnect_timeout_ns);
  if(c->reconnect_ms >= 0)
    check_stats(r, c);
}

/* fault = network: the server is not touched. The hit clients reconnect on fresh
   connections through the proxy; the cycle is judged from the fault on (after a
   partition, from its end: what survived it must still be up). */
static void run_network_cycle(struct run *r, struct rb_cycle_result *c)
{
  int64_t origin = c->fault_at_ns;

  if(r->sc->net_fault.kind == RB_NETFAULT_PARTITION) {
    if(!wait_for(r, origin + r->sc->net_fault.ns - rb_clock_now()))
      return;
    origin = rb_clock_now();
  }
  c->restart_at_ns = origin;
  rb_fleet_release_holders(r->fleet);
  rb_fleet_close_handshakes(r->fleet);
  judge_reconnect(r, c, origin, 0, origin + r->sc->reconnect_timeout_ns);
  record_network(r, c);
  if(c->reconnect_ms < 0 && !stop_requested(r))
    diagnose_network(r, c);
  else if(c->reconnect_ms >= 0)
    check_stats(r, c);
}

/* An external server: the exec fault has run; run restart_command if there is one,
   then judge the rebind by the ready probe. restart = the restart command's start,
   or the fault's when the fault command restarts the server itself (systemctl restart). */
static bool run_external_restart(struct run *r, struct rb_cycle_result *c, int64_t fault_at)
{
  char *restart = NULL, why[RB_FAILURE_LEN];
  int64_t restart_at = fault_at, ready_at;
  rb_err err;

  r->vars.cycle = c->index;
  if(rb_scenario_expand_key(r->sc, RB_OPT_RESTART_COMMAND, &r->vars, &restart, why, sizeof(why))) {
    rb_cycle_add_failure(c, "restart_command: %s", why);
    return false;
  }
  if(restart[0]) {
    char log[PATH_MAX];

    log_path_for(r, 0, log, sizeof(log));
    restart_at = rb_clock_now();
    if((err = rb_run_command(restart, log, r->sc->rebind_timeout_ns, why, sizeof(why))))
      rb_cycle_add_failure(c, "restart_command failed: %s", why);
  }
  free(restart);
  c->restart_at_ns = restart_at;
  emit(r, RB_EVENT_RESTART, c->index, 0, NULL, c);
  err = wait_ready(r, restart_at + r->sc->rebind_timeout_ns, &ready_at, why, sizeof(why));
  if(err) {
    if(!stop_requested(r)) {
      snprintf(c->diagnosis, sizeof(c->diagnosis), "the server was not ready (%s) within %.0f ms of the restart: %s",
               r->sc->raw[RB_OPT_READY], (double)r->sc->rebind_timeout_ns / RB_NS_PER_MS, why);
      rb_cycle_add_failure(c, "%s", c->diagnosis);
    }
    return false;
  }
  c->rebind_ms = c->ready_ms = rb_clock_ms(restart_at, ready_at);
  c->rebind_at_ns = ready_at;
  rb_fleet_kick(r->fleet);
  emit(r, RB_EVENT_REBIND, c->index, c->rebind_ms, NULL, c);
  after_rebind(r, c, restart_at);
  return true;
}

/* ---- reload --------------------------------------------------------------- */

/* What the engine watches while a reload runs. */
struct reload_watch {
  pid_t main;
  pid_t old[RB_RELOAD_MAX_OLD];   /* the tree's processes but the main one, at the reload */
  char old_cmdlines[RB_RELOAD_MAX_OLD][160];
  size_t nold;
  int64_t gap_from;               /* the port stopped LISTENing at (0: it listens) */
  int64_t longest_gap;
  bool new_process;               /* a process that was not there at the reload (a new worker) */
};

static bool pid_in(const pid_t *pids, size_t n, pid_t pid)
{
  for(size_t i = 0; i < n; i++)
    if(pids[i] == pid)
      return true;
  return false;
}

/* One look at the port and the tree; returns how many old workers are still alive. */
static size_t watch_once(struct run *r, struct reload_watch *w)
{
  pid_t now[256];
  size_t n = rb_target_list(r->target, now, 256), alive = 0;
  int64_t t = rb_clock_now();

  if(rb_sockdiag_is_listening(r->sc->port)) {
    if(w->gap_from && t - w->gap_from > w->longest_gap)
      w->longest_gap = t - w->gap_from;
    w->gap_from = 0;
  }
  else if(!w->gap_from)
    w->gap_from = t;
  for(size_t i = 0; i < n; i++)
    if(now[i] != w->main && !pid_in(w->old, w->nold, now[i]))
      w->new_process = true;
  for(size_t i = 0; i < w->nold; i++)
    alive += pid_in(now, n, w->old[i]);
  return alive;
}

/* "New clients are served while old ones drain": a fresh client publishes a stream
   of its own, once the reload has visibly happened (a new process) or after a
   moment for servers that reload in place. NULL when it could. */
static const char *new_client_check(struct run *r, unsigned cycle, char *why, size_t whylen)
{
  struct rb_client_opts o = { .url = r->url, .step_timeout_ns = STEP_TIMEOUT_NS };
  struct rb_client *c = NULL;
  char stream[64];
  rb_err err;

  snprintf(stream, sizeof(stream), "rebound-reload-%u", cycle);
  if(!(err = rb_client_create(&c, &o, why, whylen)) && !(err = rb_client_connect(c, why, whylen)))
    err = rb_client_publish(c, stream, why, whylen);
  rb_client_destroy(c);
  return err ? why : NULL;
}

/* Send the reload: reload_command, or reload_signal to the main process. */
static rb_err send_reload(struct run *r, const struct rb_fault *fault, char *why, size_t whylen)
{
  char *cmd = NULL, log[PATH_MAX];
  rb_err err;

  r->vars.cycle = r->log_cycle;
  if((err = render_config(r, why, whylen)))
    return err;
  if(!r->sc->raw[RB_OPT_RELOAD_COMMAND])
    return rb_target_fault(r->target, fault, why, whylen);
  if((err = rb_scenario_expand_key(r->sc, RB_OPT_RELOAD_COMMAND, &r->vars, &cmd, why, whylen)))
    return err;
  log_path_for(r, r->log_cycle, log, sizeof(log));
  err = rb_run_command(cmd, log, r->sc->reload_timeout_ns, why, whylen);
  free(cmd);
  return err;
}

/* Watch until the old workers are gone and a new client was served, or reload_timeout. */
static void watch_reload(struct run *r, struct rb_cycle_result *c, struct reload_watch *w,
                         struct rb_reload_evidence *ev, char *client_why, size_t whylen)
{
  int64_t reload_at = c->fault_at_ns, deadline = reload_at + r->sc->reload_timeout_ns, delay = POLL_MIN_NS;
  bool checked = false;
  struct rb_target_exit ex;

  for(;;) {
    size_t alive = watch_once(r, w);

    rb_target_poll_exit(r->target, &ex);
    if(ex.exited) {
      ev->main_exited = true;
      ev->main_status = ex.status;
      return;
    }
    if(!alive && c->drain_ms < 0)
      c->drain_ms = rb_clock_ms(reload_at, rb_clock_now());
    if(!checked && (w->new_process || !w->nold || rb_clock_now() - reload_at >= 500 * RB_NS_PER_MS)) {
      ev->new_client_error = new_client_check(r, c->index, client_why, whylen);
      checked = true;
      continue; /* that took a while: look again before deciding */
    }
    if((checked && !alive) || stop_requested(r))
      return;
    if(rb_clock_now() >= deadline)
      break;
    rb_clock_sleep(delay);
    delay = delay * 2 > POLL_MAX_NS ? POLL_MAX_NS : delay * 2;
  }
  {
    pid_t now[256];
    size_t n = rb_target_list(r->target, now, 256);

    for(size_t i = 0; i < w->nold && ev->nstuck < RB_RELOAD_MAX_OLD; i++)
      if(pid_in(now, n, w->old[i])) {
        ev->stuck_pids[ev->nstuck] = w->old[i];
        rb_proc_cmdline(w->old[i], ev->stuck_cmdlines[ev->nstuck], sizeof(ev->stuck_cmdlines[0]));
        ev->nstuck++;
      }
  }
  ev->stuck_age_ms = rb_clock_ms(reload_at, rb_clock_now());
}

/* fault = reload: the server stays up. It must keep LISTENing throughout, serve a new
   client while the old workers drain, let every old worker exit within
   reload_timeout, and have every client of the fleet up again (still on, or back)
   within reconnect_timeout after that. False when the server ended on the reload. */
static bool run_reload(struct run *r, struct rb_cycle_result *c, const struct rb_fault *fault)
{
  struct reload_watch w = { .main = rb_target_main_pid(r->target) };
  struct rb_reload_evidence ev = { .port = r->sc->port,
                                   .reload_timeout_ms = (double)r->sc->reload_timeout_ns / RB_NS_PER_MS };
  char why[RB_FAILURE_LEN], client_why[RB_FAILURE_LEN];
  pid_t tree[256];
  size_t n = rb_target_list(r->target, tree, 256);
  int64_t settled;

  c->drain_ms = -1;
  for(size_t i = 0; i < n && w.nold < RB_RELOAD_MAX_OLD; i++)
    if(tree[i] != w.main)
      w.old[w.nold++] = tree[i];
  c->restart_at_ns = c->fault_at_ns;
  log_path_for(r, r->log_cycle, c->log_path, sizeof(c->log_path));
  if(send_reload(r, fault, why, sizeof(why)))
    ev.command_error = why;
  else
    watch_reload(r, c, &w, &ev, client_why, sizeof(client_why));
  c->fault_done_at_ns = rb_clock_now();
  if(w.gap_from) /* still not listening at the end */
    w.longest_gap = c->fault_done_at_ns - w.gap_from > w.longest_gap ? c->fault_done_at_ns - w.gap_from
                                                                       : w.longest_gap;
  ev.not_listening_ms = (double)w.longest_gap / RB_NS_PER_MS;
  c->rebind_ms = c->ready_ms = ev.not_listening_ms; /* how long the port was gone: 0 for a good reload */
  rb_target_log_tail(c->log_path, LOG_TAIL_LINES, c->log_tail, sizeof(c->log_tail));
  ev.log_tail = c->log_tail;
  rb_diagnose_reload(&ev, c->diagnosis, sizeof(c->diagnosis));
  if(c->diagnosis[0])
    rb_cycle_add_failure(c, "reload: %s", c->diagnosis);
  if(stop_requested(r) || ev.main_exited || ev.command_error)
    return !ev.main_exited;
  emit(r, RB_EVENT_REBIND, c->index, c->rebind_ms, NULL, c);
  /* Clients of a worker that just exited may not have noticed yet: let them, so
     that the wait below counts only clients that are really connected. */
  rb_fleet_release_holders(r->fleet);
  settled = rb_clock_now();
  while(rb_fleet_count_hung_up(r->fleet) && rb_clock_now() < settled + r->sc->reconnect_timeout_ns &&
        !stop_requested(r))
    rb_clock_sleep(POLL_MAX_NS);
  judge_reconnect(r, c, c->fault_at_ns, 0, settled + r->sc->reconnect_timeout_ns);
  if(c->reconnect_ms >= 0)
    check_stats(r, c); /* after a reload as after a restart: the server's own page must agree */
  if(ev.nstuck) /* a worker that never drains must not outlive its cycle */
    rb_target_kill_pids(r->target, ev.stuck_pids, ev.nstuck, CLEANUP_NS, NULL, 0);
  return true;
}

/* A network fault needs its clients connected to hit them: after a cycle whose
   server kept refusing, they may still be on their way back. */
static bool clients_up_before_fault(struct run *r, struct rb_cycle_result *c)
{
  char why[RB_FAILURE_LEN];
  int64_t all_up_at;
  rb_err err = rb_fleet_wait_up(r->fleet, 0, rb_clock_deadline(r->sc->reconnect_timeout_ns), r->opts->stop,
                                &all_up_at, why, sizeof(why));

  if(err && err != RB_ERR_INTERRUPTED)
    rb_cycle_add_failure(c, "clients were not all up before the network fault: %s", why);
  return !err;
}

/* One cycle; false when the scenario cannot go on (no server to fault next). */
static bool run_cycle(struct run *r, struct rb_cycle_result *c)
{
  struct rb_rebind_evidence ev;
  struct rb_port_snapshot snap;
  struct rb_fault fault;
  char why[RB_FAILURE_LEN], *exec_cmd = NULL;
  int64_t restart_at, listen_at, ready_at, fault_at;
  bool rebound, shared = false, go_on = true;
  rb_err err;

  int64_t cycle_start = rb_clock_now();

  rb_cycle_result_begin(c, c->index);
  c->start_at_ns = cycle_start;
  memset(&ev, 0, sizeof(ev));
  c->fault = r->sc->fault;
  rb_fleet_reset_cycle(r->fleet);
  /* Holders are clients like the others: a loaded server gets the reconnect window to
     accept them all, not one step's worth (1000 holders need more than 5 s there). */
  if(r->sc->holders && (err = rb_fleet_connect_holders(r->fleet, rb_clock_deadline(r->sc->reconnect_timeout_ns), why,
                                                      sizeof(why))))
    rb_cycle_add_failure(c, "holders could not connect before the fault: %s", why);
  c->holders = r->sc->holders;
  if(!wait_for(r, r->sc->publish_for_ns))
    goto out;
  if(r->sc->fault == RB_FAULT_NETWORK && !clients_up_before_fault(r, c))
    goto out;
  arrange_fault_moment(r, c);
  {
    pid_t pids[256];

    (void)rb_target_list(r->target, pids, 256); /* let the target module learn every pid of the tree */
  }
  fault = make_fault(r, &exec_cmd);
  emit(r, RB_EVENT_FAULT, c->index, 0, rb_fault_name(fault.kind), c);
  fault_at = c->fault_at_ns = rb_clock_now();
  hit_network(r, c);
  if(r->sc->fault == RB_FAULT_NETWORK) {
    free(exec_cmd);
    c->fault_done_at_ns = rb_clock_now();
    run_network_cycle(r, c);
    goto out;
  }
  if(fault.kind == RB_FAULT_RELOAD) {
    free(exec_cmd);
    go_on = run_reload(r, c, &fault);
    goto out;
  }
  if(r->external) {
    char log[PATH_MAX];

    log_path_for(r, 0, log, sizeof(log));
    err = rb_run_command(fault.exec_command ? fault.exec_command : "false", log, fault.timeout_ns, why, sizeof(why));
  }
  else
    err = rb_target_fault(r->target, &fault, why, sizeof(why));
  c->fault_done_at_ns = rb_clock_now();
  if(err)
    rb_cycle_add_failure(c, "fault %s did not complete: %s", rb_fault_name(fault.kind), why);
  free(exec_cmd);
  if(rb_sockdiag_snapshot(r->sc->port, false, &snap, NULL, 0) == RB_OK) {
    memcpy(c->states_at_restart, snap.counts, sizeof(c->states_at_restart));
    save_snapshot(r, c->index, &snap);
  }
  if(r->external) {
    go_on = run_external_restart(r, c, fault_at);
    goto out;
  }
  if((err = start_target(r, c->index, &restart_at, why, sizeof(why)))) {
    rb_cycle_add_failure(c, "restart failed: %s", why);
    go_on = false;
    goto out;
  }
  log_path_for(r, c->index, c->log_path, sizeof(c->log_path));
  c->restart_at_ns = restart_at;
  emit(r, RB_EVENT_RESTART, c->index, 0, NULL, c);
  rebound = wait_rebind(r, restart_at + r->sc->rebind_timeout_ns, &listen_at, &ev, &shared);
  if(stop_requested(r))
    goto out;
  if(!rebound || shared) {
    record_rebind_failure(r, c, &ev, restart_at);
    go_on = rebound;
    if(!rebound)
      goto out;
  }
  c->rebind_ms = rb_clock_ms(restart_at, listen_at);
  c->rebind_at_ns = listen_at;
  emit(r, RB_EVENT_REBIND, c->index, c->rebind_ms, NULL, c);
  c->ready_ms = c->rebind_ms;
  if(r->ready_kind != RB_READY_LISTEN) {
    err = wait_ready(r, restart_at + r->sc->rebind_timeout_ns, &ready_at, why, sizeof(why));
    if(err)
      rb_cycle_add_failure(c, "not ready (%s) after the restart: %s", r->sc->raw[RB_OPT_READY], why);
    else
      c->ready_ms = rb_clock_ms(restart_at, ready_at);
  }
  after_rebind(r, c, restart_at);
out:
  rb_fleet_release_holders(r->fleet);
  rb_fleet_close_handshakes(r->fleet);
  rb_fleet_set_paused(r->fleet, false);
  if(r->proxy)
    rb_netfault_cleanup(r->proxy); /* dead connections go now: the next cycle starts clean */
  /* No process of an earlier generation may outlive its cycle. */
  rb_target_kill_survivors(r->target, CLEANUP_NS, NULL, 0);
  if(!c->pass && !c->log_tail[0] && c->log_path[0])
    rb_target_log_tail(c->log_path, LOG_TAIL_LINES, c->log_tail, sizeof(c->log_tail));
  c->duration_ms = rb_clock_ms(cycle_start, rb_clock_now());
  return go_on;
}

/* ---- scenario ------------------------------------------------------------- */

/* No single client step may outlast half the reconnect window: a client stuck on a
   silent server must fail with its reason ("handshake timed out") while the window
   is still open, so the verdict can say why, not just "not up yet". */
static int64_t step_timeout(const struct rb_scenario *sc)
{
  int64_t half = sc->reconnect_timeout_ns / 2;

  return half > 0 && half < STEP_TIMEOUT_NS ? half : STEP_TIMEOUT_NS;
}

static rb_err start_clients(struct run *r, char *msg, size_t msglen)
{
  struct rb_fleet_opts fo = {
    .url = r->client_url ? r->client_url : r->url, .streams = r->streams, .publishers = r->sc->publishers, .players = r->sc->players,
    .holders = r->sc->holders, .step_timeout_ns = step_timeout(r->sc), .host = r->host,
    .port = r->sc->port, .reconnect = r->sc->reconnect, .seed = r->sc->seed,
    .keep_chunk_size = r->sc->keep_across_reconnect == RB_KEEP_CHUNK_SIZE,
    .flv_players = r->sc->flv_players, .hls_players = r->sc->hls_players,
    .flv_urls = r->flv_urls, .hls_urls = r->hls_urls,
  };
  char *media = NULL;
  rb_err err;

  if(r->sc->raw[RB_OPT_MEDIA] && (err = rb_scenario_expand_key(r->sc, RB_OPT_MEDIA, &r->vars, &media, msg, msglen)))
    return err;
  fo.media_path = media;
  err = rb_fleet_create(&r->fleet, &fo, msg, msglen);
  free(media);
  if(err)
    return err == RB_ERR_NOMEM ? err : RB_ERR_SCENARIO;
  return rb_fleet_start(r->fleet, msg, msglen);
}

/* Clients could not come up after the first start: that is the target's failure
   (e.g. every publish rejected), recorded as a failed first cycle. */
static void first_clients_failure(struct run *r, rb_err err, const char *why)
{
  char diagnosis[RB_DIAGNOSIS_LEN];
  struct rb_cycle_result *c;

  snprintf(diagnosis, sizeof(diagnosis), "%s: %s", err == RB_ERR_REJECTED ?
           "the server refused the clients before any fault" :
           "the server started but the clients could not publish/play on it", why);
  c = first_cycle_failure(r, diagnosis);
  rb_cycle_add_failure(c, "clients could not publish/play after the first start: %s", why);
  emit(r, RB_EVENT_CYCLE_END, 1, 0, NULL, c);
}

/* A real encoder's profile does not retry when the port is back: its clients come back
   on their schedule, so a window that holds fewer than two of its retries judges the
   profile's first delay, not the server. Said once, when it mattered (a cycle failed). */
static void warn_short_window(struct run *r)
{
  int64_t two = rb_backoff_worst_wait(&r->sc->reconnect, 2);
  char text[RB_FAILURE_LEN];
  bool failed = false;

  for(size_t i = 0; i < r->res->ncycles; i++)
    failed |= !r->res->cycles[i].pass;
  if(rb_backoff_follows_kick(&r->sc->reconnect) || !failed || r->sc->reconnect_timeout_ns >= two)
    return;
  snprintf(text, sizeof(text), "reconnect_timeout %.0f ms holds fewer than two retries of reconnect = %s "
           "(%.0f ms): raise reconnect_timeout to judge the server rather than the profile's delays",
           (double)r->sc->reconnect_timeout_ns / RB_NS_PER_MS, r->sc->raw[RB_OPT_RECONNECT],
           (double)two / RB_NS_PER_MS);
  warn(r, text);
}

static void finish(struct run *r)
{
  struct rb_judge_rules rules = {
    .max_rebind_ms = (double)r->sc->max_rebind_ns / RB_NS_PER_MS,
    .max_reconnect_ms = (double)r->sc->max_reconnect_ns / RB_NS_PER_MS,
    /* a network fault kills nothing and a reload leaves no socket behind: no restart to leave FIN_WAIT2 */
    .holders = r->sc->holders > 0 && r->sc->fault != RB_FAULT_NETWORK && r->sc->fault != RB_FAULT_RELOAD,
  };
  size_t before = r->res->nwarnings;

  rb_judge_scenario(&rules, r->res);
  for(size_t i = before; i < r->res->nwarnings; i++)
    emit(r, RB_EVENT_WARNING, 0, 0, r->res->warnings[i], NULL);
  warn_short_window(r);
}

static rb_err run_cycles(struct run *r, char *msg, size_t msglen)
{
  struct rb_scenario_result *res = r->res;

  for(unsigned i = 1; i <= r->sc->cycles; i++) {
    struct rb_cycle_result *c = &res->cycles[res->ncycles];
    bool go_on;

    if(stop_requested(r))
      return RB_ERR_INTERRUPTED;
    if(r->sc->duration_ns && rb_clock_now() - r->started_at >= r->sc->duration_ns)
      break;
    c->index = i;
    go_on = run_cycle(r, c);
    res->ncycles++;
    if(stop_requested(r))
      return RB_ERR_INTERRUPTED;
    if(keeper_lost(r, c, msg, msglen)) {
      emit(r, RB_EVENT_CYCLE_END, i, 0, NULL, c);
      return RB_ERR_SYSTEM;
    }
    emit(r, RB_EVENT_CYCLE_END, i, 0, NULL, c);
    if(!go_on)
      break;
  }
  return RB_OK;
}

rb_err rb_engine_run_scenario(struct rb_scenario *sc, const struct rb_engine_opts *opts,
                              struct rb_scenario_result *res)
{
  struct run r = { .sc = sc, .opts = opts, .res = res };
  char msg[RB_FAILURE_LEN * 2] = "";
  int64_t spawned_at, ready_at, all_up_at;
  rb_err err;

  memset(res, 0, sizeof(*res));
  snprintf(res->name, sizeof(res->name), "%s", sc->name);
  res->seed = sc->seed;
  res->expect_fail = sc->expect == RB_EXPECT_FAIL;
  res->cycles_planned = sc->cycles;
  rb_backoff_format(&sc->reconnect, res->reconnect_profile, sizeof(res->reconnect_profile));
  if(!(res->cycles = calloc(sc->cycles, sizeof(*res->cycles)))) {
    err = rb_fail(msg, sizeof(msg), RB_ERR_NOMEM, "out of memory");
    goto out;
  }
  if((err = prepare(&r, msg, sizeof(msg))))
    goto out;
  /* What a rebound killed together with its keeper left running goes first. */
  rb_target_cleanup_leftovers(warn_line, &r, NULL, NULL, 0);
  if((err = rb_target_create(&r.target, msg, sizeof(msg))))
    goto out;
  rb_target_set_log_limit(r.target, sc->log_limit);
  {
    const char *note;

    snprintf(res->containment, sizeof(res->containment), "%s", rb_target_containment(r.target, &note));
    snprintf(res->containment_note, sizeof(res->containment_note), "%s", note);
  }
  emit(&r, RB_EVENT_SCENARIO_START, 0, sc->port, r.run_dir, NULL);
  r.started_at = rb_clock_now();
  if(r.external)
    err = start_external(&r, &spawned_at, msg, sizeof(msg));
  else if((err = start_target(&r, 0, &spawned_at, msg, sizeof(msg))))
    err = err == RB_ERR_SCENARIO ? err : RB_ERR_SPAWN;
  if(err)
    goto out;
  if((err = wait_ready(&r, spawned_at + sc->ready_timeout_ns, &ready_at, msg, sizeof(msg)))) {
    if(err != RB_ERR_INTERRUPTED || !stop_requested(&r)) {
      char why[sizeof(msg)];

      /* the probe's own words: "not ready after N attempts", or why it stopped early */
      snprintf(why, sizeof(why), "%s", err == RB_ERR_INTERRUPTED ? "its processes ended" : msg);
      err = first_start_failure(&r, spawned_at, why, msg, sizeof(msg));
    }
    goto out;
  }
  res->first_ready_ms = rb_clock_ms(spawned_at, ready_at);
  emit(&r, RB_EVENT_READY, 0, res->first_ready_ms, NULL, NULL);
  if((err = start_clients(&r, msg, sizeof(msg))))
    goto out;
  err = rb_fleet_wait_up(r.fleet, 0, rb_clock_deadline(sc->reconnect_timeout_ns), opts->stop, &all_up_at, msg,
                         sizeof(msg));
  if(err && err != RB_ERR_INTERRUPTED && keeper_lost(&r, NULL, msg, sizeof(msg))) {
    err = RB_ERR_SYSTEM; /* the clients failed because the target was stopped */
  } else if(err && err != RB_ERR_INTERRUPTED) {
    first_clients_failure(&r, err, msg);
    msg[0] = '\0';
    err = RB_OK;
  }
  else if(!err)
    err = run_cycles(&r, msg, sizeof(msg));
out:
  rb_fleet_destroy(r.fleet);
  rb_netfault_stop(r.proxy);
  rb_target_destroy(r.target);
  if(err == RB_ERR_INTERRUPTED)
    res->verdict = RB_VERDICT_INTERRUPTED;
  else if(err) {
    res->verdict = RB_VERDICT_ERROR;
    snprintf(res->error, sizeof(res->error), "%s", msg);
  }
  finish(&r);
  emit(&r, RB_EVENT_SCENARIO_END, 0, 0, NULL, NULL);
  free(r.url);
  free(r.client_url);
  free(r.host);
  for(unsigned i = 0; r.streams && i < sc->publishers; i++)
    free(r.streams[i]);
  free(r.streams);
  free_player_urls(r.flv_urls, sc->flv_players);
  free_player_urls(r.hls_urls, sc->hls_players);
  free(r.ready_http);
  return err;
}
