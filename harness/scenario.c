/*
 * scenario: option table, INI loading through libinih, [global] inheritance,
 * ${var} expansion and validation. See include/rebound/scenario.h.
 *
 * libinih does the key = value splitting; a line reader of our own feeds it so
 * that we know the current line number (inih's handler is not told it in Debian's
 * build), can refuse over-long lines and binary content with a clear message
 * instead of inih's silent truncation, and can check section headers (duplicate,
 * empty, unterminated), which inih never shows to the handler.
 */
#include "rebound/scenario.h"

#include <errno.h>
#include <ini.h>
#include <signal.h>
#include <strings.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "rebound/clock.h"

#define MAX_LINE 4096               /* longest accepted line, bytes */
#define MAX_FILE (4 * 1024 * 1024)  /* largest accepted scenario file */
#define MAX_EXPANSION (256 * 1024)  /* longest expanded value: guards ${a}${a} bombs */
#define MAX_DEPTH 16                /* nesting of ${key} references */
#define MAX_SECTIONS 256
#define MAX_PUBLISHERS 100000

static bool check_fault(const char *value, char *why, size_t whylen);
static bool check_ready(const char *value, char *why, size_t whylen);
static bool check_reconnect(const char *value, char *why, size_t whylen);
static bool check_signal(const char *value, char *why, size_t whylen);

static bool check_net_fault(const char *value, char *why, size_t whylen);
static bool check_net_clients(const char *value, char *why, size_t whylen);

/* Per-key validators for strings with a grammar of their own. */
static bool (*const string_checks[RB_OPT__COUNT])(const char *, char *, size_t) = {
  [RB_OPT_FAULT] = check_fault,
  [RB_OPT_READY] = check_ready,
  [RB_OPT_NET_FAULT] = check_net_fault,
  [RB_OPT_NET_FAULT_CLIENTS] = check_net_clients,
  [RB_OPT_RECONNECT] = check_reconnect,
  [RB_OPT_RELOAD_SIGNAL] = check_signal,
};

#define OFF(field) offsetof(struct rb_scenario, field)

const struct rb_option rb_options[RB_OPT__COUNT] = {
  [RB_OPT_COMMAND] = { "command", RB_OPT_STRING, NULL,
    "shell command that starts the target in the foreground (/bin/sh -c, own session; use exec)", 0, NULL, 0 },
  [RB_OPT_RESTART_COMMAND] = { "restart_command", RB_OPT_STRING, "${command}",
    "command used for restarts, if different", 0, NULL, 0 },
  [RB_OPT_HOST] = { "host", RB_OPT_STRING, "127.0.0.1", "where the target listens", 0, NULL, 0 },
  [RB_OPT_PORT_KEY] = { "port", RB_OPT_PORT, "1935",
    "the RTMP port that must be rebound (auto = a free loopback port)", OFF(port), NULL, 0 },
  [RB_OPT_HTTP_PORT] = { "http_port", RB_OPT_PORT, NULL,
    "a second port for the target's HTTP side (stats, API, HTTP-FLV, HLS), for use as ${http_port}; auto allowed",
    OFF(http_port), NULL, 0 },
  [RB_OPT_APP] = { "app", RB_OPT_STRING, "live", "RTMP application", 0, NULL, 0 },
  [RB_OPT_STREAM] = { "stream", RB_OPT_STRING, "rebound-${client}",
    "stream name pattern; ${client} is the client index", 0, NULL, 0 },
  [RB_OPT_URL] = { "url", RB_OPT_STRING, "rtmp://${host}:${port}/${app}",
    "base URL of the application (rtmps://, rtmpt://, librtmp options after a space)", 0, NULL, 0 },
  [RB_OPT_CONFIG_TEMPLATE] = { "config_template", RB_OPT_STRING, NULL,
    "file rendered with ${var} expansion into ${run_dir} before each start; its path is ${config}", 0, NULL, 0 },
  [RB_OPT_READY] = { "ready", RB_OPT_STRING, "listen",
    "when the target counts as started (one of the words below)", 0, rb_ready_words, 0 },
  [RB_OPT_READY_TIMEOUT] = { "ready_timeout", RB_OPT_DURATION, "10s", "time allowed for the first start",
    OFF(ready_timeout_ns), NULL, 0 },
  [RB_OPT_FAULT] = { "fault", RB_OPT_STRING, "sigkill",
    "how the target is faulted each cycle (one of the words below)", 0, rb_fault_words, 0 },
  [RB_OPT_FAULT_AT] = { "fault_at", RB_OPT_ENUM, "publishing",
    "what the clients are doing when the fault comes (one of the words below)", OFF(fault_at),
    rb_fault_at_words, 0 },
  [RB_OPT_GRACE] = { "grace", RB_OPT_DURATION, "5s", "with sigterm: time before SIGKILL", OFF(grace_ns), NULL, 0 },
  [RB_OPT_HANG_FOR] = { "hang_for", RB_OPT_DURATION, "2s", "with hang: how long the target stays stopped",
    OFF(hang_for_ns), NULL, 0 },
  [RB_OPT_NET_FAULT] = { "net_fault", RB_OPT_STRING, NULL,
    "clients go through a fault proxy on a private loopback port; at the fault: blackhole (nothing "
    "forwarded or sent, both sockets kept open: the hit clients see their network die, the server sees "
    "nothing), reset (RST both sides), partition:D (blackhole for D, then heal); for the whole run: "
    "latency:D, bandwidth:RATE (bytes/s, 500k, 2M). With fault = network it is the cycle's only fault, "
    "else it comes with the kill (a host crash)", 0, NULL, 0 },
  [RB_OPT_NET_FAULT_CLIENTS] = { "net_fault_clients", RB_OPT_STRING, "all",
    "who net_fault hits (one of the words below, or N: the first N publishers, then players)", 0,
    rb_net_clients_words, 0 },
  [RB_OPT_CYCLES] = { "cycles", RB_OPT_UINT, "10", "kill/restart cycles", OFF(cycles), NULL, 1000000 },
  [RB_OPT_DURATION_KEY] = { "duration", RB_OPT_DURATION, "0", "stop after this long as well (0 = no bound)",
    OFF(duration_ns), NULL, 0 },
  [RB_OPT_PUBLISHERS] = { "publishers", RB_OPT_UINT, "1", "clients that publish (each its own stream)",
    OFF(publishers), NULL, MAX_PUBLISHERS },
  [RB_OPT_PLAYERS] = { "players", RB_OPT_UINT, "0",
    "clients that play the publishers' streams and check sequence numbers", OFF(players), NULL, MAX_PUBLISHERS },
  [RB_OPT_FLV_PLAYERS] = { "flv_players", RB_OPT_UINT, "0",
    "clients that play the publishers' streams over HTTP-FLV (flv_url) and check sequence numbers",
    OFF(flv_players), NULL, MAX_PUBLISHERS },
  [RB_OPT_FLV_URL] = { "flv_url", RB_OPT_STRING, "http://${host}:${http_port}/${app}/${stream}.flv",
    "HTTP-FLV URL of a stream; ${stream} is the stream the player plays", 0, NULL, 0 },
  [RB_OPT_HLS_PLAYERS] = { "hls_players", RB_OPT_UINT, "0",
    "clients that poll the HLS media playlist (hls_url), fetch and decode each new segment, check "
    "sequence numbers and that the media sequence goes on or says EXT-X-DISCONTINUITY across a restart",
    OFF(hls_players), NULL, MAX_PUBLISHERS },
  [RB_OPT_HLS_URL] = { "hls_url", RB_OPT_STRING, "http://${host}:${http_port}/hls/${stream}.m3u8",
    "HLS media playlist URL of a stream; ${stream} is the stream the player plays", 0, NULL, 0 },
  [RB_OPT_HOLDERS] = { "holders", RB_OPT_UINT, "2",
    "connections that go idle and stay open across the fault (the classic rebind bug's condition)",
    OFF(holders), NULL, MAX_PUBLISHERS },
  [RB_OPT_PUBLISH_FOR] = { "publish_for", RB_OPT_DURATION, "1s", "steady publishing before the fault",
    OFF(publish_for_ns), NULL, 0 },
  [RB_OPT_REBIND_TIMEOUT] = { "rebind_timeout", RB_OPT_DURATION, "5s", "restart -> port LISTENing again",
    OFF(rebind_timeout_ns), NULL, 0 },
  [RB_OPT_RECONNECT_TIMEOUT] = { "reconnect_timeout", RB_OPT_DURATION, "10s",
    "restart -> every client publishing/playing again", OFF(reconnect_timeout_ns), NULL, 0 },
  [RB_OPT_STAT_URL] = { "stat_url", RB_OPT_STRING, NULL,
    "HTTP stats page fetched after publishing (nginx-rtmp /stat, SRS /api/v1/streams, ...)", 0, NULL, 0 },
  [RB_OPT_STAT_EXPECT] = { "stat_expect", RB_OPT_STRING, "${stream}", "text each stream must show on stat_url",
    0, NULL, 0 },
  [RB_OPT_MEDIA] = { "media", RB_OPT_STRING, NULL,
    "FLV file to publish instead of the built-in H.264+AAC clip", 0, NULL, 0 },
  [RB_OPT_SEED] = { "seed", RB_OPT_U64, "1", "seed for every random choice; printed, so a failure can be replayed",
    OFF(seed), NULL, 0 },
  [RB_OPT_MAX_REBIND_MS] = { "max_rebind_ms", RB_OPT_MS, "0", "threshold on rebind p99 in ms (0 = off)",
    OFF(max_rebind_ns), NULL, 0 },
  [RB_OPT_MAX_RECONNECT_MS] = { "max_reconnect_ms", RB_OPT_MS, "0", "threshold on reconnect p99 in ms (0 = off)",
    OFF(max_reconnect_ns), NULL, 0 },
  [RB_OPT_EXPECT] = { "expect", RB_OPT_ENUM, "pass",
    "pass, or fail for a known server bug (one of the words below)", OFF(expect), rb_expect_words, 0 },
  [RB_OPT_LOG_LIMIT] = { "log_limit", RB_OPT_SIZE, "4MiB",
    "bytes kept of each start's output in server-N.log: the first half and the last quarter at least, "
    "with a line saying how many were dropped (0 = keep all)", OFF(log_limit), NULL, (uint64_t)1 << 40 },
  [RB_OPT_TARGETS] = { "targets", RB_OPT_STRING, NULL,
    "topology: the [target NAME] sections this scenario runs, started in this order, each waited for "
    "(default: every [target] section, in file order)", 0, NULL, 0 },
  [RB_OPT_FAULT_TARGET] = { "fault_target", RB_OPT_STRING, NULL,
    "topology: the target the fault hits, or all (every target at once, like a host crash; default: the first)",
    0, NULL, 0 },
  [RB_OPT_PUBLISH_TO] = { "publish_to", RB_OPT_STRING, NULL,
    "topology: the target publishers publish to (default: the first; holders go to the first target the fault hits)", 0, NULL, 0 },
  [RB_OPT_PLAY_FROM] = { "play_from", RB_OPT_STRING, NULL,
    "topology: the target players play from (default: publish_to); HTTP-FLV/HLS players too, "
    "from its host and http_port, and only when the fault restarts it", 0, NULL, 0 },
  [RB_OPT_RECONNECT] = { "reconnect", RB_OPT_STRING, "rebound",
    "how publishers and players come back: rebound (2 ms doubling to 100 ms, retries when the port "
    "listens again), obs (OBS Studio: 2 s, x1.5 + per-client jitter, cap 15 min, 25 retries), "
    "supervisor[:D] (the encoder exits and is restarted as a brand-new client after D, default 100 ms), "
    "fixed:D; tune with ,first=D,factor=X,jitter=X,cap=D,retries=N (e.g. obs:retries=20, fixed:5s,first=0)",
    0, NULL, 0 },
  [RB_OPT_KEEP_ACROSS_RECONNECT] = { "keep_across_reconnect", RB_OPT_ENUM, "nothing",
    "state the publishers carry into their next connection (one of the words below)",
    OFF(keep_across_reconnect), rb_keep_words, 0 },
  [RB_OPT_RELOAD_SIGNAL] = { "reload_signal", RB_OPT_STRING, "SIGHUP",
    "with fault = reload: the signal sent to the main process (SIGHUP, HUP, SIGUSR2, or a number)", 0, NULL, 0 },
  [RB_OPT_RELOAD_COMMAND] = { "reload_command", RB_OPT_STRING, NULL,
    "with fault = reload: a command to run instead of sending reload_signal "
    "(e.g. nginx -s reload -p ${run_dir} -c ${config})", 0, NULL, 0 },
  [RB_OPT_RELOAD_TIMEOUT] = { "reload_timeout", RB_OPT_DURATION, "10s",
    "with fault = reload: time the old workers have to finish their connections and exit",
    OFF(reload_timeout_ns), NULL, 0 },
};

/* What a [target NAME] section may set: how to start, reach and watch one server. */
static const bool target_keys[RB_OPT__COUNT] = {
  [RB_OPT_COMMAND] = true, [RB_OPT_RESTART_COMMAND] = true, [RB_OPT_HOST] = true, [RB_OPT_PORT_KEY] = true,
  [RB_OPT_HTTP_PORT] = true, [RB_OPT_APP] = true, [RB_OPT_URL] = true, [RB_OPT_CONFIG_TEMPLATE] = true,
  [RB_OPT_READY] = true, [RB_OPT_READY_TIMEOUT] = true, [RB_OPT_STAT_URL] = true, [RB_OPT_STAT_EXPECT] = true,
};

/* What ${NAME.x} may ask of another target. */
static const char *const target_fields[] = { "port", "http_port", "host", NULL };

#define TARGET_PREFIX "target "

bool rb_option_is_target_key(enum rb_opt_id id)
{
  return (size_t)id < RB_OPT__COUNT && target_keys[id];
}

/* Built-in variables, besides the keys themselves. */
static const char *const builtin_names[] = {
  "port", "host", "http_port", "run_dir", "scenario_dir", "cycle", "client", "config", "name", NULL
};

const struct rb_option *rb_option_find(const char *name)
{
  for(size_t i = 0; i < RB_OPT__COUNT; i++)
    if(!strcmp(rb_options[i].name, name))
      return &rb_options[i];
  return NULL;
}

/* ---- growable string ------------------------------------------------------ */

struct sbuf {
  char *data;
  size_t len, cap;
  bool overflow;
};

static bool sbuf_add(struct sbuf *b, const char *s, size_t n)
{
  if(b->len + n + 1 > MAX_EXPANSION) {
    b->overflow = true;
    return false;
  }
  if(b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 64;
    char *p;

    while(cap < b->len + n + 1)
      cap *= 2;
    p = realloc(b->data, cap);
    if(!p)
      return false;
    b->data = p;
    b->cap = cap;
  }
  memcpy(b->data + b->len, s, n);
  b->len += n;
  b->data[b->len] = '\0';
  return true;
}

/* ---- ${var} syntax -------------------------------------------------------- */

static bool valid_section_char(char c);

/* NAME.port, NAME.http_port, NAME.host: another target's (checked against the
   scenario's targets once the file is read). */
static bool is_target_ref(const char *name, size_t len)
{
  const char *dot = memchr(name, '.', len);

  if(!dot || dot == name)
    return false;
  for(const char *p = name; p < dot; p++)
    if(!valid_section_char(*p) || *p == '.')
      return false;
  for(size_t i = 0; target_fields[i]; i++)
    if(strlen(target_fields[i]) == (size_t)(name + len - dot - 1) && !strncmp(dot + 1, target_fields[i], strlen(target_fields[i])))
      return true;
  return false;
}

static bool is_known_name(const char *name, size_t len)
{
  if(is_target_ref(name, len))
    return true;
  for(size_t i = 0; builtin_names[i]; i++)
    if(strlen(builtin_names[i]) == len && !strncmp(builtin_names[i], name, len))
      return true;
  for(size_t i = 0; i < RB_OPT__COUNT; i++)
    if(strlen(rb_options[i].name) == len && !strncmp(rb_options[i].name, name, len))
      return true;
  return false;
}

/* Check that every ${...} in text is terminated and names something known.
   `$${` is an escaped literal `${` (for shell variables in commands). */
static bool check_refs(const char *text, char *why, size_t whylen)
{
  for(const char *p = text; (p = strchr(p, '$')); ) {
    if(p[1] == '$' && p[2] == '{') {
      p += 3;
      continue;
    }
    if(p[1] != '{') {
      p++;
      continue;
    }
    const char *name = p + 2;
    const char *end = strchr(name, '}');
    if(!end) {
      snprintf(why, whylen, "unterminated ${ in '%.40s'", p);
      return false;
    }
    if(!is_known_name(name, (size_t)(end - name))) {
      snprintf(why, whylen, "unknown variable ${%.*s} (see 'rebound keys')", (int)(end - name), name);
      return false;
    }
    p = end + 1;
  }
  return true;
}

/* ---- expansion ------------------------------------------------------------ */

static rb_err expand_into(const struct rb_scenario *sc, const char *text,
                          const struct rb_scenario_vars *vars, int depth, struct sbuf *out,
                          char *msg, size_t msglen);

static const struct rb_scenario *find_target(const struct rb_scenario *topology, const char *name, size_t len)
{
  for(size_t i = 0; topology && i < topology->ntargets; i++)
    if(strlen(topology->targets[i].target_name) == len && !strncmp(topology->targets[i].target_name, name, len))
      return &topology->targets[i];
  return NULL;
}

static rb_err expand_builtin(const struct rb_scenario *sc, const char *name,
                             const struct rb_scenario_vars *vars, int depth, struct sbuf *out,
                             bool *found, char *msg, size_t msglen);

/* ${NAME.port} and friends: the value as target NAME sees it. */
static rb_err expand_target_ref(const struct rb_scenario *sc, const char *name, const struct rb_scenario_vars *vars,
                                int depth, struct sbuf *out, char *msg, size_t msglen)
{
  const char *dot = strchr(name, '.');
  const struct rb_scenario *t = find_target(sc->topology, name, (size_t)(dot - name));
  bool found;

  if(!t)
    return rb_fail(msg, msglen, RB_ERR_SCENARIO, "${%s}: no target %.*s in this scenario's targets", name,
                   (int)(dot - name), name);
  if(depth > MAX_DEPTH)
    return rb_fail(msg, msglen, RB_ERR_SCENARIO, "${...} references nest too deep (a loop?)");
  if(!strcmp(dot + 1, "host"))
    return expand_into(t, t->raw[RB_OPT_HOST] ? t->raw[RB_OPT_HOST] : "", vars, depth + 1, out, msg, msglen);
  return expand_builtin(t, dot + 1, vars, depth + 1, out, &found, msg, msglen);
}

static rb_err expand_builtin(const struct rb_scenario *sc, const char *name,
                             const struct rb_scenario_vars *vars, int depth, struct sbuf *out,
                             bool *found, char *msg, size_t msglen)
{
  char num[32];

  *found = true;
  if(is_target_ref(name, strlen(name)))
    return expand_target_ref(sc, name, vars, depth, out, msg, msglen);
  if(!strcmp(name, "port") && sc->port) {
    snprintf(num, sizeof(num), "%u", (unsigned)sc->port);
    sbuf_add(out, num, strlen(num));
  }
  else if(!strcmp(name, "http_port") && sc->http_port) {
    snprintf(num, sizeof(num), "%u", (unsigned)sc->http_port);
    sbuf_add(out, num, strlen(num));
  }
  else if(!strcmp(name, "scenario_dir"))
    sbuf_add(out, sc->scenario_dir, strlen(sc->scenario_dir));
  else if(!strcmp(name, "name"))
    sbuf_add(out, sc->name, strlen(sc->name));
  else if(!strcmp(name, "run_dir") || !strcmp(name, "config") || !strcmp(name, "cycle") ||
          !strcmp(name, "client")) {
    const char *s = NULL;

    if(vars && !strcmp(name, "run_dir"))
      s = vars->run_dir;
    else if(vars && !strcmp(name, "config"))
      s = vars->config;
    else if(vars && !strcmp(name, "cycle")) {
      snprintf(num, sizeof(num), "%u", vars->cycle);
      s = num;
    }
    else if(vars && !strcmp(name, "client") && vars->client >= 0) {
      snprintf(num, sizeof(num), "%d", vars->client);
      s = num;
    }
    if(!s)
      return rb_fail(msg, msglen, RB_ERR_SCENARIO, "${%s} is not available here", name);
    sbuf_add(out, s, strlen(s));
  }
  else if(!strcmp(name, "port") || !strcmp(name, "http_port")) {
    /* auto port not chosen yet, or http_port never set */
    const struct rb_option *o = rb_option_find(name);
    const char *raw = sc->raw[o - rb_options];

    if(!raw || !strcmp(raw, "auto"))
      return rb_fail(msg, msglen, RB_ERR_SCENARIO, "${%s} has no value here", name);
    return expand_into(sc, raw, vars, depth + 1, out, msg, msglen);
  }
  else
    *found = false;
  return RB_OK;
}

static rb_err expand_into(const struct rb_scenario *sc, const char *text,
                          const struct rb_scenario_vars *vars, int depth, struct sbuf *out,
                          char *msg, size_t msglen)
{
  rb_err err = RB_OK;
  const char *p = text;

  if(depth > MAX_DEPTH)
    return rb_fail(msg, msglen, RB_ERR_SCENARIO, "${...} references nest too deep (a loop?)");
  while(*p) {
    const char *dollar = strchr(p, '$');
    char name[64];
    const char *end;
    bool found;

    if(!dollar) {
      sbuf_add(out, p, strlen(p));
      break;
    }
    sbuf_add(out, p, (size_t)(dollar - p));
    if(dollar[1] == '$' && dollar[2] == '{') {
      sbuf_add(out, "${", 2);
      p = dollar + 3;
      continue;
    }
    if(dollar[1] != '{') {
      sbuf_add(out, "$", 1);
      p = dollar + 1;
      continue;
    }
    end = strchr(dollar + 2, '}');
    if(!end || (size_t)(end - dollar - 2) >= sizeof(name))
      return rb_fail(msg, msglen, RB_ERR_SCENARIO, "unterminated or overlong ${ in '%.40s'", dollar);
    memcpy(name, dollar + 2, (size_t)(end - dollar - 2));
    name[end - dollar - 2] = '\0';
    p = end + 1;
    err = expand_builtin(sc, name, vars, depth, out, &found, msg, msglen);
    if(err)
      return err;
    if(!found) {
      const struct rb_option *o = rb_option_find(name);

      if(!o)
        return rb_fail(msg, msglen, RB_ERR_SCENARIO, "unknown variable ${%s}", name);
      if(sc->raw[o - rb_options]) {
        err = expand_into(sc, sc->raw[o - rb_options], vars, depth + 1, out, msg, msglen);
        if(err)
          return err;
      }
    }
    if(out->overflow)
      return rb_fail(msg, msglen, RB_ERR_SCENARIO, "expanded value longer than %d bytes", MAX_EXPANSION);
  }
  if(!out->data && !sbuf_add(out, "", 0))
    return rb_fail(msg, msglen, RB_ERR_NOMEM, "out of memory");
  if(out->overflow)
    return rb_fail(msg, msglen, RB_ERR_SCENARIO, "expanded value longer than %d bytes", MAX_EXPANSION);
  return RB_OK;
}

rb_err rb_scenario_expand(const struct rb_scenario *sc, const char *text,
                          const struct rb_scenario_vars *vars, char **out, char *msg, size_t msglen)
{
  struct sbuf b = { 0 };
  rb_err err = expand_into(sc, text ? text : "", vars, 0, &b, msg, msglen);

  if(err) {
    free(b.data);
    *out = NULL;
    return err;
  }
  *out = b.data;
  return RB_OK;
}

rb_err rb_scenario_expand_key(const struct rb_scenario *sc, enum rb_opt_id id,
                              const struct rb_scenario_vars *vars, char **out, char *msg, size_t msglen)
{
  return rb_scenario_expand(sc, sc->raw[id], vars, out, msg, msglen);
}

/* ---- typed values --------------------------------------------------------- */

static bool parse_uint(const char *s, uint64_t max, uint64_t *out)
{
  uint64_t v = 0;

  if(!*s)
    return false;
  for(; *s; s++) {
    if(*s < '0' || *s > '9')
      return false;
    if(v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
      return false;
    v = v * 10 + (uint64_t)(*s - '0');
  }
  if(v > max)
    return false;
  *out = v;
  return true;
}

/* A string with a grammar of words (fault, ready): one of its rows must match. */
static bool check_words(const struct rb_option *o, const char *value, char *why, size_t whylen)
{
  const char *rest;
  const struct rb_word *w = rb_word_match(o->words, value, &rest);
  char list[300];

  if(w)
    return true;
  rb_words_format(o->words, " or ", list, sizeof(list));
  snprintf(why, whylen, "bad %s '%.60s': expected %s", o->name, value, list);
  return false;
}

static bool check_net_fault(const char *value, char *why, size_t whylen)
{
  struct rb_netfault_spec spec;

  return rb_netfault_parse(value, &spec, why, whylen);
}

static bool parse_net_clients(const char *value, enum rb_net_clients *which, unsigned *n)
{
  const struct rb_word *w = rb_word_match(rb_net_clients_words, value, NULL);
  uint64_t u;

  if(w) {
    *which = (enum rb_net_clients)w->value;
    *n = 0;
    return true;
  }
  if(!parse_uint(value, MAX_PUBLISHERS * 2, &u) || u == 0)
    return false;
  *which = RB_NET_CLIENTS_COUNT;
  *n = (unsigned)u;
  return true;
}

static bool check_net_clients(const char *value, char *why, size_t whylen)
{
  enum rb_net_clients which;
  unsigned n;

  if(parse_net_clients(value, &which, &n))
    return true;
  snprintf(why, whylen, "bad net_fault_clients '%.60s': expected all, publishers, players or a count", value);
  return false;
}

/* net_fault and fault = network: resolved after every key is checked. */
static rb_err resolve_net_fault(struct rb_scenario *sc, char *msg, size_t msglen)
{
  char why[200];
  enum rb_netfault_kind k;

  memset(&sc->net_fault, 0, sizeof(sc->net_fault));
  if(sc->raw[RB_OPT_NET_FAULT] && !rb_netfault_parse(sc->raw[RB_OPT_NET_FAULT], &sc->net_fault, why, sizeof(why)))
    return rb_fail(msg, msglen, RB_ERR_SCENARIO, "%s:%d: [%s]: %s", sc->file, sc->line, sc->name, why);
  parse_net_clients(sc->raw[RB_OPT_NET_FAULT_CLIENTS], &sc->net_clients, &sc->net_clients_n);
  k = sc->net_fault.kind;
  if(sc->fault == RB_FAULT_NETWORK && k != RB_NETFAULT_BLACKHOLE && k != RB_NETFAULT_RESET &&
     k != RB_NETFAULT_PARTITION)
    return rb_fail(msg, msglen, RB_ERR_SCENARIO,
                   "%s:%d: [%s]: fault = network needs net_fault = blackhole, reset or partition:D",
                   sc->file, sc->line, sc->name);
  if(k != RB_NETFAULT_NONE && !sc->raw[RB_OPT_COMMAND])
    return rb_fail(msg, msglen, RB_ERR_SCENARIO,
                   "%s:%d: [%s]: net_fault needs a command (rebound starts the server behind its proxy)",
                   sc->file, sc->line, sc->name);
  return RB_OK;
}

static bool check_fault(const char *value, char *why, size_t whylen)
{
  const char *cmd;
  const struct rb_word *w = rb_word_match(rb_fault_words, value, &cmd);

  if(w && w->arg && !*cmd) {
    snprintf(why, whylen, "fault %s%.1s needs a command (%s%s)", w->word, w->arg, w->word, w->arg);
    return false;
  }
  return check_words(&rb_options[RB_OPT_FAULT], value, why, whylen);
}

/* A URL may still hold ${...} here; its prefix is what decides its kind. */
static bool check_ready(const char *value, char *why, size_t whylen)
{
  return check_words(&rb_options[RB_OPT_READY], value, why, whylen);
}

/* 4096, 512KiB, 4MiB, 1GiB; K, M and G alone mean the same binary units. */
static bool parse_size(const char *s, uint64_t max, uint64_t *out)
{
  static const struct { const char *suffix; unsigned shift; } units[] = {
    { "", 0 }, { "B", 0 }, { "K", 10 }, { "KiB", 10 }, { "M", 20 }, { "MiB", 20 }, { "G", 30 }, { "GiB", 30 },
  };
  size_t digits = strspn(s, "0123456789");
  char number[32];
  uint64_t v;

  if(!digits || digits >= sizeof(number))
    return false;
  memcpy(number, s, digits);
  number[digits] = '\0';
  for(size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
    if(strcmp(s + digits, units[i].suffix) || !parse_uint(number, max >> units[i].shift, &v))
      continue;
    *out = v << units[i].shift;
    return true;
  }
  return false;
}

static bool check_reconnect(const char *value, char *why, size_t whylen)
{
  struct rb_backoff_profile p;

  return rb_backoff_parse(value, &p, why, whylen) == RB_OK;
}

/* "SIGHUP", "HUP", "hup" or a number from 1 to 64; 0 when not a signal. */
static int parse_signal(const char *value)
{
  static const struct { const char *name; int sig; } names[] = {
    { "HUP", SIGHUP }, { "INT", SIGINT }, { "QUIT", SIGQUIT }, { "USR1", SIGUSR1 }, { "USR2", SIGUSR2 },
    { "TERM", SIGTERM }, { "WINCH", SIGWINCH }, { "CONT", SIGCONT },
  };
  const char *name = strncasecmp(value, "SIG", 3) ? value : value + 3;
  uint64_t n;

  if(parse_uint(value, 64, &n))
    return (int)n;
  for(size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
    if(!strcasecmp(name, names[i].name))
      return names[i].sig;
  return 0;
}

static bool check_signal(const char *value, char *why, size_t whylen)
{
  if(parse_signal(value) > 0)
    return true;
  snprintf(why, whylen, "bad reload_signal '%.40s': expected SIGHUP, SIGUSR1, SIGUSR2, SIGQUIT, SIGTERM, SIGINT, "
           "SIGWINCH, SIGCONT or a number from 1 to 64", value);
  return false;
}

/* Parse the (already expanded) value of option o into sc. */
static bool parse_typed(struct rb_scenario *sc, const struct rb_option *o, const char *v,
                        char *why, size_t whylen)
{
  char *field = (char *)sc + o->offset;
  uint64_t u;
  int64_t ns;

  switch(o->type) {
  case RB_OPT_STRING:
    return true;
  case RB_OPT_UINT:
    if(!parse_uint(v, o->max, &u)) {
      snprintf(why, whylen, "bad value '%.60s' for %s: expected a whole number from 0 to %" PRIu64,
               v, o->name, o->max);
      return false;
    }
    *(unsigned *)(void *)field = (unsigned)u;
    return true;
  case RB_OPT_U64:
    if(!parse_uint(v, UINT64_MAX, &u)) {
      snprintf(why, whylen, "bad value '%.60s' for %s: expected a whole number below 2^64", v, o->name);
      return false;
    }
    *(uint64_t *)(void *)field = u;
    return true;
  case RB_OPT_DURATION:
  case RB_OPT_MS:
    if(o->type == RB_OPT_MS && parse_uint(v, INT64_MAX / RB_NS_PER_MS, &u))
      ns = (int64_t)u * RB_NS_PER_MS;
    else if(!rb_duration_parse(v, &ns)) {
      snprintf(why, whylen, "bad duration '%.60s' for %s: use e.g. 250ms, 2s, 1m", v, o->name);
      return false;
    }
    *(int64_t *)(void *)field = ns;
    return true;
  case RB_OPT_PORT: {
    bool *is_auto = o->offset == OFF(port) ? &sc->port_auto : &sc->http_port_auto;

    if(!strcmp(v, "auto")) {
      *(uint16_t *)(void *)field = 0;
      *is_auto = true;
      return true;
    }
    if(!parse_uint(v, 65535, &u) || u == 0) {
      snprintf(why, whylen, "bad port '%.60s' for %s: expected 1 to 65535 or auto", v, o->name);
      return false;
    }
    *(uint16_t *)(void *)field = (uint16_t)u;
    *is_auto = false;
    return true;
  }
  case RB_OPT_SIZE:
    /* a size bounds something kept: below 4 KiB neither a head nor a tail fits */
    if(!parse_size(v, o->max, &u) || (u && u < 4096)) {
      snprintf(why, whylen, "bad size '%.60s' for %s: expected 0 or 4KiB to %" PRIu64 "GiB (e.g. 512KiB, 4MiB)",
               v, o->name, o->max >> 30);
      return false;
    }
    *(uint64_t *)(void *)field = u;
    return true;
  case RB_OPT_ENUM: {
    const struct rb_word *w = rb_word_match(o->words, v, NULL);
    char list[300];

    if(w && !w->arg) {
      *(int *)(void *)field = w->value;
      return true;
    }
    rb_words_format(o->words, ", ", list, sizeof(list));
    snprintf(why, whylen, "bad value '%.60s' for %s: expected one of %s", v, o->name, list);
    return false;
  }
  }
  return false;
}

/* Validate one raw value at load time: ${} syntax, and the typed parse when the
   value holds no ${...} (those are parsed after inheritance, in finalize). */
static bool validate_value(const struct rb_option *o, const char *value, char *why, size_t whylen)
{
  struct rb_scenario scratch = { 0 };

  if(!check_refs(value, why, whylen))
    return false;
  if(strstr(value, "${"))
    return true;
  if(o->type == RB_OPT_STRING) {
    size_t id = (size_t)(o - rb_options);

    return !string_checks[id] || string_checks[id](value, why, whylen);
  }
  return parse_typed(&scratch, o, value, why, whylen);
}

/* ---- loading -------------------------------------------------------------- */

/* NAME.key = value in [global] or a scenario: one target's key, for this scenario. */
struct target_key {
  char *target;
  size_t id;
  char *value;
  int line;
};

#define MAX_TARGET_KEYS 64 /* per section */

struct section {
  char *name;             /* "target NAME" for a target section */
  const char *tname;      /* NAME of a target section, NULL for the others */
  int line;
  char *raw[RB_OPT__COUNT];
  int raw_line[RB_OPT__COUNT];
  struct target_key tkeys[MAX_TARGET_KEYS];
  size_t ntkeys;
};

struct loader {
  const char *file;
  const char *text;
  size_t len, pos;
  int line;
  bool failed;
  int fail_line;
  char why[512];
  struct section sections[MAX_SECTIONS];
  size_t nsections;
  struct section *current;
};

static bool fail_at(struct loader *ld, int line, const char *fmt, const char *arg, int num)
{
  ld->failed = true;
  ld->fail_line = line;
  snprintf(ld->why, sizeof(ld->why), fmt, arg, num);
  return false;
}

static struct section *find_section(struct loader *ld, const char *name)
{
  for(size_t i = 0; i < ld->nsections; i++)
    if(!strcmp(ld->sections[i].name, name))
      return &ld->sections[i];
  return NULL;
}

static bool valid_section_char(char c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         c == '_' || c == '-' || c == '.';
}

/* A [section] header line: check it and open the section. */
static bool open_section(struct loader *ld, const char *p)
{
  const char *close = strchr(p, ']');
  char name[128];
  size_t n;
  struct section *s;

  if(!close)
    return fail_at(ld, ld->line, "unterminated section header (missing ']')%s", "", 0);
  for(const char *q = close + 1; *q && *q != '\n' && *q != '\r'; q++)
    if(*q != ' ' && *q != '\t')
      return fail_at(ld, ld->line, "unexpected text after section header%s", "", 0);
  n = (size_t)(close - p - 1);
  if(n == 0)
    return fail_at(ld, ld->line, "empty section name []%s", "", 0);
  if(n >= sizeof(name))
    return fail_at(ld, ld->line, "section name too long%s", "", 0);
  memcpy(name, p + 1, n);
  name[n] = '\0';
  /* [target NAME]: one server of a topology */
  size_t skip = !strncmp(name, TARGET_PREFIX, strlen(TARGET_PREFIX)) ? strlen(TARGET_PREFIX) : 0;
  if(skip && (!name[skip] || !strcmp(name + skip, "all")))
    return fail_at(ld, ld->line, "bad section name [%s]: a target needs a name (not 'all')", name, 0);
  for(size_t i = skip; i < n; i++)
    if(!valid_section_char(name[i]) || (skip && name[i] == '.'))
      return fail_at(ld, ld->line, skip ? "bad target name [%s]: use letters, digits, '-' and '_'" :
                     "bad section name [%s]: use letters, digits, '-', '_' and '.'", name, 0);
  if((s = find_section(ld, name)))
    return fail_at(ld, ld->line, "duplicate section [%s] (first at line %d)", name, s->line);
  if(ld->nsections == MAX_SECTIONS)
    return fail_at(ld, ld->line, "too many sections (more than %s%d)", "", MAX_SECTIONS);
  s = &ld->sections[ld->nsections++];
  s->name = strdup(name);
  s->tname = s->name && skip ? s->name + skip : NULL;
  s->line = ld->line;
  ld->current = s;
  return s->name != NULL;
}

/* inih's line source: one line per call, so ld->line is the line being parsed. */
static char *read_line(char *str, int num, void *stream)
{
  struct loader *ld = stream;
  const char *start, *nl, *p;
  size_t n;

  /* A UTF-8 byte order mark (some Windows editors write one) is not content:
     left in place it hid the first [section] from the header check below, and
     its keys were then reported as "outside a section". */
  if(ld->pos == 0 && ld->len >= 3 && !memcmp(ld->text, "\xef\xbb\xbf", 3))
    ld->pos = 3;
  if(ld->failed || ld->pos >= ld->len)
    return NULL;
  start = ld->text + ld->pos;
  nl = memchr(start, '\n', ld->len - ld->pos);
  n = nl ? (size_t)(nl - start) + 1 : ld->len - ld->pos;
  ld->line++;
  for(size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)start[i];

    if(c < 0x20 && c != '\t' && c != '\r' && c != '\n') {
      fail_at(ld, ld->line, "binary content (byte 0x%s%02x): not a scenario file", "", c);
      return NULL;
    }
  }
  if(n + 1 > (size_t)num || n > MAX_LINE) {
    fail_at(ld, ld->line, "line too long (more than %s%d bytes)", "", num - 3 < MAX_LINE ? num - 3 : MAX_LINE);
    return NULL;
  }
  memcpy(str, start, n);
  str[n] = '\0';
  ld->pos += n;
  for(p = str; *p == ' ' || *p == '\t'; p++)
    ;
  if(*p == '[' && !open_section(ld, p))
    return NULL;
  return str;
}

/* NAME.key = value: kept for build_view, checked like any value of key. */
static int on_target_key(struct loader *ld, struct section *s, const char *name, const char *value)
{
  const char *dot = strchr(name, '.');
  const struct rb_option *o = rb_option_find(dot + 1);
  struct target_key *k;
  char why[400];

  if(!o || !target_keys[o - rb_options] || dot == name) {
    snprintf(why, sizeof(why), "bad key '%.60s': NAME.KEY sets a target key (command, port, ready, ...) of "
             "[target NAME] for this scenario", name);
    return fail_at(ld, ld->line, "%s", why, 0);
  }
  for(size_t i = 0; i < s->ntkeys; i++)
    if(s->tkeys[i].id == (size_t)(o - rb_options) && strlen(s->tkeys[i].target) == (size_t)(dot - name) &&
       !strncmp(s->tkeys[i].target, name, (size_t)(dot - name))) {
      snprintf(why, sizeof(why), "duplicate key '%.60s' in [%s] (first at line %d)", name, s->name, s->tkeys[i].line);
      return fail_at(ld, ld->line, "%s", why, 0);
    }
  if(s->ntkeys == MAX_TARGET_KEYS)
    return fail_at(ld, ld->line, "more than %s%d NAME.KEY lines in one section", "", MAX_TARGET_KEYS);
  if(!validate_value(o, value, why, sizeof(why)))
    return fail_at(ld, ld->line, "%s", why, 0);
  k = &s->tkeys[s->ntkeys];
  if(!(k->target = strndup(name, (size_t)(dot - name))) || !(k->value = strdup(value))) {
    free(k->target);
    return fail_at(ld, ld->line, "out of memory%s", "", 0);
  }
  k->id = (size_t)(o - rb_options);
  k->line = ld->line;
  s->ntkeys++;
  return 1;
}

static int on_key(void *user, const char *section, const char *name, const char *value)
{
  struct loader *ld = user;
  const struct rb_option *o;
  struct section *s = ld->current;
  char why[400];
  size_t id;

  if(ld->failed)
    return 0;
  if(!s || strcmp(s->name, section))
    return fail_at(ld, ld->line, "key '%s' outside a section: put it under [global] or [NAME]", name, 0);
  if(strchr(name, '.') && !s->tname)
    return on_target_key(ld, s, name, value);
  if(!(o = rb_option_find(name))) {
    snprintf(why, sizeof(why), "unknown key '%.60s' (see 'rebound keys')", name);
    return fail_at(ld, ld->line, "%s", why, 0);
  }
  id = (size_t)(o - rb_options);
  if(s->tname && !target_keys[id]) {
    snprintf(why, sizeof(why), "key '%.60s' is not a target key (a [target] section sets how to start and reach "
             "one server: command, port, ready, ...): put it under [global] or a scenario", name);
    return fail_at(ld, ld->line, "%s", why, 0);
  }
  id = (size_t)(o - rb_options);
  if(s->raw[id]) {
    snprintf(why, sizeof(why), "duplicate key '%s' in [%s] (first at line %d)", name, s->name, s->raw_line[id]);
    return fail_at(ld, ld->line, "%s", why, 0);
  }
  if(!validate_value(o, value, why, sizeof(why)))
    return fail_at(ld, ld->line, "%s", why, 0);
  if(!(s->raw[id] = strdup(value)))
    return fail_at(ld, ld->line, "out of memory%s", "", 0);
  s->raw_line[id] = ld->line;
  return 1;
}

static void free_sections(struct loader *ld)
{
  for(size_t i = 0; i < ld->nsections; i++) {
    for(size_t k = 0; k < ld->sections[i].ntkeys; k++) {
      free(ld->sections[i].tkeys[k].target);
      free(ld->sections[i].tkeys[k].value);
    }
    free(ld->sections[i].name);
    for(size_t k = 0; k < RB_OPT__COUNT; k++)
      free(ld->sections[i].raw[k]);
  }
}

static void scenario_free(struct rb_scenario *sc)
{
  for(size_t i = 0; sc->targets && i < sc->ntargets; i++)
    scenario_free(&sc->targets[i]);
  free(sc->targets);
  free(sc->target_name);
  free(sc->name);
  free(sc->file);
  free(sc->scenario_dir);
  free(sc->fault_exec);
  for(size_t k = 0; k < RB_OPT__COUNT; k++)
    free(sc->raw[k]);
}

void rb_scenario_set_free(struct rb_scenario_set *set)
{
  if(!set)
    return;
  for(size_t i = 0; i < set->count; i++)
    scenario_free(&set->items[i]);
  free(set->items);
  free(set->file);
  memset(set, 0, sizeof(*set));
}

/* Where a value came from, for messages: "FILE:LINE", "--set" or "FILE" (default). */
static void place(const struct rb_scenario *sc, size_t id, char *buf, size_t buflen)
{
  if(sc->raw_line[id] > 0)
    snprintf(buf, buflen, "%s:%d", sc->file, sc->raw_line[id]);
  else if(sc->raw_line[id] < 0)
    snprintf(buf, buflen, "--set %s", rb_options[id].name);
  else
    snprintf(buf, buflen, "%s:%d", sc->file, sc->line);
}

/* HTTP players play from play_from in a topology (their URLs expand with its host and
   http_port), and only from a target the fault restarts: their recovery through a
   topology's untouched target is not measured, so that is refused, not judged wrong.
   Checked once, on the scenario (target views inherit flv_players/hls_players). */
static rb_err check_http_players(const struct rb_scenario *sc, char *msg, size_t msglen)
{
  const struct rb_scenario *from = sc->ntargets ? &sc->targets[sc->play_from] : sc;
  const struct { unsigned n; enum rb_opt_id url; } http[] = {
    { sc->flv_players, RB_OPT_FLV_URL }, { sc->hls_players, RB_OPT_HLS_URL } };
  char where[300];

  if(sc->target_name || (!sc->flv_players && !sc->hls_players))
    return RB_OK;
  if(sc->ntargets && sc->fault_target >= 0 && (unsigned)sc->fault_target != sc->play_from) {
    place(sc, sc->flv_players ? RB_OPT_FLV_PLAYERS : RB_OPT_HLS_PLAYERS, where, sizeof(where));
    return rb_fail(msg, msglen, RB_ERR_SCENARIO, "%s: HTTP-FLV and HLS players play from play_from = %s, which "
                   "fault_target = %s does not restart: not supported (play from the target the fault hits)",
                   where, from->target_name, sc->targets[sc->fault_target].target_name);
  }
  /* The default URLs name ${http_port}: a missing one is an error now, not at run time. */
  if(from->raw[RB_OPT_HTTP_PORT])
    return RB_OK;
  for(size_t i = 0; i < sizeof(http) / sizeof(http[0]); i++)
    if(http[i].n && strstr(sc->raw[http[i].url], "${http_port}"))
      return rb_fail(msg, msglen, RB_ERR_SCENARIO, "%s:%d: [%s] has %s players but %s names ${http_port}, "
                     "which is not set%s%s", sc->file, sc->line, sc->name, i ? "HLS" : "HTTP-FLV",
                     rb_options[http[i].url].name, sc->ntargets ? " on play_from target " : "",
                     sc->ntargets ? from->target_name : "");
  return RB_OK;
}

/* After inheritance: expand and parse every typed value, then cross-check keys. */
static rb_err finalize(struct rb_scenario *sc, char *msg, size_t msglen)
{
  char where[300], why[400], *value = NULL;
  rb_err err;

  for(size_t id = 0; id < RB_OPT__COUNT; id++) {
    const struct rb_option *o = &rb_options[id];
    bool is_string = o->type == RB_OPT_STRING;

    if(!sc->raw[id] || (is_string && !string_checks[id]))
      continue;
    place(sc, id, where, sizeof(where));
    if(!is_string || strstr(sc->raw[id], "${")) {
      err = rb_scenario_expand(sc, sc->raw[id], NULL, &value, why, sizeof(why));
      /* A grammar-checked string (fault = exec:..., ready = http://...) may use run-time
         values such as an auto ${port}; its kind is decided by its prefix, so check the
         raw text when those values are not known yet. */
      if(err && is_string)
        err = (value = strdup(sc->raw[id])) ? RB_OK : RB_ERR_NOMEM;
      if(err)
        return rb_fail(msg, msglen, RB_ERR_SCENARIO, "%s: %s: %s", where, o->name, why);
    }
    else
      value = strdup(sc->raw[id]);
    if(!value)
      return rb_fail(msg, msglen, RB_ERR_NOMEM, "out of memory");
    if(is_string ? !string_checks[id](value, why, sizeof(why)) : !parse_typed(sc, o, value, why, sizeof(why))) {
      free(value);
      return rb_fail(msg, msglen, RB_ERR_SCENARIO, "%s: %s", where, why);
    }
    free(value);
    value = NULL;
  }
  /* fault is a string with a grammar: map it to its kind (and exec's command). */
  {
    const char *arg;
    const struct rb_word *w = rb_word_match(rb_fault_words, sc->raw[RB_OPT_FAULT], &arg);

    sc->fault = w ? (enum rb_fault_kind)w->value : RB_FAULT_SIGKILL;
    if(w && w->arg && !(sc->fault_exec = strdup(arg)))
      return rb_fail(msg, msglen, RB_ERR_NOMEM, "out of memory");
  }
  sc->reload_signal = parse_signal(sc->raw[RB_OPT_RELOAD_SIGNAL]);
  if(rb_backoff_parse(sc->raw[RB_OPT_RECONNECT], &sc->reconnect, why, sizeof(why))) {
    place(sc, RB_OPT_RECONNECT, where, sizeof(where));
    return rb_fail(msg, msglen, RB_ERR_SCENARIO, "%s: %s", where, why);
  }
  if(!sc->raw[RB_OPT_COMMAND] && sc->fault != RB_FAULT_EXEC && !sc->ntargets)
    return rb_fail(msg, msglen, RB_ERR_SCENARIO,
                   "%s:%d: [%s%s] has no command (required unless fault = exec:CMD restarts an external server)",
                   sc->file, sc->line, sc->target_name ? TARGET_PREFIX : "",
                   sc->target_name ? sc->target_name : sc->name);
  if((err = resolve_net_fault(sc, msg, msglen)))
    return err;
  if(sc->ntargets && sc->fault_target < 0 && sc->fault == RB_FAULT_RELOAD) {
    place(sc, RB_OPT_FAULT_TARGET, where, sizeof(where));
    return rb_fail(msg, msglen, RB_ERR_SCENARIO, "%s: fault = reload reloads one target: name it in fault_target "
                   "(not all)", where);
  }
  if((sc->players || sc->flv_players || sc->hls_players) && !sc->publishers)
    return rb_fail(msg, msglen, RB_ERR_SCENARIO, "%s:%d: [%s] has players but no publishers to play",
                   sc->file, sc->line, sc->name);
  if((err = check_http_players(sc, msg, msglen)))
    return err;
  if(sc->cycles == 0)
    return rb_fail(msg, msglen, RB_ERR_SCENARIO, "%s:%d: [%s]: cycles must be at least 1",
                   sc->file, sc->line, sc->name);
  return RB_OK;
}

/* Apply one "KEY=VALUE" override to sc. */
static rb_err apply_override(struct rb_scenario *sc, const char *kv, char *msg, size_t msglen)
{
  const char *eq = strchr(kv, '=');
  char key[64], why[400];
  const struct rb_option *o;
  size_t id;

  if(!eq || eq == kv || (size_t)(eq - kv) >= sizeof(key))
    return rb_fail(msg, msglen, RB_ERR_SCENARIO, "--set %s: expected KEY=VALUE", kv);
  memcpy(key, kv, (size_t)(eq - kv));
  key[eq - kv] = '\0';
  if(!(o = rb_option_find(key)))
    return rb_fail(msg, msglen, RB_ERR_SCENARIO, "--set %s: unknown key '%s' (see 'rebound keys')", kv, key);
  if(!validate_value(o, eq + 1, why, sizeof(why)))
    return rb_fail(msg, msglen, RB_ERR_SCENARIO, "--set %s: %s", key, why);
  id = (size_t)(o - rb_options);
  free(sc->raw[id]);
  if(!(sc->raw[id] = strdup(eq + 1)))
    return rb_fail(msg, msglen, RB_ERR_NOMEM, "out of memory");
  sc->raw_line[id] = -1;
  return RB_OK;
}

static bool wanted(const char *name, char *const *only)
{
  if(!only || !only[0])
    return true;
  for(size_t i = 0; only[i]; i++)
    if(!strcmp(only[i], name))
      return true;
  return false;
}

/* One target's view: the scenario, with the target section over its target keys
   (a --set still wins: it was asked for on the command line). */
/* NAME.key lines of sec that name this target: over its target section. */
static rb_err apply_target_keys(struct rb_scenario *v, const struct rb_scenario *sc, const struct section *sec)
{
  for(size_t i = 0; sec && i < sec->ntkeys; i++) {
    const struct target_key *k = &sec->tkeys[i];

    if(strcmp(k->target, v->target_name) || sc->raw_line[k->id] < 0)
      continue; /* another target's, or --set wins */
    free(v->raw[k->id]);
    if(!(v->raw[k->id] = strdup(k->value)))
      return RB_ERR_NOMEM;
    v->raw_line[k->id] = k->line;
  }
  return RB_OK;
}

static rb_err build_view(struct rb_scenario *v, const struct rb_scenario *sc, const struct section *t)
{
  if(!(v->name = strdup(sc->name)) || !(v->file = strdup(sc->file)) || !(v->scenario_dir = strdup(sc->scenario_dir)) ||
     !(v->target_name = strdup(t->tname)))
    return RB_ERR_NOMEM;
  v->line = t->line;
  for(size_t id = 0; id < RB_OPT__COUNT; id++) {
    bool own = target_keys[id] && t->raw[id] && sc->raw_line[id] >= 0;
    const char *value = own ? t->raw[id] : sc->raw[id];

    if(value && !(v->raw[id] = strdup(value)))
      return RB_ERR_NOMEM;
    v->raw_line[id] = own ? t->raw_line[id] : sc->raw_line[id];
  }
  return RB_OK;
}

/* Index of target name in sc's targets, -1 if not there. */
static int target_index(const struct rb_scenario *sc, const char *name)
{
  const struct rb_scenario *t = find_target(sc, name, strlen(name));

  return t ? (int)(t - sc->targets) : -1;
}

/* Every ${NAME.x} in sc's values must name one of the scenario's targets. */
static rb_err check_target_refs(const struct rb_scenario *sc, const struct rb_scenario *top, char *msg, size_t msglen)
{
  for(size_t id = 0; id < RB_OPT__COUNT; id++)
    for(const char *p = sc->raw[id]; p && (p = strstr(p, "${")); p += 2) {
      const char *end = strchr(p + 2, '}');
      char where[300];

      if(!end || !is_target_ref(p + 2, (size_t)(end - p - 2)) || (p > sc->raw[id] && p[-1] == '$'))
        continue;
      if(find_target(top, p + 2, (size_t)(strchr(p + 2, '.') - p - 2)))
        continue;
      place(sc, id, where, sizeof(where));
      return rb_fail(msg, msglen, RB_ERR_SCENARIO, "%s: %s: ${%.*s}: no target %.*s in %s", where,
                     rb_options[id].name, (int)(end - p - 2), p + 2, (int)(strchr(p + 2, '.') - p - 2), p + 2,
                     top->ntargets ? "this scenario's targets" : "the file (add a [target NAME] section)");
    }
  return RB_OK;
}

/* Resolve a target named by key id (fault_target, publish_to, play_from); *out
   unchanged when the key is not set. */
static rb_err resolve_target_key(const struct rb_scenario *sc, size_t id, bool all_ok, int *out, char *msg,
                                 size_t msglen)
{
  char where[300];
  int k;

  if(!sc->raw[id])
    return RB_OK;
  place(sc, id, where, sizeof(where));
  if(!sc->ntargets)
    return rb_fail(msg, msglen, RB_ERR_SCENARIO, "%s: %s needs [target NAME] sections", where, rb_options[id].name);
  if(all_ok && !strcmp(sc->raw[id], "all")) {
    *out = -1;
    return RB_OK;
  }
  if((k = target_index(sc, sc->raw[id])) < 0)
    return rb_fail(msg, msglen, RB_ERR_SCENARIO, "%s: %s = %.60s: not one of this scenario's targets%s", where,
                   rb_options[id].name, sc->raw[id], all_ok ? " (or all)" : "");
  *out = k;
  return RB_OK;
}

/* Every NAME.key of sec must name one of the scenario's targets. */
static rb_err check_target_keys(const struct rb_scenario *sc, struct loader *ld, const struct section *sec,
                                bool is_global, char *msg, size_t msglen)
{
  for(size_t i = 0; sec && i < sec->ntkeys; i++) {
    char name[160];

    /* [global] speaks for every scenario: a target another scenario runs is fine there */
    snprintf(name, sizeof(name), TARGET_PREFIX "%s", sec->tkeys[i].target);
    if(is_global && find_section(ld, name))
      continue;
    if(!find_target(sc, sec->tkeys[i].target, strlen(sec->tkeys[i].target)))
      return rb_fail(msg, msglen, RB_ERR_SCENARIO, "%s:%d: %s.%s: no target %s in %s", sc->file, sec->tkeys[i].line,
                     sec->tkeys[i].target, rb_options[sec->tkeys[i].id].name, sec->tkeys[i].target,
                     sc->ntargets ? "this scenario's targets" : "the file (add a [target NAME] section)");
  }
  return RB_OK;
}

/* [target NAME] sections: the scenario's targets (its `targets`, or all of them). */
static rb_err build_topology(struct rb_scenario *sc, struct loader *ld, const struct section *global,
                             const struct section *own, char *msg, size_t msglen)
{
  const struct section *chosen[RB_MAX_SCENARIO_TARGETS];
  size_t n = 0, nsections = 0;
  char where[300], *list = NULL, *save = NULL;
  int k;
  rb_err err = RB_OK;

  for(size_t i = 0; i < ld->nsections; i++)
    nsections += ld->sections[i].tname != NULL;
  place(sc, RB_OPT_TARGETS, where, sizeof(where));
  if(sc->raw[RB_OPT_TARGETS]) {
    if(!nsections)
      return rb_fail(msg, msglen, RB_ERR_SCENARIO, "%s: targets: no [target NAME] section in the file", where);
    if(!(list = strdup(sc->raw[RB_OPT_TARGETS])))
      return rb_fail(msg, msglen, RB_ERR_NOMEM, "out of memory");
    for(char *name = strtok_r(list, " \t,", &save); name; name = strtok_r(NULL, " \t,", &save)) {
      const struct section *t = NULL;

      for(size_t i = 0; i < ld->nsections && !t; i++)
        if(ld->sections[i].tname && !strcmp(ld->sections[i].tname, name))
          t = &ld->sections[i];
      for(size_t i = 0; t && i < n; i++)
        if(chosen[i] == t)
          err = rb_fail(msg, msglen, RB_ERR_SCENARIO, "%s: targets: %s is listed twice", where, name);
      if(!t)
        err = rb_fail(msg, msglen, RB_ERR_SCENARIO, "%s: targets: no [target %.60s] section", where, name);
      else if(n == RB_MAX_SCENARIO_TARGETS)
        err = rb_fail(msg, msglen, RB_ERR_SCENARIO, "%s: targets: more than %d", where, RB_MAX_SCENARIO_TARGETS);
      if(err)
        break;
      chosen[n++] = t;
    }
    free(list);
    if(err)
      return err;
    if(!n)
      return rb_fail(msg, msglen, RB_ERR_SCENARIO, "%s: targets: empty", where);
  }
  else
    for(size_t i = 0; i < ld->nsections; i++) {
      if(!ld->sections[i].tname)
        continue;
      if(n == RB_MAX_SCENARIO_TARGETS)
        return rb_fail(msg, msglen, RB_ERR_SCENARIO, "%s:%d: more than %d [target] sections: say which this "
                       "scenario runs with targets = ...", sc->file, ld->sections[i].line, RB_MAX_SCENARIO_TARGETS);
      chosen[n++] = &ld->sections[i];
    }
  if(n) {
    if(!(sc->targets = calloc(n, sizeof(*sc->targets))))
      return rb_fail(msg, msglen, RB_ERR_NOMEM, "out of memory");
    sc->ntargets = n;
    sc->topology = sc;
    for(size_t i = 0; i < n; i++) {
      if(build_view(&sc->targets[i], sc, chosen[i]) || apply_target_keys(&sc->targets[i], sc, global) ||
         apply_target_keys(&sc->targets[i], sc, own))
        return rb_fail(msg, msglen, RB_ERR_NOMEM, "out of memory");
      sc->targets[i].topology = sc;
    }
  }
  if((err = check_target_keys(sc, ld, global, true, msg, msglen)) ||
     (err = check_target_keys(sc, ld, own, false, msg, msglen)))
    return err;
  k = 0;
  if((err = resolve_target_key(sc, RB_OPT_FAULT_TARGET, true, &k, msg, msglen)))
    return err;
  sc->fault_target = k;
  k = 0;
  if((err = resolve_target_key(sc, RB_OPT_PUBLISH_TO, false, &k, msg, msglen)))
    return err;
  sc->publish_to = (unsigned)k;
  if((err = resolve_target_key(sc, RB_OPT_PLAY_FROM, false, &k, msg, msglen)))
    return err;
  sc->play_from = (unsigned)k;
  if((err = check_target_refs(sc, sc, msg, msglen)))
    return err;
  for(size_t i = 0; i < sc->ntargets; i++)
    if((err = check_target_refs(&sc->targets[i], sc, msg, msglen)) || (err = finalize(&sc->targets[i], msg, msglen)))
      return err;
  return RB_OK;
}

static rb_err build_scenario(struct rb_scenario *sc, struct loader *ld, const struct section *global,
                             const struct section *s, const char *dir, char *const *overrides,
                             char *msg, size_t msglen)
{
  rb_err err = RB_ERR_NOMEM;

  sc->name = strdup(s->name);
  sc->file = strdup(ld->file);
  sc->scenario_dir = strdup(dir);
  sc->line = s->line;
  if(!sc->name || !sc->file || !sc->scenario_dir)
    return rb_fail(msg, msglen, err, "out of memory");
  for(size_t id = 0; id < RB_OPT__COUNT; id++) {
    const char *v = rb_options[id].def;
    int line = 0;

    if(global && global->raw[id]) {
      v = global->raw[id];
      line = global->raw_line[id];
    }
    if(s->raw[id]) {
      v = s->raw[id];
      line = s->raw_line[id];
    }
    if(v && !(sc->raw[id] = strdup(v)))
      return rb_fail(msg, msglen, err, "out of memory");
    sc->raw_line[id] = line;
  }
  for(size_t i = 0; overrides && overrides[i]; i++)
    if((err = apply_override(sc, overrides[i], msg, msglen)))
      return err;
  if((err = build_topology(sc, ld, global, s, msg, msglen)))
    return err;
  return finalize(sc, msg, msglen);
}

rb_err rb_scenario_load_string(const char *text, const char *name, const char *dir,
                               char *const *overrides, char *const *only,
                               struct rb_scenario_set *out, char *msg, size_t msglen)
{
  struct loader *ld = calloc(1, sizeof(*ld));
  const struct section *global;
  rb_err err = RB_OK;
  size_t want = 0;
  int rc;

  memset(out, 0, sizeof(*out));
  if(!ld)
    return rb_fail(msg, msglen, RB_ERR_NOMEM, "out of memory");
  ld->file = name;
  ld->text = text;
  ld->len = strlen(text);
  /* Debian's libinih exposes its build settings at run time: a heap line buffer
     large enough for our own limit, stop at the first error, and no inline or
     continuation-line magic that would change shell commands behind the user's back. */
  ini_use_stack = false;
  ini_max_line = MAX_LINE + 3;
  ini_initial_alloc = MAX_LINE + 3; /* the heap buffer starts at this size and never grows */
  ini_allow_realloc = false;
  ini_stop_on_first_error = true;
  ini_allow_multiline = false;
  ini_allow_inline_comments = false;
  rc = ini_parse_stream(read_line, ld, on_key, ld);
  if(ld->failed) {
    err = rb_fail(msg, msglen, RB_ERR_SCENARIO, "%s:%d: %s", name, ld->fail_line, ld->why);
    goto out;
  }
  if(rc > 0) {
    err = rb_fail(msg, msglen, RB_ERR_SCENARIO, "%s:%d: syntax error: expected [section], KEY = VALUE or a comment",
                  name, rc);
    goto out;
  }
  if(rc < 0) {
    err = rb_fail(msg, msglen, RB_ERR_NOMEM, "%s: out of memory while parsing", name);
    goto out;
  }
  global = find_section(ld, "global");
  for(size_t i = 0; i < ld->nsections; i++)
    if(&ld->sections[i] != global && !ld->sections[i].tname && wanted(ld->sections[i].name, only))
      want++;
  for(size_t i = 0; only && only[i]; i++)
    if(!find_section(ld, only[i]) || !strcmp(only[i], "global") || find_section(ld, only[i])->tname) {
      err = rb_fail(msg, msglen, RB_ERR_SCENARIO, "%s: no scenario named '%s' (--only)", name, only[i]);
      goto out;
    }
  if(want == 0) {
    err = rb_fail(msg, msglen, RB_ERR_SCENARIO, "%s: no scenarios: add a [NAME] section for each", name);
    goto out;
  }
  out->items = calloc(want, sizeof(*out->items));
  out->file = strdup(name);
  if(!out->items || !out->file) {
    err = rb_fail(msg, msglen, RB_ERR_NOMEM, "out of memory");
    goto out;
  }
  for(size_t i = 0; i < ld->nsections; i++) {
    const struct section *s = &ld->sections[i];

    if(s == global || s->tname || !wanted(s->name, only))
      continue;
    err = build_scenario(&out->items[out->count++], ld, global, s, dir, overrides, msg, msglen);
    if(err)
      goto out;
  }
out:
  if(err)
    rb_scenario_set_free(out);
  free_sections(ld);
  free(ld);
  return err;
}

/* 1-based line number of offset off in text. */
static int line_of(const char *text, size_t off)
{
  int line = 1;

  for(size_t i = 0; i < off; i++)
    line += text[i] == '\n';
  return line;
}

rb_err rb_scenario_load(const char *file, char *const *overrides, char *const *only,
                        struct rb_scenario_set *out, char *msg, size_t msglen)
{
  rb_err err = RB_OK;
  FILE *f = NULL;
  char *text = NULL, *copy = NULL, dir[PATH_MAX];
  struct stat st;
  size_t n;

  memset(out, 0, sizeof(*out));
  if(!(f = fopen(file, "rb"))) {
    err = rb_fail(msg, msglen, errno == ENOENT ? RB_ERR_NOT_FOUND : RB_ERR_IO, "%s: %s", file, strerror(errno));
    goto out;
  }
  if(fstat(fileno(f), &st) || !S_ISREG(st.st_mode)) {
    err = rb_fail(msg, msglen, RB_ERR_IO, "%s: not a regular file", file);
    goto out;
  }
  if(st.st_size > MAX_FILE) {
    err = rb_fail(msg, msglen, RB_ERR_SCENARIO, "%s: file too large for a scenario (%lld bytes)",
                  file, (long long)st.st_size);
    goto out;
  }
  if(!(text = malloc((size_t)st.st_size + 1))) {
    err = rb_fail(msg, msglen, RB_ERR_NOMEM, "out of memory");
    goto out;
  }
  n = fread(text, 1, (size_t)st.st_size, f);
  text[n] = '\0';
  if(n == 0) {
    err = rb_fail(msg, msglen, RB_ERR_SCENARIO, "%s: empty file", file);
    goto out;
  }
  if(strlen(text) != n) {
    err = rb_fail(msg, msglen, RB_ERR_SCENARIO, "%s:%d: binary content (NUL byte): not a scenario file",
                  file, line_of(text, strlen(text)));
    goto out;
  }
  if(!(copy = strdup(file)) || !realpath(dirname(copy), dir)) {
    err = rb_fail(msg, msglen, RB_ERR_IO, "%s: cannot resolve its folder", file);
    goto out;
  }
  err = rb_scenario_load_string(text, file, dir, overrides, only, out, msg, msglen);
out:
  if(f)
    fclose(f);
  free(text);
  free(copy);
  return err;
}

void rb_scenario_print_keys(FILE *out)
{
  static const char *const type_names[] = {
    [RB_OPT_STRING] = "text", [RB_OPT_UINT] = "count", [RB_OPT_U64] = "number",
    [RB_OPT_DURATION] = "duration", [RB_OPT_MS] = "ms", [RB_OPT_PORT] = "port|auto", [RB_OPT_ENUM] = "word",
    [RB_OPT_SIZE] = "size",
  };

  fprintf(out, "%-18s %-10s %-30s %s\n", "KEY", "TYPE", "DEFAULT", "MEANING");
  for(size_t i = 0; i < RB_OPT__COUNT; i++) {
    fprintf(out, "%-18s %-10s %-30s %s\n", rb_options[i].name, type_names[rb_options[i].type],
            rb_options[i].def ? rb_options[i].def : "(none)", rb_options[i].help);
    if(rb_options[i].words)
      rb_words_print(rb_options[i].words, out, 30);
  }
  fprintf(out, "\nVariables: ${KEY} for any key above, and ${port} ${host} ${http_port} ${run_dir} "
               "${scenario_dir} ${cycle} ${client} ${config} ${name}.\n"
               "Topologies: a [target NAME] section sets the target keys (command restart_command host port\n"
               "http_port app url config_template ready ready_timeout stat_url stat_expect) of one server;\n"
               "${NAME.port} ${NAME.http_port} ${NAME.host} are its values, usable in every key and template;\n"
               "NAME.KEY = VALUE in [global] or a scenario sets one target's key for it.\n"
               "Write $${X} for a literal ${X} (shell variables in commands).\n"
               "Durations: 250ms, 2s, 1m; plain numbers are seconds.\n"
               "Sizes: 4096, 512KiB, 4MiB, 1GiB (K, M, G: binary units); plain numbers are bytes.\n");
}

void rb_scenario_set_keep(struct rb_scenario_set *set, bool (*keep)(size_t k, const void *arg), const void *arg)
{
  size_t n = 0;

  for(size_t i = 0; i < set->count; i++) {
    if(keep(i, arg))
      set->items[n++] = set->items[i];
    else
      scenario_free(&set->items[i]);
  }
  set->count = n;
}
