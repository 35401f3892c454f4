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
#include "rebound/ports.h"
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
#define LOG_SEARCH_LINES 400
#define LOG_SEARCH_LEN (64 * 1024)

struct run;

/* One server of the scenario: the scenario itself, or one [target NAME] of a topology. */
struct tgt {
  struct run *run;
  struct rb_scenario *sc; /* its keys: the target's view, or the scenario without a topology */
  const char *name;       /* "target" without a topology */
  struct rb_target *target;
  struct rb_ports ports;  /* every port it is judged on (port first) */
  char run_dir[PATH_MAX]; /* its ${run_dir}: logs, socket tables, rendered config */
  char config_path[PATH_MAX];
  struct rb_scenario_vars vars;
  char *url;
  char *host;
  enum rb_ready_kind ready_kind;
  char *ready_http;
  bool external;          /* no command: a server rebound neither starts nor owns */
  bool killed;            /* the fault hits it */
  unsigned generation;    /* the cycle of its last start (its newest server-N.log) */
  unsigned states_before[RB_TCP_STATE_MAX]; /* its port just before the first spawn */
};

struct run {
  struct rb_scenario *sc; /* the scenario's own keys (clients, cycles, fault, ...) */
  const struct rb_engine_opts *opts;
  struct rb_scenario_result *res;
  struct rb_fleet *fleet;
  char run_dir[PATH_MAX];
  struct rb_scenario_vars vars;
  char **streams;
  char **flv_urls, **hls_urls;  /* one per HTTP player: flv_url / hls_url for its stream */
  uint64_t rng;
  int64_t started_at;
  size_t ntg;
  struct tgt tg[RB_MAX_TARGETS];
  struct tgt *pub, *play; /* where publishers publish and players play */
  struct tgt *first_killed;
  bool topology;
  struct rb_netfault *proxy; /* net_fault: the clients' way to the publishers' server */
  char *client_url;       /* its url through the proxy (NULL: the clients use its url) */
};

#if RB_MAX_SCENARIO_TARGETS > RB_MAX_TARGETS
#error "results must have room for every target of a scenario"
#endif

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

/* Has the keeper of one of the targets died? (why: the first such.) */
static bool any_target_lost(const struct run *r, char *why, size_t whylen)
{
  for(size_t i = 0; i < r->ntg; i++)
    if(r->tg[i].target && rb_target_lost(r->tg[i].target, why, whylen))
      return true;
  return false;
}

/* Wait for duration unless a stop is requested or a keeper died (the run ends
   then: see run_cycles); false when cut short. */
static bool wait_for(const struct run *r, int64_t duration)
{
  int64_t deadline = rb_clock_deadline(duration);

  while(rb_clock_now() < deadline) {
    if(stop_requested(r) || any_target_lost(r, NULL, 0))
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
static rb_err render_config(struct tgt *r, char *msg, size_t msglen)
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

static rb_err pick_ports(struct tgt *r, char *msg, size_t msglen)
{
  rb_err err = RB_OK;

  if(r->sc->port_auto && (err = rb_probe_free_port(&r->sc->port, msg, msglen)))
    return err;
  if(r->sc->http_port_auto)
    err = rb_probe_free_port(&r->sc->http_port, msg, msglen);
  return err;
}

/* Refuse to start when someone else LISTENs on a port of ours: exit 3, named. */
static rb_err preflight(struct tgt *r, uint16_t port, char *msg, size_t msglen)
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
    memcpy(r->states_before, snap.counts, sizeof(r->states_before));
  if(!snap.counts[RB_TCP_LISTEN])
    return RB_OK;
  if(snap.nowners)
    return rb_fail(msg, msglen, RB_ERR_PORT_BUSY, "port %u is already LISTENed by pid %d (%s), which rebound "
                   "did not start: stop it or choose another port", port, (int)snap.owners[0].pid,
                   snap.owners[0].cmdline);
  return rb_fail(msg, msglen, RB_ERR_PORT_BUSY, "port %u is already LISTENed by a process rebound did not "
                 "start (not visible to this user): stop it or choose another port", port);
}

/* flv_url / hls_url for each HTTP player; player i plays publisher i's stream (mod publishers).
   In a topology they play from play_from: its view gives ${host} and ${http_port}. */
static rb_err expand_player_urls(struct run *r, enum rb_opt_id key, unsigned n, char ***out, char *msg,
                                 size_t msglen)
{
  struct tgt *t = r->play;
  rb_err err = RB_OK;

  if(!(*out = calloc(n ? n : 1, sizeof(**out))))
    return rb_fail(msg, msglen, RB_ERR_NOMEM, "out of memory");
  for(unsigned i = 0; i < n && !err; i++) {
    t->vars.client = (int)(i % r->sc->publishers);
    err = rb_scenario_expand_key(t->sc, key, &t->vars, &(*out)[i], msg, msglen);
  }
  t->vars.client = -1;
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
  struct tgt *t = r->pub; /* in a topology: in front of the server publishers publish to */
  uint16_t real = t->sc->port;
  rb_err err;

  if(nf->kind == RB_NETFAULT_NONE || t->external)
    return RB_OK;
  if((err = rb_netfault_start(&r->proxy, t->host, real, msg, msglen)))
    return err;
  rb_netfault_shape(r->proxy, nf->kind == RB_NETFAULT_LATENCY ? nf->ns : 0,
                    nf->kind == RB_NETFAULT_BANDWIDTH ? nf->rate : 0);
  t->sc->port = rb_netfault_port(r->proxy);
  err = rb_scenario_expand_key(t->sc, RB_OPT_URL, &t->vars, &r->client_url, msg, msglen);
  t->sc->port = real;
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

/* One target's folder, URL, host and readiness; its ports were picked already. */
static rb_err prepare_target(struct run *r, struct tgt *t, char *msg, size_t msglen)
{
  char *ready = NULL;
  rb_err err;

  if(!r->topology)
    snprintf(t->run_dir, sizeof(t->run_dir), "%s", r->run_dir);
  else if(snprintf(t->run_dir, sizeof(t->run_dir), "%s/%s", r->run_dir, t->name) >= (int)sizeof(t->run_dir))
    return rb_fail(msg, msglen, RB_ERR_IO, "%s/%s: path too long", r->run_dir, t->name);
  if((err = make_dir(t->run_dir, msg, msglen)))
    return err;
  rb_ports_init(&t->ports, t->sc->port);
  t->vars.run_dir = t->run_dir;
  t->vars.client = -1;
  if((err = rb_scenario_expand_key(t->sc, RB_OPT_URL, &t->vars, &t->url, msg, msglen)) ||
     (err = rb_scenario_expand_key(t->sc, RB_OPT_HOST, &t->vars, &t->host, msg, msglen)) ||
     (err = rb_scenario_expand_key(t->sc, RB_OPT_READY, &t->vars, &ready, msg, msglen)))
    return err;
  if(!rb_ready_parse(ready, &t->ready_kind)) {
    err = rb_fail(msg, msglen, RB_ERR_SCENARIO, "ready: cannot use '%s'", ready);
    free(ready);
    return err;
  }
  if(t->ready_kind == RB_READY_HTTP)
    t->ready_http = ready;
  else
    free(ready);
  t->external = !t->sc->raw[RB_OPT_COMMAND];
  if(t->external)
    return RB_OK; /* its port is supposed to be LISTENed already: by the server itself */
  if((err = preflight(t, t->sc->port, msg, msglen)))
    return err;
  return preflight(t, t->sc->http_port, msg, msglen);
}

static rb_err prepare(struct run *r, char *msg, size_t msglen)
{
  struct rb_scenario *sc = r->sc;
  rb_err err;

  r->topology = sc->ntargets > 0;
  r->ntg = r->topology ? sc->ntargets : 1;
  for(size_t i = 0; i < r->ntg; i++) {
    struct tgt *t = &r->tg[i];

    t->run = r;
    t->sc = r->topology ? &sc->targets[i] : sc;
    t->name = r->topology ? t->sc->target_name : "target";
    t->killed = !r->topology || sc->fault_target < 0 || (size_t)sc->fault_target == i;
    /* every auto port first: any target's keys may name any other's port */
    if((err = pick_ports(t, msg, msglen)))
      return err;
  }
  r->pub = &r->tg[r->topology ? sc->publish_to : 0];
  r->play = &r->tg[r->topology ? sc->play_from : 0];
  r->first_killed = &r->tg[r->topology && sc->fault_target > 0 ? sc->fault_target : 0];
  r->res->port = r->first_killed->sc->port;
  if(!r->opts->artifacts_dir)
    return rb_fail(msg, msglen, RB_ERR_USAGE, "no folder for the artifacts");
  snprintf(r->run_dir, sizeof(r->run_dir), "%s/%s", r->opts->artifacts_dir, sc->name);
  if((err = make_dir(r->run_dir, msg, msglen)))
    return err;
  snprintf(r->res->artifacts, sizeof(r->res->artifacts), "%.*s", (int)sizeof(r->res->artifacts) - 1, r->run_dir);
  r->vars.run_dir = r->run_dir;
  r->vars.client = -1;
  if(!(r->streams = calloc(sc->publishers ? sc->publishers : 1, sizeof(*r->streams))))
    return rb_fail(msg, msglen, RB_ERR_NOMEM, "out of memory");
  for(unsigned i = 0; i < sc->publishers; i++) {
    r->vars.client = (int)i;
    if((err = rb_scenario_expand_key(sc, RB_OPT_STREAM, &r->vars, &r->streams[i], msg, msglen)))
      return err;
  }
  r->vars.client = -1;
  r->rng = sc->seed ? sc->seed : 1;
  for(size_t i = 0; i < r->ntg; i++)
    if((err = prepare_target(r, &r->tg[i], msg, msglen)))
      return err;
  memcpy(r->res->states_before_start, r->first_killed->states_before, sizeof(r->res->states_before_start));
  /* HTTP players play from play_from: its host and http_port in their URLs */
  if((err = expand_player_urls(r, RB_OPT_FLV_URL, sc->flv_players, &r->flv_urls, msg, msglen)) ||
     (err = expand_player_urls(r, RB_OPT_HLS_URL, sc->hls_players, &r->hls_urls, msg, msglen)))
    return err;
  return start_proxy(r, msg, msglen);
}

/* ---- target --------------------------------------------------------------- */

static void log_path_for(const struct tgt *r, unsigned cycle, char *buf, size_t buflen)
{
  /* run_dir comes from a PATH_MAX buffer: a path that does not fit is dropped, not cut */
  if(snprintf(buf, buflen, "%s/server-%u.log", r->run_dir, cycle) >= (int)buflen)
    buf[0] = '\0';
}

/* Start generation `cycle` (0 = first start) with command or restart_command. */
static rb_err start_target(struct tgt *r, unsigned cycle, int64_t *spawned_at, char *msg, size_t msglen)
{
  char log[PATH_MAX], *command = NULL;
  rb_err err;

  r->vars.cycle = cycle;
  r->generation = cycle;
  if((err = render_config(r, msg, msglen)))
    return err;
  if((err = rb_scenario_expand_key(r->sc, cycle ? RB_OPT_RESTART_COMMAND : RB_OPT_COMMAND, &r->vars, &command,
                                   msg, msglen)))
    return err;
  log_path_for(r, cycle, log, sizeof(log));
  *spawned_at = rb_clock_now();
  err = rb_target_start(r->target, command, log, NULL, msg, msglen);
  free(command);
  return err;
}

/* keep_going for probes: the generation still has a live process (a daemonising
   server's main process exits normally, so the main pid alone is not enough). */
static bool target_alive(void *arg)
{
  struct tgt *r = arg;
  pid_t pid;

  if(stop_requested(r->run))
    return false;
  return rb_target_list(r->target, &pid, 1) > 0;
}

static bool not_stopped(void *arg)
{
  return !stop_requested(((struct tgt *)arg)->run);
}

static rb_err wait_ready(struct tgt *r, int64_t deadline, int64_t *ready_at, char *msg, size_t msglen)
{
  struct rb_ready ready = {
    .kind = r->ready_kind, .host = r->host, .port = r->sc->port,
    .url = r->url, .http_url = r->ready_http,
  };

  /* An external server is not ours to watch: only a stop request ends the wait early. */
  return rb_probe_wait(&ready, deadline, r->external ? not_stopped : target_alive, r, ready_at, msg, msglen);
}

/* An external server is not started, only waited for; exec faults log to server-0.log. */
static rb_err start_external(struct tgt *r, int64_t *spawned_at, char *msg, size_t msglen)
{
  char log[PATH_MAX];

  log_path_for(r, 0, log, sizeof(log));
  *spawned_at = rb_clock_now();
  return rb_target_set_log(r->target, log, msg, msglen);
}

/* A keeper died (someone SIGKILLed it): the target module has stopped the whole
   target; record it on the cycle and end the run as rebound's own failure. */
static bool keeper_lost(struct run *r, struct rb_cycle_result *c, char *msg, size_t msglen)
{
  char why[RB_TARGET_WHY_LEN];

  if(!any_target_lost(r, why, sizeof(why)))
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
static struct rb_cycle_result *first_cycle_failure(struct run *r, const struct tgt *t, const char *diagnosis)
{
  struct rb_cycle_result *c = &r->res->cycles[r->res->ncycles++];

  rb_cycle_result_begin(c, 1);
  c->fault = r->sc->fault;
  c->pass = false;
  snprintf(c->diagnosis, sizeof(c->diagnosis), "%s", diagnosis);
  log_path_for(t, 0, c->log_path, sizeof(c->log_path));
  rb_target_log_tail(c->log_path, LOG_TAIL_LINES, c->log_tail, sizeof(c->log_tail));
  return c;
}

/* What the port and the target showed when the first start failed. */
static void first_start_evidence(struct tgt *r, int64_t spawned_at, const char *tail,
                                 struct rb_first_start_evidence *ev)
{
  struct rb_port_snapshot snap;
  struct rb_target_exit ex;
  pid_t current[256];
  size_t ncurrent = rb_target_list(r->target, current, 256);

  memset(ev, 0, sizeof(*ev));
  ev->port = r->sc->port;
  ev->waited_ms = rb_clock_ms(spawned_at, rb_clock_now());
  memcpy(ev->states_before, r->states_before, sizeof(ev->states_before));
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
static void await_exit_report(struct tgt *r, struct rb_target_exit *ex)
{
  rb_target_settle(r->target, EXIT_REPORT_WAIT_NS);
  rb_target_poll_exit(r->target, ex);
}

/* The first start did not become ready: the server's bug (a failed first cycle,
   RB_OK) or the environment's (RB_ERR_SPAWN / RB_ERR_PORT_BUSY with msg). */
static rb_err first_start_failure(struct run *run, struct tgt *r, int64_t spawned_at, const char *why, char *msg,
                                  size_t msglen)
{
  char tail[RB_LOG_TAIL_LEN], log[PATH_MAX], status[96] = "is still running", sentence[RB_DIAGNOSIS_LEN];
  struct rb_first_start_evidence ev;
  struct rb_target_exit ex;
  enum rb_verdict verdict = RB_VERDICT_ERROR;

  memset(&ev, 0, sizeof(ev));
  if(keeper_lost(run, NULL, msg, msglen))
    return RB_ERR_SYSTEM;
  await_exit_report(r, &ex); /* before the log is read: see there */
  log_path_for(r, 0, log, sizeof(log));
  rb_target_log_tail(log, LOG_TAIL_LINES, tail, sizeof(tail));
  if(!r->external) {
    first_start_evidence(r, spawned_at, tail, &ev);
    verdict = rb_judge_first_start(&ev, sentence, sizeof(sentence));
  }
  if(verdict == RB_VERDICT_FAIL) {
    struct rb_cycle_result *c = first_cycle_failure(run, r, sentence);

    memcpy(c->states_at_restart, r->states_before, sizeof(c->states_at_restart));
    rb_cycle_add_failure(c, "the first start%s%s did not become ready on port %u (%s)", run->topology ? " of " : "",
                         run->topology ? r->name : "", r->sc->port, why);
    emit(run, RB_EVENT_CYCLE_END, 1, 0, NULL, c);
    return RB_OK;
  }
  if(ev.nforeign)
    return rb_fail(msg, msglen, RB_ERR_PORT_BUSY, "%s", sentence);
  if(ex.exited)
    rb_target_describe_status(ex.status, status, sizeof(status));
  else if(!target_alive(r))
    snprintf(status, sizeof(status), "has no process left");
  return rb_fail(msg, msglen, RB_ERR_SPAWN, "the target%s%s did not become ready on port %u (%s; it %s)%s%s",
                 run->topology ? " " : "", run->topology ? r->name : "", r->sc->port, why, status,
                 tail[0] ? "; last log lines:\n" : "", tail);
}

/* ---- one cycle ------------------------------------------------------------ */

/* Classify LISTEN owners of the port into new generation / survivor / foreign. */
static void collect_owners(struct tgt *r, const struct rb_port_snapshot *snap, struct rb_rebind_evidence *ev,
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

/* Has the new generation taken port back? A survivor listening beside it counts
   as taken, with *shared set (it fails the cycle, but the port is served). */
static bool port_taken(struct tgt *r, uint16_t port, struct rb_rebind_evidence *ev, bool *shared)
{
  struct rb_port_snapshot snap;
  bool new_listens, survivor_listens;

  *shared = false;
  if(!rb_sockdiag_is_listening(port))
    return false;
  /* Clients backing off retry now rather than at the end of their backoff
     (the owner check below takes a while; a wrong owner fails the cycle anyway). */
  if(port == r->sc->port)
    rb_fleet_kick(r->run->fleet);
  /* The common case, cheaply: the new main process holds every LISTEN socket. */
  if(rb_sockdiag_listen_all_held_by(port, rb_target_main_pid(r->target)))
    return true;
  if(rb_sockdiag_snapshot(port, true, &snap, NULL, 0) != RB_OK)
    return false;
  collect_owners(r, &snap, ev, &new_listens, &survivor_listens);
  /* Owners we cannot see (another user's process) are given the benefit of the doubt. */
  if(new_listens || (!snap.nowners && snap.counts[RB_TCP_LISTEN])) {
    *shared = survivor_listens;
    return true;
  }
  return false;
}

/* Poll until the new generation LISTENs on every port of t (all ports at once, so
   each gets its own time). ev[i] and shared[i] are filled per port on the way. */
static bool wait_rebind(struct tgt *r, int64_t deadline, struct rb_target_result *t, struct rb_rebind_evidence *ev,
                        bool *shared)
{
  int64_t delay = POLL_MIN_NS;
  struct rb_target_exit ex;
  size_t left = t->nports;

  for(;;) {
    for(size_t i = 0; i < t->nports; i++) {
      int64_t seen = rb_clock_now();

      if(t->ports[i].rebind_at_ns || !port_taken(r, t->ports[i].port, &ev[i], &shared[i]))
        continue;
      t->ports[i].rebind_at_ns = seen;
      left--;
    }
    if(!left)
      return true;
    rb_target_poll_exit(r->target, &ex);
    if(ex.exited && !target_alive(r)) {
      for(size_t i = 0; i < t->nports; i++) {
        ev[i].new_exited = true;
        ev[i].new_status = ex.status;
      }
      return false;
    }
    if(rb_clock_now() >= deadline || stop_requested(r->run))
      return false;
    rb_clock_sleep(delay);
    delay = delay * 2 > POLL_MAX_NS ? POLL_MAX_NS : delay * 2;
  }
}

static struct rb_fault make_fault(struct tgt *r, char **exec_cmd)
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
  /* clients on a target the fault did not hit may never have left their session
     (up before the restart): no reconnect time for that kind then (players there get
     recovery_ms instead) */
  if(c->reconnect_publishers_ms < 0)
    c->reconnect_publishers_ms = -1;
  if(c->reconnect_players_ms < 0)
    c->reconnect_players_ms = -1;
  if(c->first_frame_ms < 0)
    c->first_frame_ms = -1;
  if(!ev.wait_err)
    emit(r, RB_EVENT_RECONNECT, c->index, c->reconnect_ms, NULL, c);
}

/* What the target was told: its expanded command and its rendered config (caller
   frees both; either may be NULL). */
static void target_texts(struct tgt *r, char **command, char **config)
{
  FILE *f;

  *command = *config = NULL;
  r->vars.cycle = 0;
  if(rb_scenario_expand_key(r->sc, RB_OPT_COMMAND, &r->vars, command, NULL, 0))
    *command = NULL;
  if(r->config_path[0] && (f = fopen(r->config_path, "r"))) {
    size_t cap = 1 << 20, len;

    if((*config = malloc(cap))) {
      len = fread(*config, 1, cap - 1, f);
      (*config)[len] = '\0';
    }
    fclose(f);
  }
}

/* Does the target's command or config say word? */
static bool target_mentions(struct tgt *r, const char *word)
{
  char *command, *config;
  bool yes;

  target_texts(r, &command, &config);
  yes = (command && strstr(command, word)) || (config && strstr(config, word));
  free(command);
  free(config);
  return yes;
}

/* Of the discovered ports, those the target was told to use: named by its command
   or its rendered config (${http_port} in nginx.conf, --extra-port N). */
static void keep_configured_ports(struct tgt *r)
{
  char *command, *config, num[8];
  const char *texts[3];
  size_t n = 0;

  target_texts(r, &command, &config);
  if(command)
    texts[n++] = command;
  if(config)
    texts[n++] = config;
  snprintf(num, sizeof(num), "%u", (unsigned)r->sc->http_port);
  if(r->sc->http_port)
    texts[n++] = num;
  rb_ports_keep_named(&r->ports, texts, n);
  free(command);
  free(config);
}

/* The last line of text that mentions word, else its last line. */
static void last_line_about(const char *text, const char *word, char *buf, size_t buflen)
{
  const char *hit = NULL;

  for(const char *p = text; (p = strcasestr(p, word)); p++)
    hit = p;
  if(!hit) {
    rb_last_line(text, buf, buflen);
    return;
  }
  while(hit > text && hit[-1] != '\n')
    hit--;
  snprintf(buf, buflen, "%.*s", (int)(strchrnul(hit, '\n') - hit), hit);
}

/* Players on a target the fault did not hit: the stream must reach them again
   through the topology (the edge re-pulls, the origin pushes again) with new frames. */
static void judge_recovery(struct run *r, struct rb_cycle_result *c, int64_t restart_at)
{
  struct rb_target_result *play = &c->targets[r->play - r->tg];
  char why[RB_FAILURE_LEN] = "", line[200], log[PATH_MAX];
  int64_t all_at = 0;
  rb_err err;

  err = rb_fleet_wait_flow(r->fleet, restart_at + r->sc->reconnect_timeout_ns, r->opts->stop, &all_at, why,
                           sizeof(why));
  if(!err) {
    c->recovery_ms = play->recovery_ms = rb_clock_ms(restart_at, all_at > restart_at ? all_at : restart_at);
    c->first_frame_ms = c->recovery_ms; /* the players' first new frame came through the topology */
    return;
  }
  if(err == RB_ERR_INTERRUPTED)
    return;
  /* the edge's log is the one that says why: its tail goes with the cycle, and the
     sentence quotes its last line about pulling (or its last line) */
  log_path_for(r->play, r->play->generation, log, sizeof(log));
  rb_target_log_tail(log, LOG_TAIL_LINES, c->log_tail, sizeof(c->log_tail));
  snprintf(c->log_path, sizeof(c->log_path), "%s", log);
  {
    /* players retrying fill the last lines: look further back for the relay's own */
    char *longer = malloc(LOG_SEARCH_LEN);

    if(longer) {
      rb_target_log_tail(log, LOG_SEARCH_LINES, longer, LOG_SEARCH_LEN);
      last_line_about(longer, "pull", line, sizeof(line));
      free(longer);
    }
    else
      last_line_about(c->log_tail, "pull", line, sizeof(line));
  }
  rb_cycle_add_failure(c, "players on %s did not receive new frames within %.0f ms of the restart of %s: %s",
                       r->play->name, (double)r->sc->reconnect_timeout_ns / RB_NS_PER_MS, r->first_killed->name, why);
  if(c->diagnosis[0])
    return;
  /* which hop: the players' server pulls (nginx-rtmp `pull`, --pull), or the killed
     one pushes to it (`push`); the words come from their command lines and configs */
  if(target_mentions(r->play, "pull") || !target_mentions(r->first_killed, "push"))
    snprintf(c->diagnosis, sizeof(c->diagnosis), "edge %s did not resume pulling from origin %s within %.0f s "
             "(%s); its log: %s", r->play->name, r->first_killed->name,
             (double)r->sc->reconnect_timeout_ns / RB_NS_PER_S, why, line[0] ? line : "(empty)");
  else
    snprintf(c->diagnosis, sizeof(c->diagnosis), "origin %s did not resume pushing to %s within %.0f s (%s); "
             "the log of %s: %s", r->first_killed->name, r->play->name,
             (double)r->sc->reconnect_timeout_ns / RB_NS_PER_S, why, r->play->name, line[0] ? line : "(empty)");
}

/* stat_url: the server's own stats page must show every publisher's stream. */
static void check_stats(struct run *run, struct tgt *r, struct rb_cycle_result *c)
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
  for(unsigned i = 0; i < run->sc->publishers; i++) {
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

/* Port i of the target did not come back (or is shared with a survivor). The first
   port keeps today's sentence; another names itself, so a reader knows which one;
   in a topology the target is named first. */
static void record_rebind_failure(struct tgt *r, struct rb_cycle_result *c, struct rb_rebind_evidence *ev,
                                  int64_t restart_at, const struct rb_port_result *port, bool first)
{
  char sentence[RB_DIAGNOSIS_LEN], log[PATH_MAX], tail[RB_LOG_TAIL_LEN];
  int n = 0;

  log_path_for(r, r->generation, log, sizeof(log));
  ev->port = port->port;
  ev->waited_ms = rb_clock_ms(restart_at, rb_clock_now());
  memcpy(ev->states_at_restart, port->states_at_restart, sizeof(ev->states_at_restart));
  rb_target_log_tail(log, LOG_TAIL_LINES, tail, sizeof(tail));
  if(!c->log_tail[0])
    snprintf(c->log_tail, sizeof(c->log_tail), "%s", tail);
  ev->log_tail = tail;
  if(r->run->topology)
    n = snprintf(sentence, sizeof(sentence), "target %s: ", r->name);
  if(!first)
    n += snprintf(sentence + n, sizeof(sentence) - (size_t)n, "port %u, which the target also listened on at "
                  "first start, did not come back: ", port->port);
  rb_diagnose_rebind(ev, sentence + n, sizeof(sentence) - (size_t)n);
  if(!c->diagnosis[0])
    snprintf(c->diagnosis, sizeof(c->diagnosis), "%s", sentence);
  rb_cycle_add_failure(c, "port %u not rebound within %.0f ms: %s", port->port,
                       (double)r->sc->rebind_timeout_ns / RB_NS_PER_MS, sentence);
}

/* Every target's entry in c->targets: name and ports, nothing measured yet. */
static void cycle_targets(struct run *r, struct rb_cycle_result *c)
{
  c->ntargets = r->ntg;
  c->recovery_ms = -1;
  for(size_t k = 0; k < r->ntg; k++) {
    struct rb_target_result *t = &c->targets[k];

    snprintf(t->name, sizeof(t->name), "%s", r->tg[k].name);
    t->restarted = r->tg[k].killed;
    t->plays = &r->tg[k] == r->play && r->sc->players;
    t->publishes = &r->tg[k] == r->pub && r->sc->publishers;
    t->recovery_ms = -1;
    t->nports = r->tg[k].ports.n;
    for(size_t i = 0; i < t->nports; i++) {
      t->ports[i].port = r->tg[k].ports.port[i];
      t->ports[i].rebind_ms = -1;
    }
  }
}

/* Learn the ports the target's tree listens on, now that it is up. */
static void discover_ports(struct run *run, struct tgt *r)
{
  pid_t pids[256];
  size_t n = rb_target_list(r->target, pids, 256), dropped = 0;
  char why[RB_FAILURE_LEN];

  if(r->external)
    return; /* not ours: only its `port` is known to be its own */
  if(rb_ports_discover(&r->ports, pids, n, &dropped, why, sizeof(why))) {
    char text[RB_FAILURE_LEN];

    snprintf(text, sizeof(text), "could not list the ports of %s (only port %u is judged): %.200s", r->name,
             r->sc->port, why);
    warn(run, text);
    return;
  }
  keep_configured_ports(r);
  if(dropped) {
    char text[RB_FAILURE_LEN];

    snprintf(text, sizeof(text), "%s listens on more than %d ports: %zu of them are not judged", r->name,
             RB_MAX_PORTS, dropped);
    warn(run, text);
  }
}

/* Artifacts: the socket table of the port at restart, one file per cycle. */
static void save_snapshot(const struct tgt *r, unsigned cycle, const struct rb_port_snapshot *snap, bool append)
{
  char path[PATH_MAX + 32], states[256];
  FILE *f;

  if(snprintf(path, sizeof(path), "%s/sockets-%u.txt", r->run_dir, cycle) >= (int)sizeof(path) ||
     !(f = fopen(path, append ? "a" : "w")))
    return;
  rb_sockdiag_format_counts(snap, states, sizeof(states));
  fprintf(f, "port %u at restart of cycle %u: %s\n", snap->port, cycle, states);
  for(size_t i = 0; i < snap->nowners; i++)
    fprintf(f, "LISTEN owner: pid %d %s\n", (int)snap->owners[i].pid, snap->owners[i].cmdline);
  fclose(f);
}

static void release_holders(struct run *r)
{
  rb_fleet_release_holders(r->fleet);
  for(size_t i = 0; i < r->ntg; i++)
    rb_ports_release(&r->tg[i].ports);
  rb_fleet_close_handshakes(r->fleet);
}

/* The rebind has been judged: holders may go now, sending nothing; then every client
   must come back (and the stream reach players through the topology), and the
   server's own stats must agree. */
static void after_rebind(struct run *r, struct rb_cycle_result *c, int64_t restart_at)
{
  release_holders(r);
  judge_reconnect(r, c, restart_at, restart_at, restart_at + r->sc->reconnect_timeout_ns);
  if(r->sc->players && !r->play->killed && c->reconnect_ms >= 0)
    judge_recovery(r, c, restart_at);
  if(c->reconnect_ms >= 0)
    check_stats(r, r->pub, c);
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
  release_holders(r);
  judge_reconnect(r, c, origin, 0, origin + r->sc->reconnect_timeout_ns);
  record_network(r, c);
  if(c->reconnect_ms < 0 && !stop_requested(r))
    diagnose_network(r, c);
  else if(c->reconnect_ms >= 0)
    check_stats(r, r->pub, c);
}

/* An external server: the exec fault has run; run restart_command if there is one,
   then judge the rebind by the ready probe. restart = the restart command's start,
   or the fault's when the fault command restarts the server itself (systemctl restart). */
static bool run_external_restart(struct tgt *r, struct rb_cycle_result *c, struct rb_target_result *tr,
                                 int64_t fault_at, int64_t *restart_out)
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
  *restart_out = restart_at;
  if(r == r->run->first_killed) {
    c->restart_at_ns = restart_at;
    emit(r->run, RB_EVENT_RESTART, c->index, 0, NULL, c);
  }
  err = wait_ready(r, restart_at + r->sc->rebind_timeout_ns, &ready_at, why, sizeof(why));
  if(err) {
    if(!stop_requested(r->run)) {
      snprintf(c->diagnosis, sizeof(c->diagnosis), "%s%s%sthe server was not ready (%s) within %.0f ms of the "
               "restart: %s", r->run->topology ? "target " : "", r->run->topology ? r->name : "",
               r->run->topology ? ": " : "", r->sc->raw[RB_OPT_READY], (double)r->sc->rebind_timeout_ns / RB_NS_PER_MS,
               why);
      rb_cycle_add_failure(c, "%s", c->diagnosis);
    }
    return false;
  }
  tr->ports[0].rebind_ms = rb_clock_ms(restart_at, ready_at);
  tr->ports[0].rebind_at_ns = ready_at;
  rb_fleet_kick(r->run->fleet);
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
static size_t watch_once(struct tgt *r, struct reload_watch *w)
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
static const char *new_client_check(struct tgt *r, unsigned cycle, char *why, size_t whylen)
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
static rb_err send_reload(struct tgt *r, const struct rb_fault *fault, char *why, size_t whylen)
{
  char *cmd = NULL, log[PATH_MAX];
  rb_err err;

  r->vars.cycle = r->generation;
  if((err = render_config(r, why, whylen)))
    return err;
  if(!r->sc->raw[RB_OPT_RELOAD_COMMAND])
    return rb_target_fault(r->target, fault, why, whylen);
  if((err = rb_scenario_expand_key(r->sc, RB_OPT_RELOAD_COMMAND, &r->vars, &cmd, why, whylen)))
    return err;
  log_path_for(r, r->generation, log, sizeof(log));
  err = rb_run_command(cmd, log, r->sc->reload_timeout_ns, why, whylen);
  free(cmd);
  return err;
}

/* Watch until the old workers are gone and a new client was served, or reload_timeout. */
static void watch_reload(struct tgt *r, struct rb_cycle_result *c, struct reload_watch *w,
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
    if((checked && !alive) || stop_requested(r->run))
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
   within reconnect_timeout after that. False when the server ended on the reload.
   In a topology the reload goes to the fault_target (one target: the scenario
   refuses fault_target = all with fault = reload); no target restarts, and players
   on another target must receive new frames again (recovery_ms, from the moment the
   old workers are gone). */
static bool run_reload(struct run *run, struct tgt *r, struct rb_cycle_result *c, const struct rb_fault *fault)
{
  struct reload_watch w = { .main = rb_target_main_pid(r->target) };
  struct rb_reload_evidence ev = { .port = r->sc->port,
                                   .reload_timeout_ms = (double)r->sc->reload_timeout_ns / RB_NS_PER_MS };
  struct rb_target_result *tr = &c->targets[r - run->tg];
  char why[RB_FAILURE_LEN], client_why[RB_FAILURE_LEN];
  pid_t tree[256];
  size_t n = rb_target_list(r->target, tree, 256);
  int64_t settled;

  c->drain_ms = -1;
  for(size_t k = 0; k < run->ntg; k++)
    c->targets[k].restarted = false;
  for(size_t i = 0; i < n && w.nold < RB_RELOAD_MAX_OLD; i++)
    if(tree[i] != w.main)
      w.old[w.nold++] = tree[i];
  c->restart_at_ns = c->fault_at_ns;
  log_path_for(r, r->generation, c->log_path, sizeof(c->log_path));
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
  tr->ports[0].rebind_ms = c->rebind_ms;
  rb_target_log_tail(c->log_path, LOG_TAIL_LINES, c->log_tail, sizeof(c->log_tail));
  ev.log_tail = c->log_tail;
  rb_diagnose_reload(&ev, c->diagnosis, sizeof(c->diagnosis));
  if(c->diagnosis[0])
    rb_cycle_add_failure(c, "reload%s%s: %s", run->topology ? " of " : "", run->topology ? r->name : "",
                         c->diagnosis);
  if(stop_requested(run) || ev.main_exited || ev.command_error)
    return !ev.main_exited;
  emit(run, RB_EVENT_REBIND, c->index, c->rebind_ms, NULL, c);
  /* Clients of a worker that just exited may not have noticed yet: let them, so
     that the wait below counts only clients that are really connected. */
  release_holders(run);
  settled = rb_clock_now();
  /* players on another target of a topology: the old workers are gone (or judged
     stuck), so a frame numbered from now on reaches them only through the new ones */
  if(run->sc->players && !run->play->killed)
    rb_fleet_arm_flow(run->fleet);
  while(rb_fleet_count_hung_up(run->fleet) && rb_clock_now() < settled + run->sc->reconnect_timeout_ns &&
        !stop_requested(run))
    rb_clock_sleep(POLL_MAX_NS);
  judge_reconnect(run, c, c->fault_at_ns, 0, settled + run->sc->reconnect_timeout_ns);
  if(run->sc->players && !run->play->killed && c->reconnect_ms >= 0)
    judge_recovery(run, c, settled);
  if(c->reconnect_ms >= 0)
    check_stats(run, run->pub, c); /* after a reload as after a restart: the server's own page must agree */
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

/* Inject the fault into one killed target; its ports' socket states right after. */
static void fault_target(struct run *run, struct tgt *r, struct rb_cycle_result *c, struct rb_target_result *tr)
{
  struct rb_port_snapshot snap;
  struct rb_fault fault;
  char why[RB_FAILURE_LEN], *exec_cmd = NULL;
  rb_err err;

  fault = make_fault(r, &exec_cmd);
  if(r->external) {
    char log[PATH_MAX];

    log_path_for(r, 0, log, sizeof(log));
    err = rb_run_command(fault.exec_command ? fault.exec_command : "false", log, fault.timeout_ns, why, sizeof(why));
  }
  else
    err = rb_target_fault(r->target, &fault, why, sizeof(why));
  if(err)
    rb_cycle_add_failure(c, "fault %s%s%s did not complete: %s", rb_fault_name(fault.kind), run->topology ? " of " : "",
                         run->topology ? r->name : "", why);
  free(exec_cmd);
  for(size_t i = 0; i < tr->nports; i++)
    if(rb_sockdiag_snapshot(tr->ports[i].port, false, &snap, NULL, 0) == RB_OK) {
      memcpy(tr->ports[i].states_at_restart, snap.counts, sizeof(snap.counts));
      if(i == 0 && r == run->first_killed)
        memcpy(c->states_at_restart, snap.counts, sizeof(c->states_at_restart));
      save_snapshot(r, c->index, &snap, i > 0);
    }
}

/* Start one killed target again and judge its rebind on every port; false when its
   first port did not come back (the scenario cannot go on). */
static bool restart_target(struct run *run, struct tgt *r, struct rb_cycle_result *c, struct rb_target_result *tr,
                           int64_t fault_at, int64_t *restart_at)
{
  struct rb_rebind_evidence ev[RB_MAX_PORTS];
  bool shared[RB_MAX_PORTS] = { false };
  char why[RB_FAILURE_LEN];
  int64_t ready_at;
  rb_err err;

  memset(ev, 0, sizeof(ev));
  if(r->external)
    return run_external_restart(r, c, tr, fault_at, restart_at);
  if((err = start_target(r, c->index, restart_at, why, sizeof(why)))) {
    rb_cycle_add_failure(c, "restart%s%s failed: %s", run->topology ? " of " : "", run->topology ? r->name : "", why);
    return false;
  }
  if(r == run->first_killed) {
    log_path_for(r, c->index, c->log_path, sizeof(c->log_path));
    c->restart_at_ns = *restart_at;
    emit(run, RB_EVENT_RESTART, c->index, 0, NULL, c);
  }
  wait_rebind(r, *restart_at + r->sc->rebind_timeout_ns, tr, ev, shared);
  if(stop_requested(run))
    return false;
  for(size_t i = 0; i < tr->nports; i++) {
    if(tr->ports[i].rebind_at_ns)
      tr->ports[i].rebind_ms = rb_clock_ms(*restart_at, tr->ports[i].rebind_at_ns);
    if(!tr->ports[i].rebind_at_ns || shared[i])
      record_rebind_failure(r, c, &ev[i], *restart_at, &tr->ports[i], i == 0);
  }
  if(!tr->ports[0].rebind_at_ns)
    return false;
  if(r->ready_kind != RB_READY_LISTEN) {
    err = wait_ready(r, *restart_at + r->sc->rebind_timeout_ns, &ready_at, why, sizeof(why));
    if(err)
      rb_cycle_add_failure(c, "not ready (%s) after the restart%s%s: %s", r->sc->raw[RB_OPT_READY],
                           run->topology ? " of " : "", run->topology ? r->name : "", why);
    else if(r == run->first_killed)
      c->ready_ms = rb_clock_ms(*restart_at, ready_at);
  }
  return true;
}

/* One cycle; false when the scenario cannot go on (no server to fault next). */
static bool run_cycle(struct run *r, struct rb_cycle_result *c)
{
  char why[RB_FAILURE_LEN], *exec_cmd = NULL;
  int64_t restart_at = 0, fault_at;
  bool go_on = true;
  rb_err err;

  int64_t cycle_start = rb_clock_now();

  rb_cycle_result_begin(c, c->index);
  c->start_at_ns = cycle_start;
  c->fault = r->sc->fault;
  cycle_targets(r, c);
  rb_fleet_reset_cycle(r->fleet);
  /* Holders are clients like the others: a loaded server gets the reconnect window to
     accept them all, not one step's worth (1000 holders need more than 5 s there). */
  if(r->sc->holders && (err = rb_fleet_connect_holders(r->fleet, rb_clock_deadline(r->sc->reconnect_timeout_ns), why,
                                                      sizeof(why))))
    rb_cycle_add_failure(c, "holders could not connect before the fault: %s", why);
  c->holders = r->sc->holders;
  /* the other ports get idle connections too, so each is left with sockets of the killed server */
  for(size_t k = 0; k < r->ntg; k++) {
    struct tgt *t = &r->tg[k];

    if(t->killed && r->sc->holders && t->ports.n > 1 &&
       (err = rb_ports_hold(&t->ports, t->host, r->sc->holders, rb_clock_deadline(STEP_TIMEOUT_NS), why, sizeof(why))))
      rb_cycle_add_failure(c, "port holders could not connect before the fault: %s", why);
  }
  if(!wait_for(r, r->sc->publish_for_ns))
    goto out;
  if(r->sc->fault == RB_FAULT_NETWORK && !clients_up_before_fault(r, c))
    goto out;
  arrange_fault_moment(r, c);
  for(size_t k = 0; k < r->ntg; k++) {
    pid_t pids[256];

    if(r->tg[k].killed)
      (void)rb_target_list(r->tg[k].target, pids, 256); /* let the target module learn every pid of the tree */
  }
  emit(r, RB_EVENT_FAULT, c->index, 0, rb_fault_name(r->sc->fault), c);
  fault_at = c->fault_at_ns = rb_clock_now();
  hit_network(r, c);
  if(r->sc->fault == RB_FAULT_NETWORK) {
    /* the servers are not touched: none of them restarts */
    for(size_t k = 0; k < r->ntg; k++)
      c->targets[k].restarted = false;
    c->fault_done_at_ns = rb_clock_now();
    run_network_cycle(r, c);
    goto out;
  }
  if(r->sc->fault == RB_FAULT_RELOAD) {
    struct rb_fault fault = make_fault(r->first_killed, &exec_cmd);

    free(exec_cmd);
    go_on = run_reload(r, r->first_killed, c, &fault);
    goto out;
  }
  for(size_t k = 0; k < r->ntg; k++)
    if(r->tg[k].killed)
      fault_target(r, &r->tg[k], c, &c->targets[k]);
  c->fault_done_at_ns = rb_clock_now();
  /* the old server is gone: a frame numbered from now on can only reach a player
     through the restarted one */
  if(r->sc->players && !r->play->killed)
    rb_fleet_arm_flow(r->fleet);
  /* started again in the order of targets, each waited for, like the first start */
  for(size_t k = 0; k < r->ntg; k++) {
    struct tgt *t = &r->tg[k];
    int64_t at = 0;

    if(!t->killed)
      continue;
    go_on = restart_target(r, t, c, &c->targets[k], fault_at, &at);
    if(t == r->first_killed)
      restart_at = at;
    if(!go_on || stop_requested(r))
      goto out;
  }
  {
    struct rb_target_result *first = &c->targets[r->first_killed - r->tg];

    c->rebind_ms = first->ports[0].rebind_ms;
    c->rebind_at_ns = first->ports[0].rebind_at_ns;
    if(c->ready_ms < 0)
      c->ready_ms = c->rebind_ms;
  }
  emit(r, RB_EVENT_REBIND, c->index, c->rebind_ms, NULL, c);
  after_rebind(r, c, restart_at);
out:
  release_holders(r);
  rb_fleet_set_paused(r->fleet, false);
  if(r->proxy)
    rb_netfault_cleanup(r->proxy); /* dead connections go now: the next cycle starts clean */
  /* No process of an earlier generation may outlive its cycle. */
  for(size_t k = 0; k < r->ntg; k++)
    rb_target_kill_survivors(r->tg[k].target, CLEANUP_NS, NULL, 0);
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
  struct tgt *hold = r->first_killed;
  struct rb_fleet_opts fo = {
    .url = r->client_url ? r->client_url : r->pub->url, .streams = r->streams, .publishers = r->sc->publishers,
    .players = r->sc->players, .holders = r->sc->holders, .step_timeout_ns = step_timeout(r->sc), .host = hold->host,
    .port = hold->sc->port, .play_url = r->play == r->pub && r->client_url ? r->client_url : r->play->url,
    .holder_url = hold == r->pub && r->client_url ? r->client_url : hold->url,
    .reconnect = r->sc->reconnect, .seed = r->sc->seed,
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
  /* clients of a target the fault does not hit are not expected to reconnect */
  rb_fleet_set_staying(r->fleet, !r->pub->killed, !r->play->killed);
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
  c = first_cycle_failure(r, r->first_killed, diagnosis);
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

/* Start every target in order, each waited for. RB_OK when all are ready; a failed
   first start is returned, or recorded as a failed cycle (*recorded, RB_OK). */
static rb_err start_all(struct run *r, bool *recorded, char *msg, size_t msglen)
{
  int64_t first_spawn = 0, spawned_at, ready_at = 0;
  rb_err err;

  for(size_t i = 0; i < r->ntg; i++) {
    struct tgt *t = &r->tg[i];

    if(t->external)
      err = start_external(t, &spawned_at, msg, msglen);
    else if((err = start_target(t, 0, &spawned_at, msg, msglen)))
      err = err == RB_ERR_SCENARIO ? err : RB_ERR_SPAWN;
    if(err)
      return err;
    if(!i)
      first_spawn = spawned_at;
    if((err = wait_ready(t, spawned_at + t->sc->ready_timeout_ns, &ready_at, msg, msglen))) {
      if(err != RB_ERR_INTERRUPTED || !stop_requested(r)) {
        char why[RB_FAILURE_LEN * 2];

        /* the probe's own words: "not ready after N attempts", or why it stopped early */
        snprintf(why, sizeof(why), "%s", err == RB_ERR_INTERRUPTED ? "its processes ended" : msg);
        err = first_start_failure(r, t, spawned_at, why, msg, msglen);
        *recorded = !err; /* a failed first cycle: stop here, without an error */
      }
      return err;
    }
  }
  r->res->first_ready_ms = rb_clock_ms(first_spawn, ready_at);
  return RB_OK;
}

rb_err rb_engine_run_scenario(struct rb_scenario *sc, const struct rb_engine_opts *opts,
                              struct rb_scenario_result *res)
{
  struct run r = { .sc = sc, .opts = opts, .res = res };
  char msg[RB_FAILURE_LEN * 2] = "";
  int64_t all_up_at;
  bool recorded = false;
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
  for(size_t i = 0; i < r.ntg; i++) {
    if((err = rb_target_create(&r.tg[i].target, msg, sizeof(msg))))
      goto out;
    rb_target_set_log_limit(r.tg[i].target, sc->log_limit);
  }
  {
    const char *note;

    snprintf(res->containment, sizeof(res->containment), "%s", rb_target_containment(r.first_killed->target, &note));
    snprintf(res->containment_note, sizeof(res->containment_note), "%s", note);
  }
  emit(&r, RB_EVENT_SCENARIO_START, 0, res->port, r.run_dir, NULL);
  r.started_at = rb_clock_now();
  if((err = start_all(&r, &recorded, msg, sizeof(msg))) || recorded)
    goto out;
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
  else if(!err) {
    for(size_t i = 0; i < r.ntg; i++)
      discover_ports(&r, &r.tg[i]);
    err = run_cycles(&r, msg, sizeof(msg));
  }
out:
  rb_fleet_destroy(r.fleet);
  rb_netfault_stop(r.proxy);
  for(size_t i = 0; i < r.ntg; i++)
    rb_target_destroy(r.tg[i].target);
  if(err == RB_ERR_INTERRUPTED)
    res->verdict = RB_VERDICT_INTERRUPTED;
  else if(err) {
    res->verdict = RB_VERDICT_ERROR;
    snprintf(res->error, sizeof(res->error), "%s", msg);
  }
  finish(&r);
  emit(&r, RB_EVENT_SCENARIO_END, 0, 0, NULL, NULL);
  free(r.client_url);
  for(unsigned i = 0; r.streams && i < sc->publishers; i++)
    free(r.streams[i]);
  free(r.streams);
  for(size_t i = 0; i < r.ntg; i++) {
    free(r.tg[i].url);
    free(r.tg[i].host);
    free(r.tg[i].ready_http);
  }
  free_player_urls(r.flv_urls, sc->flv_players);
  free_player_urls(r.hls_urls, sc->hls_players);
  return err;
}
