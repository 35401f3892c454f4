/*
 * diagnosis: the sentence that names why a restarted server did not take its port
 * back. The order of the checks is the order of certainty: a process we can name
 * beats an inference from the log, which beats "it just did not listen".
 */
#include "rebound/diagnosis.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "rebound/target.h"

bool rb_diagnosis_mentions_eaddrinuse(const char *text)
{
  static const char *const needles[] = {
    "address already in use", "eaddrinuse", "errno 98", "(98:", "98: address", "bindexception", NULL
  };

  if(!text)
    return false;
  for(size_t i = 0; needles[i]; i++)
    if(strcasestr(text, needles[i]))
      return true;
  return false;
}

void rb_last_line(const char *text, char *buf, size_t buflen)
{
  const char *end, *start;

  if(!buflen)
    return;
  buf[0] = '\0';
  if(!text)
    return;
  end = text + strlen(text);
  while(end > text && (end[-1] == '\n' || end[-1] == '\r' || end[-1] == ' '))
    end--;
  start = end;
  while(start > text && start[-1] != '\n')
    start--;
  snprintf(buf, buflen, "%.*s", (int)(end - start), start);
}

/* States of connections a dead server leaves behind, which block a bind() without
   SO_REUSEADDR; in the order sentences name them. */
static const int lingering[] = { RB_TCP_FIN_WAIT2, RB_TCP_TIME_WAIT, RB_TCP_FIN_WAIT1,
                                 RB_TCP_CLOSING, RB_TCP_LAST_ACK, RB_TCP_CLOSE_WAIT };

bool rb_diagnosis_lingering(const unsigned states[RB_TCP_STATE_MAX])
{
  for(size_t i = 0; i < sizeof(lingering) / sizeof(lingering[0]); i++)
    if(states[lingering[i]])
      return true;
  return false;
}

/* "2 sockets of the killed server were in FIN_WAIT2 and 1 in TIME_WAIT"; whose is
   "of the killed server" or "on the port". */
static bool describe_old_connections(const unsigned *states, const char *whose, char *buf, size_t buflen)
{
  size_t used = 0;
  bool any = false;

  buf[0] = '\0';
  for(size_t i = 0; i < sizeof(lingering) / sizeof(lingering[0]); i++) {
    unsigned n = states[lingering[i]];
    const char *name = rb_tcp_state_name(lingering[i]);
    int w;

    if(!n)
      continue;
    if(!any)
      w = snprintf(buf + used, buflen - used, "%u %s %s %s in %s", n,
                   n == 1 ? "socket" : "sockets", whose, n == 1 ? "was" : "were", name);
    else
      w = snprintf(buf + used, buflen - used, " and %u in %s", n, name);
    if(w < 0 || (size_t)w >= buflen - used)
      break;
    used += (size_t)w;
    any = true;
  }
  return any;
}

static void describe_survivor(const struct rb_rebind_evidence *ev, char *buf, size_t buflen)
{
  bool new_listens = false;
  size_t i, s = ev->nowners;

  for(i = 0; i < ev->nowners; i++) {
    if(ev->owner_is_survivor[i] && s == ev->nowners)
      s = i;
    if(!ev->owner_is_survivor[i])
      new_listens = true;
  }
  if(new_listens)
    snprintf(buf, buflen,
             "port %u is LISTENed by the restarted server and also by pid %d (%s), a surviving child of the "
             "killed server (SO_REUSEPORT lets both listen, so the old process still takes connections)",
             ev->port, (int)ev->owner_pids[s], ev->owner_cmdlines[s]);
  else
    snprintf(buf, buflen, "port %u still LISTENed by pid %d (%s), a surviving child of the killed server",
             ev->port, (int)ev->owner_pids[s], ev->owner_cmdlines[s]);
}

void rb_diagnose_rebind(const struct rb_rebind_evidence *ev, char *buf, size_t buflen)
{
  char old[200], line[200], status[96];
  bool has_old = describe_old_connections(ev->states_at_restart, "of the killed server", old, sizeof(old));
  bool in_use = rb_diagnosis_mentions_eaddrinuse(ev->log_tail);

  for(size_t i = 0; i < ev->nowners; i++)
    if(ev->owner_is_survivor[i]) {
      describe_survivor(ev, buf, buflen);
      return;
    }
  if(in_use && has_old) {
    snprintf(buf, buflen, "bind() failed with EADDRINUSE while %s: the server does not set SO_REUSEADDR", old);
    return;
  }
  if(in_use && ev->nowners) {
    snprintf(buf, buflen, "bind() failed with EADDRINUSE: port %u is LISTENed by pid %d (%s), "
             "which is not part of the target", ev->port, (int)ev->owner_pids[0], ev->owner_cmdlines[0]);
    return;
  }
  if(in_use) {
    snprintf(buf, buflen, "bind() failed with EADDRINUSE though no socket of the killed server was left on "
             "port %u at restart", ev->port);
    return;
  }
  rb_last_line(ev->log_tail, line, sizeof(line));
  if(ev->new_exited) {
    rb_target_describe_status(ev->new_status, status, sizeof(status));
    snprintf(buf, buflen, "the restarted server %s before listening on port %u%s%s", status, ev->port,
             line[0] ? "; last log line: " : "", line);
    return;
  }
  snprintf(buf, buflen, "port %u not listening after %.0f ms (the restarted server is still running%s%s)",
           ev->port, ev->waited_ms, line[0] ? "; last log line: " : "", line);
}

/* The tail of a stale-stream sentence: whether and when the server let go. */
static void dropped_clause(const struct rb_stale_evidence *ev, char *buf, size_t buflen)
{
  if(ev->server_dropped)
    snprintf(buf, buflen, "; it closed the dead connection by itself after %.1f s", ev->dropped_ms / 1000);
  else
    snprintf(buf, buflen, "; it never closed the dead connection by itself");
}

void rb_diagnose_stale(const struct rb_stale_evidence *ev, char *buf, size_t buflen)
{
  char dropped[128], code[160] = "";
  const char *died = ev->net_fault && !strcmp(ev->net_fault, "reset") ? "was reset" : "died";

  if(!buflen)
    return;
  buf[0] = '\0';
  dropped_clause(ev, dropped, sizeof(dropped));
  if(ev->refusal && ev->refusal[0])
    snprintf(code, sizeof(code), " (%s)", ev->refusal);
  if(ev->stream && !ev->accepted) {
    snprintf(buf, buflen, "the server refused the republish of %s%s for %.1f s after the publisher's network "
             "%s, and still did when the wait ended: it keeps dead publishers until its idle timeout "
             "(nginx-rtmp: drop_idle_publisher)%s", ev->stream, code, ev->refused_ms / 1000, died, dropped);
    return;
  }
  if(ev->stream) {
    snprintf(buf, buflen, "the server refused the republish of %s%s for %.1f s after the publisher's network "
             "%s, then accepted it%s", ev->stream, code, ev->refused_ms / 1000, died, dropped);
    return;
  }
  if(ev->why && ev->why[0])
    snprintf(buf, buflen, "the clients did not come back after their network %s (nothing was refused): %s%s",
             died, ev->why, dropped);
}

/* The same cause as a failed rebind, one start earlier: the sockets were left by a
   server that ran before rebound started this one (a crash in production, an
   earlier CI step). */
void rb_diagnose_first_start(const struct rb_first_start_evidence *ev, char *buf, size_t buflen)
{
  char old[300], states[200], line[200], status[96];
  bool before = rb_diagnosis_lingering(ev->states_before);
  const unsigned *counts = before ? ev->states_before : ev->states_at_failure;

  describe_old_connections(counts, "on the port", states, sizeof(states));
  snprintf(old, sizeof(old), "%s %s", states,
           before ? "before the first start (left by an earlier server)" : "when the first start failed");
  if(rb_diagnosis_mentions_eaddrinuse(ev->log_tail)) {
    snprintf(buf, buflen, "bind() failed with EADDRINUSE while %s: the server does not set SO_REUSEADDR", old);
    return;
  }
  rb_last_line(ev->log_tail, line, sizeof(line));
  if(ev->exited) {
    rb_target_describe_status(ev->status, status, sizeof(status));
    snprintf(buf, buflen, "the server %s before listening on port %u while %s: the server most likely does not "
             "set SO_REUSEADDR%s%s", status, ev->port, old, line[0] ? "; last log line: " : "", line);
    return;
  }
  snprintf(buf, buflen, "port %u not listening after %.0f ms at the first start while %s: the server most likely "
           "does not set SO_REUSEADDR%s%s", ev->port, ev->waited_ms, old, line[0] ? "; last log line: " : "", line);
}

void rb_diagnose_reload(const struct rb_reload_evidence *ev, char *buf, size_t buflen)
{
  char line[200], status[96], more[48] = "";

  rb_last_line(ev->log_tail, line, sizeof(line));
  if(ev->nstuck > 1)
    snprintf(more, sizeof(more), ", and %zu more old worker%s", ev->nstuck - 1, ev->nstuck > 2 ? "s" : "");
  if(ev->command_error)
    snprintf(buf, buflen, "the reload command failed: %s", ev->command_error);
  else if(ev->main_exited) {
    rb_target_describe_status(ev->main_status, status, sizeof(status));
    snprintf(buf, buflen, "the server %s on the reload signal instead of reloading%s%s", status,
             line[0] ? "; last log line: " : "", line);
  }
  else if(ev->not_listening_ms > 0)
    snprintf(buf, buflen, "port %u stopped listening for %.1f ms during the reload: new clients were refused "
             "(a reload must keep the listening socket open)", ev->port, ev->not_listening_ms);
  else if(ev->nstuck)
    snprintf(buf, buflen, "old worker pid %d (%s) has been shutting down for %.1f s, past reload_timeout "
             "%.0f ms%s: it never drains, keeping the connections it had (live RTMP sessions keep an "
             "nginx-rtmp worker forever; bound it, e.g. with worker_shutdown_timeout)",
             (int)ev->stuck_pids[0], ev->stuck_cmdlines[0], ev->stuck_age_ms / 1000, ev->reload_timeout_ms,
             more);
  else if(ev->new_client_error)
    snprintf(buf, buflen, "a new client could not publish while the old workers drained: %s", ev->new_client_error);
  else
    buf[0] = '\0';
}
