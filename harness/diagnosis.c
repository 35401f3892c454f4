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

/* "2 sockets of the killed server were in FIN_WAIT2 and 1 in TIME_WAIT" */
static bool describe_old_connections(const unsigned *states, char *buf, size_t buflen)
{
  static const int interesting[] = { RB_TCP_FIN_WAIT2, RB_TCP_TIME_WAIT, RB_TCP_FIN_WAIT1,
                                     RB_TCP_CLOSING, RB_TCP_LAST_ACK };
  size_t used = 0;
  bool any = false;

  buf[0] = '\0';
  for(size_t i = 0; i < sizeof(interesting) / sizeof(interesting[0]); i++) {
    unsigned n = states[interesting[i]];
    const char *name = rb_tcp_state_name(interesting[i]);
    int w;

    if(!n)
      continue;
    if(!any)
      w = snprintf(buf + used, buflen - used, "%u %s of the killed server %s in %s", n,
                   n == 1 ? "socket" : "sockets", n == 1 ? "was" : "were", name);
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
  bool has_old = describe_old_connections(ev->states_at_restart, old, sizeof(old));
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
