/*
 * types: the word tables of the shared vocabulary and their lookups.
 * See include/rebound/types.h. A row's order is the order `rebound keys` and the
 * error messages list the words in; values need not follow it.
 */
#include "rebound/types.h"

#include <string.h>

const struct rb_word rb_fault_words[] = {
  { "sigkill", RB_FAULT_SIGKILL, NULL, "SIGKILL every process of the server's tree at once" },
  { "sigkill-main", RB_FAULT_SIGKILL_MAIN, NULL, "SIGKILL the main process only, like a crashed master" },
  { "sigterm", RB_FAULT_SIGTERM, NULL, "SIGTERM the main process, then SIGKILL the tree after grace" },
  { "hang", RB_FAULT_HANG, NULL, "SIGSTOP the tree for hang_for, then SIGKILL it" },
  { "reload", RB_FAULT_RELOAD, NULL, "send reload_signal (or run reload_command) and keep the clients on: the port "
    "must LISTEN throughout, a new client be served and the old workers exit within reload_timeout" },
  { "network", RB_FAULT_NETWORK, NULL, "no kill: net_fault is the cycle's whole fault (the hit clients "
                                       "reconnect on a fresh path through the fault proxy)" },
  { "exec", RB_FAULT_EXEC, ":CMD", "run CMD with /bin/sh -c and wait for it (external servers: systemctl restart x)" },
  { NULL, 0, NULL, NULL }
};

const struct rb_word rb_fault_at_words[] = {
  { "publishing", RB_FAULT_AT_PUBLISHING, NULL, "while every publisher sends media" },
  { "idle", RB_FAULT_AT_IDLE, NULL, "while the clients are connected but send nothing" },
  { "handshake", RB_FAULT_AT_HANDSHAKE, NULL, "while extra clients are mid-handshake (C0 and half of C1 sent)" },
  { "random", RB_FAULT_AT_RANDOM, NULL, "one of the three above per cycle, chosen with the seed" },
  { NULL, 0, NULL, NULL }
};

const struct rb_word rb_ready_words[] = {
  { "listen", RB_READY_LISTEN, NULL, "the socket table shows LISTEN on the port" },
  { "tcp", RB_READY_TCP, NULL, "a TCP connect to host:port succeeds" },
  { "rtmp", RB_READY_RTMP, NULL, "a full RTMP handshake and connect succeed on url" },
  { "http", RB_READY_HTTP, "://URL", "GET URL answers 2xx" },
  { "https", RB_READY_HTTP, "://URL", "GET URL answers 2xx" },
  { NULL, 0, NULL, NULL }
};

const struct rb_word rb_net_clients_words[] = {
  { "all", RB_NET_CLIENTS_ALL, NULL, "every publisher, player and holder" },
  { "publishers", RB_NET_CLIENTS_PUBLISHERS, NULL, "the publishers only" },
  { "players", RB_NET_CLIENTS_PLAYERS, NULL, "the players only" },
  { NULL, 0, NULL, NULL }
};

const struct rb_word rb_expect_words[] = {
  { "pass", RB_EXPECT_PASS, NULL, "the scenario must pass" },
  { "fail", RB_EXPECT_FAIL, NULL, "a known server bug: a failure is XFAIL (visible, not failing the run), "
                                  "a pass is XPASS" },
  { NULL, 0, NULL, NULL }
};

const struct rb_word rb_keep_words[] = {
  { "nothing", RB_KEEP_NOTHING, NULL, "every connection starts from the protocol's defaults (rebound's own client)" },
  { "chunk-size", RB_KEEP_CHUNK_SIZE, NULL, "publishers keep the previous connection's outgoing chunk size and never "
    "announce it again (obs-studio#877): the server sees garbage, so the cycle must fail" },
  { NULL, 0, NULL, NULL }
};

const struct rb_word rb_verdict_words[] = {
  { "pass", RB_VERDICT_PASS, NULL, "every cycle passed (exit 0)" },
  { "fail", RB_VERDICT_FAIL, NULL, "the server failed a check (exit 1)" },
  { "error", RB_VERDICT_ERROR, NULL, "the environment: the scenario could not run (exit 3)" },
  { "interrupted", RB_VERDICT_INTERRUPTED, NULL, "SIGINT or SIGTERM (exit 130)" },
  { "xfail", RB_VERDICT_XFAIL, NULL, "expect = fail, and it failed" },
  { "xpass", RB_VERDICT_XPASS, NULL, "expect = fail, but it passed" },
  { NULL, 0, NULL, NULL }
};

const struct rb_word rb_tcp_state_words[] = {
  { "ESTABLISHED", RB_TCP_ESTABLISHED, NULL, "a live connection" },
  { "SYN_SENT", RB_TCP_SYN_SENT, NULL, "connecting" },
  { "SYN_RECV", RB_TCP_SYN_RECV, NULL, "accepting" },
  { "FIN_WAIT1", RB_TCP_FIN_WAIT1, NULL, "closed by this side, FIN not yet acknowledged" },
  { "FIN_WAIT2", RB_TCP_FIN_WAIT2, NULL, "closed by this side, waiting for the peer's FIN" },
  { "TIME_WAIT", RB_TCP_TIME_WAIT, NULL, "closed by this side first, kept for 2*MSL" },
  { "CLOSE", RB_TCP_CLOSE, NULL, "closed" },
  { "CLOSE_WAIT", RB_TCP_CLOSE_WAIT, NULL, "closed by the peer, not yet by this side" },
  { "LAST_ACK", RB_TCP_LAST_ACK, NULL, "closed by both, waiting for the last ACK" },
  { "LISTEN", RB_TCP_LISTEN, NULL, "a listening socket" },
  { "CLOSING", RB_TCP_CLOSING, NULL, "both sides closed at once" },
  { "NEW_SYN_RECV", RB_TCP_NEW_SYN_RECV, NULL, "a request socket before accept" },
  { NULL, 0, NULL, NULL }
};

/* A prefix row's separator: the punctuation its arg begins with (":" of ":CMD"). */
static size_t separator_len(const struct rb_word *w)
{
  return strspn(w->arg, ":/");
}

const struct rb_word *rb_word_match(const struct rb_word *table, const char *text, const char **rest)
{
  if(!text)
    return NULL;
  for(const struct rb_word *w = table; w->word; w++) {
    size_t n = strlen(w->word);

    if(!w->arg ? !strcmp(text, w->word) :
       !strncmp(text, w->word, n) && !strncmp(text + n, w->arg, separator_len(w))) {
      if(rest)
        *rest = w->arg ? text + n + separator_len(w) : text + n;
      return w;
    }
  }
  return NULL;
}

const struct rb_word *rb_word_of(const struct rb_word *table, int value)
{
  for(const struct rb_word *w = table; w->word; w++)
    if(w->value == value)
      return w;
  return NULL;
}

const char *rb_word_name(const struct rb_word *table, int value, const char *fallback)
{
  const struct rb_word *w = rb_word_of(table, value);

  return w ? w->word : fallback ? fallback : "?";
}

void rb_words_format(const struct rb_word *table, const char *last_sep, char *buf, size_t buflen)
{
  size_t used = 0, n = 0;

  if(!buflen)
    return;
  buf[0] = '\0';
  while(table[n].word)
    n++;
  for(size_t i = 0; i < n && used < buflen; i++) {
    int w = snprintf(buf + used, buflen - used, "%s%s%s", i == 0 ? "" : i + 1 == n ? last_sep : ", ",
                     table[i].word, table[i].arg ? table[i].arg : "");

    if(w < 0)
      break;
    used += (size_t)w;
  }
}

void rb_words_print(const struct rb_word *table, FILE *out, int indent)
{
  for(const struct rb_word *w = table; w->word; w++) {
    char word[64];

    snprintf(word, sizeof(word), "%s%s", w->word, w->arg ? w->arg : "");
    fprintf(out, "%*s%-16s %s\n", indent, "", word, w->help);
  }
}

const char *rb_fault_name(enum rb_fault_kind kind)
{
  return rb_word_name(rb_fault_words, (int)kind, "?");
}

const char *rb_verdict_name(enum rb_verdict v)
{
  return rb_word_name(rb_verdict_words, (int)v, "?");
}

const char *rb_tcp_state_name(int state)
{
  return rb_word_name(rb_tcp_state_words, state, "UNKNOWN");
}

bool rb_ready_parse(const char *text, enum rb_ready_kind *kind)
{
  const char *rest = NULL;
  const struct rb_word *w = rb_word_match(rb_ready_words, text, &rest);

  /* a prefix row needs its argument: "http://" alone is no URL */
  if(!w || (w->arg && !*rest))
    return false;
  if(kind)
    *kind = (enum rb_ready_kind)w->value;
  return true;
}

void rb_tcp_states_format(const unsigned counts[RB_TCP_STATE_MAX], char *buf, size_t buflen)
{
  size_t used = 0;

  if(!buf || !buflen)
    return;
  buf[0] = '\0';
  /* LISTEN first: it is the state a reader looks for. */
  for(int i = 0; i < RB_TCP_STATE_MAX; i++) {
    int state = i == 0 ? RB_TCP_LISTEN : i;
    int n;

    if((i == RB_TCP_LISTEN) || !counts[state])
      continue;
    n = snprintf(buf + used, buflen - used, "%s%s=%u", used ? " " : "", rb_tcp_state_name(state), counts[state]);
    if(n < 0 || (size_t)n >= buflen - used) {
      buf[used] = '\0'; /* no half entries */
      break;
    }
    used += (size_t)n;
  }
  if(!used)
    snprintf(buf, buflen, "none");
}
