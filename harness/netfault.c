/*
 * netfault: the fault proxy. See include/rebound/netfault.h.
 *
 * One thread, one epoll set, level-triggered. Each connection is a pair of
 * sockets (client side, server side) with a bounded buffer per direction. The
 * engine's thread applies faults under the same lock the relay holds while it
 * handles events; a pair it closes is only marked (fds closed, state CLOSED) and
 * freed by the relay thread after the event batch, so an event returned by
 * epoll_wait never points at freed memory.
 *
 * Latency: every read is stamped and becomes writable at stamp + latency.
 * Bandwidth: a token bucket per direction. With either on, the relay wakes every
 * millisecond to release what is due; without them it only wakes for events.
 */
#include "rebound/netfault.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rebound/clock.h"
#include "rebound/net.h"

#define DIR_BUF (64 * 1024)
#define NSEG 64
#define MAX_EVENTS 256
#define BACKLOG 4096
#define SHAPE_TICK_MS 1

/* ---- values ------------------------------------------------------------- */

static const char *const kind_words[] = {
  [RB_NETFAULT_NONE] = "none", [RB_NETFAULT_BLACKHOLE] = "blackhole", [RB_NETFAULT_RESET] = "reset",
  [RB_NETFAULT_LATENCY] = "latency", [RB_NETFAULT_BANDWIDTH] = "bandwidth",
  [RB_NETFAULT_PARTITION] = "partition",
};

const char *rb_netfault_name(enum rb_netfault_kind kind)
{
  return (size_t)kind < sizeof(kind_words) / sizeof(kind_words[0]) ? kind_words[kind] : "?";
}

static bool parse_rate(const char *t, uint64_t *out)
{
  char *end;
  unsigned long long v;
  uint64_t mult = 1;

  if(*t < '0' || *t > '9')
    return false;
  errno = 0;
  v = strtoull(t, &end, 10);
  if(errno || v == 0)
    return false;
  if(*end == 'k' || *end == 'K')
    mult = 1000, end++;
  else if(*end == 'M')
    mult = 1000 * 1000, end++;
  else if(*end == 'G')
    mult = 1000 * 1000 * 1000, end++;
  if(*end && strcmp(end, "B/s") && strcmp(end, "B"))
    return false;
  if(v > UINT64_MAX / mult)
    return false;
  *out = v * mult;
  return true;
}

bool rb_netfault_parse(const char *text, struct rb_netfault_spec *spec, char *why, size_t whylen)
{
  const char *colon = strchr(text, ':');
  size_t wlen = colon ? (size_t)(colon - text) : strlen(text);
  const char *arg = colon ? colon + 1 : NULL;

  memset(spec, 0, sizeof(*spec));
  for(size_t k = RB_NETFAULT_BLACKHOLE; k < sizeof(kind_words) / sizeof(kind_words[0]); k++)
    if(strlen(kind_words[k]) == wlen && !strncmp(text, kind_words[k], wlen))
      spec->kind = (enum rb_netfault_kind)k;
  switch(spec->kind) {
  case RB_NETFAULT_BLACKHOLE:
  case RB_NETFAULT_RESET:
    if(!arg)
      return true;
    snprintf(why, whylen, "net_fault %s takes no argument", rb_netfault_name(spec->kind));
    return false;
  case RB_NETFAULT_LATENCY:
  case RB_NETFAULT_PARTITION:
    if(arg && rb_duration_parse(arg, &spec->ns) && spec->ns > 0)
      return true;
    snprintf(why, whylen, "net_fault %s needs a duration above 0 (%s:250ms)",
             rb_netfault_name(spec->kind), rb_netfault_name(spec->kind));
    return false;
  case RB_NETFAULT_BANDWIDTH:
    if(arg && parse_rate(arg, &spec->rate))
      return true;
    snprintf(why, whylen, "net_fault bandwidth needs a rate in bytes per second (bandwidth:500k)");
    return false;
  case RB_NETFAULT_NONE:
    break;
  }
  snprintf(why, whylen, "bad net_fault '%.60s': expected blackhole, reset, latency:D, bandwidth:RATE "
           "or partition:D", text);
  return false;
}

/* ---- the state machine -------------------------------------------------- */

struct rb_nf_step rb_netfault_step(enum rb_nf_state s, enum rb_nf_event e, int64_t now,
                                   int64_t heal_at, bool server_gone)
{
  struct rb_nf_step st = { .next = s };
  bool dead = s == RB_NF_BLACKHOLE || s == RB_NF_PARTITION;

  if(s == RB_NF_CLOSED)
    return st;
  switch(e) {
  case RB_NF_EV_BLACKHOLE:
    st.next = RB_NF_BLACKHOLE;
    break;
  case RB_NF_EV_PARTITION:
    st.next = s == RB_NF_BLACKHOLE ? s : RB_NF_PARTITION;
    break;
  case RB_NF_EV_RESET:
  case RB_NF_EV_CLEANUP:
    if(e == RB_NF_EV_CLEANUP && !dead)
      break; /* a healthy connection lives on into the next cycle */
    st.next = RB_NF_CLOSED;
    st.rst = true;
    break;
  case RB_NF_EV_TICK:
    if(s == RB_NF_PARTITION && now >= heal_at) {
      /* healed: what survived resumes; a server that gave up meanwhile is now heard */
      st.next = server_gone ? RB_NF_CLOSED : RB_NF_FORWARD;
      st.close = server_gone;
    }
    break;
  case RB_NF_EV_SERVER_EOF:
    if(dead) {
      /* the client must not hear of it: only the server side goes */
      st.server_dropped = !server_gone;
      st.close_server = !server_gone;
    } else {
      st.next = RB_NF_CLOSED;
      st.close = true;
    }
    break;
  case RB_NF_EV_CLIENT_EOF:
    if(!dead) {
      st.next = RB_NF_CLOSED;
      st.close = true;
    }
    break;
  }
  return st;
}

/* ---- the proxy ---------------------------------------------------------- */

struct seg {
  int64_t due;
  uint64_t end; /* absolute byte count at which this read ended */
};

struct dir {
  uint8_t *buf;
  size_t off, len;          /* pending bytes are buf[off..len) */
  uint64_t rd_total, wr_total;
  struct seg seg[NSEG];
  unsigned seg_head, nseg;
  double tokens;
  int64_t tokens_at;
  bool eof;                 /* the source ended (FIN) */
  bool reset;               /* ... with an RST */
};

struct pair;
struct end {
  struct pair *pair;
  int side;                 /* 0 client, 1 server */
};

struct pair {
  int fd[2];
  struct end ends[2];
  struct dir d[2];          /* d[0] client -> server, d[1] server -> client */
  uint32_t interest[2];
  bool registered[2];
  bool connecting;
  uint16_t client_port;
  enum rb_nf_state state;
  int64_t heal_at;
  bool server_gone;
  bool faulted;
  bool dropped;
  struct pair *next;
};

struct rb_netfault {
  int lfd, epfd, wakefd;
  uint16_t port;
  struct sockaddr_storage target;
  socklen_t target_len;
  pthread_t thread;
  bool started;
  pthread_mutex_t lock;
  /* guarded by lock */
  bool stopping;
  int64_t latency_ns;
  uint64_t rate;
  struct pair *pairs;
  bool need_sweep;        /* a pair closed or is partitioned: the sweep has work */
  struct rb_netfault_stats stats;
  struct end listen_end;
};

static void set_linger0(int fd)
{
  struct linger l = { 1, 0 };

  setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
}

static void close_side(struct rb_netfault *p, struct pair *pr, int s, bool rst)
{
  if(pr->fd[s] < 0)
    return;
  if(pr->registered[s])
    epoll_ctl(p->epfd, EPOLL_CTL_DEL, pr->fd[s], NULL);
  pr->registered[s] = false;
  if(rst)
    set_linger0(pr->fd[s]);
  close(pr->fd[s]);
  pr->fd[s] = -1;
}

/* Carry out a state machine step on pr; lock held. */
static void do_step(struct rb_netfault *p, struct pair *pr, struct rb_nf_step st)
{
  if(st.server_dropped) {
    pr->dropped = true;
    if(pr->faulted) {
      p->stats.server_dropped++;
      if(!p->stats.first_drop_at)
        p->stats.first_drop_at = rb_clock_now();
    }
  }
  if(st.close_server) {
    close_side(p, pr, 1, false);
    pr->server_gone = true;
  }
  if(st.rst || st.close) {
    close_side(p, pr, 0, st.rst || pr->d[1].reset);
    close_side(p, pr, 1, st.rst || pr->d[0].reset);
    pr->server_gone = true;
  }
  pr->state = st.next;
  if(st.next == RB_NF_CLOSED || st.next == RB_NF_PARTITION)
    p->need_sweep = true;
}

static void event(struct rb_netfault *p, struct pair *pr, enum rb_nf_event e)
{
  do_step(p, pr, rb_netfault_step(pr->state, e, rb_clock_now(), pr->heal_at, pr->server_gone));
}

/* Make the written part of the buffer reusable. */
static void dir_compact(struct dir *d)
{
  if(d->off == d->len) {
    d->off = d->len = 0;
  } else if(d->off > 0 && d->len == DIR_BUF) {
    memmove(d->buf, d->buf + d->off, d->len - d->off);
    d->len -= d->off;
    d->off = 0;
  }
}

static bool dir_has_room(struct dir *d, int64_t latency)
{
  dir_compact(d);
  return !d->eof && d->len < DIR_BUF && (!latency || d->nseg < NSEG);
}

/* Bytes of d that may be written now (latency and bandwidth permitting). */
static size_t dir_writable(struct rb_netfault *p, struct dir *d, int64_t now)
{
  uint64_t limit = d->rd_total;
  size_t n;

  if(p->latency_ns) {
    limit = d->wr_total;
    for(unsigned i = 0; i < d->nseg; i++) {
      const struct seg *s = &d->seg[(d->seg_head + i) % NSEG];

      if(s->due > now)
        break;
      limit = s->end;
    }
  }
  n = (size_t)(limit - d->wr_total);
  if(p->rate) {
    double cap = p->rate / 20.0 > 4096 ? p->rate / 20.0 : 4096; /* 50 ms of burst */

    if(d->tokens_at)
      d->tokens += (double)p->rate * (double)(now - d->tokens_at) / RB_NS_PER_S;
    if(d->tokens > cap)
      d->tokens = cap;
    d->tokens_at = now;
    if(n > d->tokens)
      n = d->tokens > 0 ? (size_t)d->tokens : 0;
  }
  return n;
}

static void dir_read(struct rb_netfault *p, struct pair *pr, int s, int64_t now)
{
  struct dir *d = &pr->d[s];

  while(dir_has_room(d, p->latency_ns)) {
    ssize_t n = recv(pr->fd[s], d->buf + d->len, DIR_BUF - d->len, MSG_DONTWAIT);
    if(n > 0) {
      d->len += (size_t)n;
      d->rd_total += (uint64_t)n;
      if(p->latency_ns) {
        d->seg[(d->seg_head + d->nseg) % NSEG] = (struct seg){ now + p->latency_ns, d->rd_total };
        d->nseg++;
      }
      continue;
    }
    if(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
      return;
    d->eof = true;
    d->reset = n < 0;
  }
}

/* Write what is due from direction s to the other side; false if the other side is gone. */
static bool dir_write(struct rb_netfault *p, struct pair *pr, int s, int64_t now)
{
  struct dir *d = &pr->d[s];
  int to = 1 - s;

  for(;;) {
    size_t n = dir_writable(p, d, now);
    ssize_t w;

    if(n == 0)
      return true;
    w = send(pr->fd[to], d->buf + d->off, n, MSG_NOSIGNAL | MSG_DONTWAIT);
    if(w < 0)
      return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
    d->off += (size_t)w;
    d->wr_total += (uint64_t)w;
    if(p->rate)
      d->tokens -= (double)w;
    while(d->nseg && d->seg[d->seg_head].end <= d->wr_total) {
      d->seg_head = (d->seg_head + 1) % NSEG;
      d->nseg--;
    }
    if((size_t)w < n)
      return true;
  }
}

static void set_interest(struct rb_netfault *p, struct pair *pr, int s, uint32_t want)
{
  struct epoll_event ev = { .events = want, .data.ptr = &pr->ends[s] };

  if(pr->fd[s] < 0)
    return;
  if(!want) {
    if(pr->registered[s])
      epoll_ctl(p->epfd, EPOLL_CTL_DEL, pr->fd[s], NULL);
    pr->registered[s] = false;
    return;
  }
  if(pr->registered[s] && pr->interest[s] == want)
    return;
  if(epoll_ctl(p->epfd, pr->registered[s] ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, pr->fd[s], &ev) == 0) {
    pr->registered[s] = true;
    pr->interest[s] = want;
  }
}

/* What each socket of pr must be watched for, given its state. */
static void update_interest(struct rb_netfault *p, struct pair *pr)
{
  if(pr->state == RB_NF_CLOSED)
    return;
  if(pr->state != RB_NF_FORWARD) {
    /* dead: the client is not listened to at all; the server only for its close */
    set_interest(p, pr, 0, 0);
    set_interest(p, pr, 1, EPOLLRDHUP);
    return;
  }
  if(pr->connecting) {
    /* the client's bytes wait in its socket until the server side is up */
    set_interest(p, pr, 0, EPOLLRDHUP);
    set_interest(p, pr, 1, EPOLLOUT);
    return;
  }
  for(int s = 0; s < 2; s++) {
    uint32_t want = pr->d[s].eof ? 0 : EPOLLRDHUP; /* an end already seen is not watched again */

    if(dir_has_room(&pr->d[s], p->latency_ns))
      want |= EPOLLIN;
    if(pr->d[1 - s].wr_total < pr->d[1 - s].rd_total && !p->latency_ns && !p->rate)
      want |= EPOLLOUT; /* shaped directions are flushed by the tick instead */
    set_interest(p, pr, s, want);
  }
}

/* Move bytes both ways and see the ends; lock held. */
static void pump(struct rb_netfault *p, struct pair *pr, int64_t now)
{
  if(pr->state != RB_NF_FORWARD || pr->connecting)
    return;
  for(int s = 0; s < 2; s++) {
    dir_read(p, pr, s, now);
    if(!dir_write(p, pr, s, now)) {
      pr->d[1 - s].eof = true; /* the receiving side is gone */
      pr->d[1 - s].reset = true;
    }
  }
  /* An end is passed on once what came before it is delivered (or cannot be). */
  for(int s = 0; s < 2 && pr->state == RB_NF_FORWARD; s++)
    if(pr->d[s].eof && (pr->d[s].wr_total == pr->d[s].rd_total || pr->d[s].reset))
      event(p, pr, s == 1 ? RB_NF_EV_SERVER_EOF : RB_NF_EV_CLIENT_EOF);
  update_interest(p, pr);
}

static void finish_connect(struct rb_netfault *p, struct pair *pr)
{
  int on = 1, err = rb_net_connect_result(pr->fd[1]);

  if(err) {
    p->stats.refused++;
    do_step(p, pr, (struct rb_nf_step){ .next = RB_NF_CLOSED, .rst = true });
    return;
  }
  pr->connecting = false;
  setsockopt(pr->fd[1], IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
}

static void accept_all(struct rb_netfault *p)
{
  for(;;) {
    struct sockaddr_in peer;
    socklen_t plen = sizeof(peer);
    int on = 1, fd = accept4(p->lfd, (struct sockaddr *)&peer, &plen, SOCK_NONBLOCK | SOCK_CLOEXEC);
    struct pair *pr;
    int err;

    if(fd < 0)
      return;
    if(!(pr = calloc(1, sizeof(*pr))) || !(pr->d[0].buf = malloc(DIR_BUF)) ||
       !(pr->d[1].buf = malloc(DIR_BUF))) {
      if(pr)
        free(pr->d[0].buf);
      free(pr);
      set_linger0(fd);
      close(fd);
      continue;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
    pr->fd[0] = fd;
    pr->client_port = ntohs(peer.sin_port);
    for(int s = 0; s < 2; s++)
      pr->ends[s] = (struct end){ pr, s };
    err = rb_net_connect_start((struct sockaddr *)&p->target, p->target_len, &pr->fd[1]);
    pr->connecting = err == EINPROGRESS;
    pr->next = p->pairs;
    p->pairs = pr;
    p->stats.accepted++;
    p->stats.open++;
    if(err && err != EINPROGRESS) {
      p->stats.refused++;
      do_step(p, pr, (struct rb_nf_step){ .next = RB_NF_CLOSED, .rst = true });
      continue;
    }
    if(!pr->connecting)
      setsockopt(pr->fd[1], IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
    update_interest(p, pr);
  }
}

static void handle(struct rb_netfault *p, struct end *e, uint32_t events, int64_t now)
{
  struct pair *pr = e->pair;

  if(pr->state == RB_NF_CLOSED || pr->fd[e->side] < 0)
    return; /* closed by an apply while this event was on its way */
  if(pr->state != RB_NF_FORWARD) {
    if(e->side == 1 && (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
      event(p, pr, RB_NF_EV_SERVER_EOF);
    update_interest(p, pr);
    return;
  }
  if(pr->connecting && e->side == 0) {
    if(events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
      event(p, pr, RB_NF_EV_CLIENT_EOF); /* gave up before the server side was up */
    return;
  }
  if(pr->connecting) {
    finish_connect(p, pr);
    if(pr->state == RB_NF_CLOSED)
      return;
  }
  pump(p, pr, now);
}

/* Free closed pairs; heal partitions; flush shaped data. Lock held. Skipped when
   there is none of that to do, so a busy relay does not walk every pair per batch. */
static void sweep(struct rb_netfault *p, int64_t now, bool shaped)
{
  struct pair **link = &p->pairs;
  size_t open = 0;
  bool partitions = false;

  if(!shaped && !p->need_sweep)
    return;
  p->need_sweep = false;
  while(*link) {
    struct pair *pr = *link;

    if(pr->state == RB_NF_PARTITION)
      event(p, pr, RB_NF_EV_TICK);
    partitions |= pr->state == RB_NF_PARTITION;
    if(pr->state == RB_NF_FORWARD && shaped)
      pump(p, pr, now);
    else if(pr->state == RB_NF_FORWARD)
      update_interest(p, pr); /* a healed partition is watched again */
    if(pr->state == RB_NF_CLOSED) {
      *link = pr->next;
      free(pr->d[0].buf);
      free(pr->d[1].buf);
      free(pr);
      continue;
    }
    open++;
    link = &pr->next;
  }
  p->stats.open = open;
  p->need_sweep = partitions;
}

static void *relay_main(void *arg)
{
  struct rb_netfault *p = arg;
  struct epoll_event evs[MAX_EVENTS];
  int timeout = -1;

  for(;;) {
    int n = epoll_wait(p->epfd, evs, MAX_EVENTS, timeout);
    int64_t now = rb_clock_now();
    bool shaped;

    pthread_mutex_lock(&p->lock);
    if(p->stopping) {
      pthread_mutex_unlock(&p->lock);
      return NULL;
    }
    for(int i = 0; i < n; i++) {
      struct end *e = evs[i].data.ptr;

      if(e == &p->listen_end)
        accept_all(p);
      else if(e)
        handle(p, e, evs[i].events, now);
      else {
        uint64_t v;

        if(read(p->wakefd, &v, sizeof(v)) < 0)
          (void)0; /* nothing to do: the wake only makes the sweep run */
      }
    }
    shaped = p->latency_ns || p->rate;
    sweep(p, now, shaped);
    timeout = shaped || p->need_sweep ? SHAPE_TICK_MS : -1;
    pthread_mutex_unlock(&p->lock);
  }
}

static void wake(struct rb_netfault *p)
{
  uint64_t one = 1;

  if(write(p->wakefd, &one, sizeof(one)) < 0)
    (void)0; /* the counter is full: a wake is already pending */
}

static rb_err listen_loopback(struct rb_netfault *p, char *msg, size_t msglen)
{
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
  socklen_t len = sizeof(a);

  p->lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if(p->lfd < 0 || bind(p->lfd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(p->lfd, BACKLOG) < 0 ||
     getsockname(p->lfd, (struct sockaddr *)&a, &len) < 0)
    return rb_fail(msg, msglen, RB_ERR_SYSTEM, "fault proxy: listen: %s", strerror(errno));
  p->port = ntohs(a.sin_port);
  return RB_OK;
}

rb_err rb_netfault_start(struct rb_netfault **out, const char *host, uint16_t port, char *msg,
                         size_t msglen)
{
  struct rb_netfault *p = calloc(1, sizeof(*p));
  struct epoll_event lev, wev = { .events = EPOLLIN, .data.ptr = NULL };
  rb_err err;

  *out = NULL;
  if(!p)
    return rb_fail(msg, msglen, RB_ERR_NOMEM, "out of memory");
  p->lfd = p->epfd = p->wakefd = -1;
  pthread_mutex_init(&p->lock, NULL);
  if((err = rb_net_resolve(host, port, &p->target, &p->target_len, msg, msglen)) ||
     (err = listen_loopback(p, msg, msglen)))
    goto fail;
  p->epfd = epoll_create1(EPOLL_CLOEXEC);
  p->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  lev = (struct epoll_event){ .events = EPOLLIN, .data.ptr = &p->listen_end };
  if(p->epfd < 0 || p->wakefd < 0 || epoll_ctl(p->epfd, EPOLL_CTL_ADD, p->lfd, &lev) < 0 ||
     epoll_ctl(p->epfd, EPOLL_CTL_ADD, p->wakefd, &wev) < 0) {
    err = rb_fail(msg, msglen, RB_ERR_SYSTEM, "fault proxy: epoll: %s", strerror(errno));
    goto fail;
  }
  if(pthread_create(&p->thread, NULL, relay_main, p)) {
    err = rb_fail(msg, msglen, RB_ERR_SYSTEM, "fault proxy: cannot start its thread");
    goto fail;
  }
  p->started = true;
  *out = p;
  return RB_OK;
fail:
  rb_netfault_stop(p);
  return err;
}

uint16_t rb_netfault_port(const struct rb_netfault *p)
{
  return p->port;
}

void rb_netfault_shape(struct rb_netfault *p, int64_t latency_ns, uint64_t rate)
{
  pthread_mutex_lock(&p->lock);
  p->latency_ns = latency_ns > 0 ? latency_ns : 0;
  p->rate = rate;
  pthread_mutex_unlock(&p->lock);
  wake(p);
}

static bool port_selected(uint16_t port, const uint16_t *ports, size_t n)
{
  if(n == 0)
    return true;
  for(size_t i = 0; i < n; i++)
    if(ports[i] == port)
      return true;
  return false;
}

size_t rb_netfault_apply(struct rb_netfault *p, const struct rb_netfault_spec *spec,
                         const uint16_t *ports, size_t nports)
{
  enum rb_nf_event e = spec->kind == RB_NETFAULT_RESET ? RB_NF_EV_RESET :
                       spec->kind == RB_NETFAULT_PARTITION ? RB_NF_EV_PARTITION : RB_NF_EV_BLACKHOLE;
  int64_t now = rb_clock_now();
  size_t hit = 0;

  if(spec->kind != RB_NETFAULT_BLACKHOLE && spec->kind != RB_NETFAULT_RESET &&
     spec->kind != RB_NETFAULT_PARTITION)
    return 0;
  pthread_mutex_lock(&p->lock);
  p->stats.faulted = 0;
  p->stats.server_dropped = 0;
  p->stats.first_drop_at = 0;
  for(struct pair *pr = p->pairs; pr; pr = pr->next) {
    pr->faulted = false;
    if(pr->state == RB_NF_CLOSED || !port_selected(pr->client_port, ports, nports))
      continue;
    pr->faulted = true;
    pr->heal_at = now + spec->ns;
    hit++;
    event(p, pr, e);
    update_interest(p, pr);
  }
  p->stats.faulted = hit;
  pthread_mutex_unlock(&p->lock);
  wake(p);
  return hit;
}

void rb_netfault_cleanup(struct rb_netfault *p)
{
  pthread_mutex_lock(&p->lock);
  for(struct pair *pr = p->pairs; pr; pr = pr->next) {
    event(p, pr, RB_NF_EV_CLEANUP);
    pr->faulted = false;
  }
  pthread_mutex_unlock(&p->lock);
  wake(p);
}

void rb_netfault_stats(struct rb_netfault *p, struct rb_netfault_stats *out)
{
  pthread_mutex_lock(&p->lock);
  *out = p->stats;
  pthread_mutex_unlock(&p->lock);
}

void rb_netfault_stop(struct rb_netfault *p)
{
  if(!p)
    return;
  if(p->started) {
    pthread_mutex_lock(&p->lock);
    p->stopping = true;
    pthread_mutex_unlock(&p->lock);
    wake(p);
    pthread_join(p->thread, NULL); /* bounded: the relay never blocks but in epoll_wait */
  }
  while(p->pairs) {
    struct pair *pr = p->pairs;

    p->pairs = pr->next;
    for(int s = 0; s < 2; s++)
      if(pr->fd[s] >= 0) {
        set_linger0(pr->fd[s]);
        close(pr->fd[s]);
      }
    free(pr->d[0].buf);
    free(pr->d[1].buf);
    free(pr);
  }
  if(p->lfd >= 0)
    close(p->lfd);
  if(p->epfd >= 0)
    close(p->epfd);
  if(p->wakefd >= 0)
    close(p->wakefd);
  pthread_mutex_destroy(&p->lock);
  free(p);
}
