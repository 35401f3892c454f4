/*
 * fleet: publisher and player threads that keep reconnecting, and the idle holders.
 * See include/rebound/fleet.h.
 *
 * Each thread owns one rb_client for its whole life (reconnected for every session,
 * not rebuilt); the fleet mutex guards the shared record of every member (up/down,
 * timestamps, counters) and the pointer to its client, so rb_fleet_stop() can abort
 * a step that is blocked in librtmp. Waits are timed condition waits on CLOCK_MONOTONIC
 * condvars, and nothing ever sleeps past a deadline.
 *
 * Built to scale to thousands of clients (tests/bench/scale.sh):
 *  - two condvars: `changed` (stop, pause, kick) for the members, `up_changed` for
 *    the engine waiting in rb_fleet_wait_up, so a member coming up wakes one waiter,
 *    not every other member;
 *  - a publisher waits for its next frame in ppoll() on its socket (POLLRDHUP), so a
 *    killed server is noticed the moment its FIN arrives, not at the next write;
 *  - reconnects follow the scenario's profile (backoff.h), restarted after every
 *    session that got up; with rebound's own, rb_fleet_kick() ends the backoff when the
 *    engine has seen the port LISTEN again, with the retries spread so they do not come
 *    in lockstep (real encoders' profiles cannot know, and wait their schedule);
 *  - holders connect in parallel from a few short-lived threads, and their clients are
 *    kept across cycles;
 *  - small thread stacks (librtmp's deepest path uses well under 32 KB).
 */
#include "rebound/fleet.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "rebound/client.h"
#include "rebound/clock.h"
#include "rebound/media.h"
#include "rebound/net.h"
#include "rebound/random.h"
#include "rebound/stats.h"
#include "rebound/viewer.h"

#define THREAD_STACK (128 * 1024)
#define VIEWER_STACK (1024 * 1024)
#define SPREAD_NS (400 * 1000)          /* per member: 1000 members (re)connect over 400 ms */
#define PACE_NS (40 * RB_NS_PER_MS)      /* frames due within this are sent in one wake-up */
#define FRAME_SLICE_NS (50 * RB_NS_PER_MS) /* a publisher between frames rechecks stop this often */
#define HOLDER_THREADS 32
#define JOIN_TIMEOUT (10 * RB_NS_PER_S)
#define HLS_RING 32                      /* segments remembered for "up since" */

struct member {
  struct rb_fleet *fleet;
  unsigned index;
  bool is_player;
  enum rb_player_kind kind;      /* players */
  const char *stream;
  const char *url;               /* HTTP-FLV and HLS players */
  pthread_t thread;
  bool started;
  uint64_t rng;                  /* spread; seeded from the scenario seed and the index */
  struct rb_backoff backoff;     /* the reconnect schedule, seeded likewise */
  struct rb_client *client;      /* the member's client, for abort */
  /* guarded by fleet->lock */
  bool up;
  int64_t up_at;                 /* publishers: Publish.Start; players: first frame */
  int64_t play_at;               /* players: Play.Start of the current session */
  uint64_t session_first_seq;    /* publishers: number of the current session's first video frame */
  bool gave_up;                  /* retries exhausted: the member stays down */
  int64_t refused_since;
  double stale_ms_max;
  bool last_rejected;
  char last_code[96];            /* the status of the last refusal */
  bool last_protocol;            /* the last failure was a protocol error */
  char last_error[256];
  uint64_t frames_sent, frames_received;
  struct rb_media_verifier *verifier; /* players */
  uint64_t next_seq;             /* publishers: the sequence number of the next video frame */
  bool flow_armed;               /* players: rb_fleet_arm_flow was called */
  uint64_t flow_mark;            /* ... a frame numbered at least this was sent after it */
  int64_t flow_at;               /* ... and arrived then (0: not yet) */
  int sock;                      /* HTTP players: the transfer's socket, for abort (-1: none) */
  /* HLS players */
  struct rb_hls_tracker hls;
  struct { int64_t sent_ns, got_at; } ring[HLS_RING]; /* segments taken: first media sent, when taken */
  size_t ring_next, ring_len;
  uint64_t segments, segments_without_sei, decode_errors, resets, restarts;
  char reset_why[320];
};

struct rb_fleet {
  struct rb_fleet_opts opts;
  char *url;
  char *play_url;                /* players' application URL (another target's, in a topology) */
  char *holder_url;              /* holders' */
  bool publishers_stay, players_stay; /* rb_fleet_set_staying */
  char *media_path;              /* our copy of opts.media_path */
  pthread_mutex_t lock;
  pthread_cond_t changed;        /* stop, pause, kick: what members wait for */
  pthread_cond_t up_changed;     /* a member came up: what rb_fleet_wait_up waits for */
  bool stopping;
  bool paused;
  unsigned kick_seq;             /* bumped by rb_fleet_kick */
  size_t nmembers;
  struct member *members;
  size_t nholders;
  struct rb_client **holders;    /* connected holders (NULL: not connected) */
  struct rb_client **holder_pool;/* every holder's client, kept across cycles */
  size_t nhandshakes;
  int *handshakes;               /* raw sockets caught mid-handshake */
};

/* ---- waiting -------------------------------------------------------------- */

static void to_timespec(int64_t ns, struct timespec *ts)
{
  ts->tv_sec = (time_t)(ns / RB_NS_PER_S);
  ts->tv_nsec = (long)(ns % RB_NS_PER_S);
}

/* Wait on f->changed until deadline; called with f->lock held. */
static void wait_until_locked(struct rb_fleet *f, int64_t deadline)
{
  struct timespec ts;

  to_timespec(deadline, &ts);
  pthread_cond_timedwait(&f->changed, &f->lock, &ts);
}

/* Sleep until deadline unless the fleet stops; true if still running. */
static bool pause_until(struct rb_fleet *f, int64_t deadline)
{
  bool running;

  pthread_mutex_lock(&f->lock);
  while(!f->stopping && rb_clock_now() < deadline)
    wait_until_locked(f, deadline);
  running = !f->stopping;
  pthread_mutex_unlock(&f->lock);
  return running;
}

static bool is_stopping(struct rb_fleet *f)
{
  bool stopping;

  pthread_mutex_lock(&f->lock);
  stopping = f->stopping;
  pthread_mutex_unlock(&f->lock);
  return stopping;
}

/* Block while paused (fault_at = idle); false once stopping. */
static bool wait_while_paused(struct rb_fleet *f)
{
  bool running;

  pthread_mutex_lock(&f->lock);
  while(f->paused && !f->stopping)
    wait_until_locked(f, rb_clock_now() + 50 * RB_NS_PER_MS);
  running = !f->stopping;
  pthread_mutex_unlock(&f->lock);
  return running;
}

/* ---- member bookkeeping --------------------------------------------------- */

static void set_client(struct member *m, struct rb_client *c)
{
  pthread_mutex_lock(&m->fleet->lock);
  m->client = c;
  pthread_mutex_unlock(&m->fleet->lock);
}

static void mark_down(struct member *m, rb_err err, const char *why)
{
  struct rb_fleet *f = m->fleet;

  pthread_mutex_lock(&f->lock);
  m->up = false;
  m->last_rejected = err == RB_ERR_REJECTED;
  m->last_protocol = err == RB_ERR_PROTOCOL;
  if(m->last_rejected && !m->refused_since)
    m->refused_since = rb_clock_now();
  if(m->last_rejected && m->client)
    snprintf(m->last_code, sizeof(m->last_code), "%s", rb_client_last_status(m->client)->code);
  snprintf(m->last_error, sizeof(m->last_error), "%s", why);
  pthread_mutex_unlock(&f->lock);
}

static void mark_up(struct member *m)
{
  struct rb_fleet *f = m->fleet;
  int64_t now = rb_clock_now();

  pthread_mutex_lock(&f->lock);
  m->up = true;
  m->up_at = now;
  m->last_rejected = false;
  m->last_error[0] = '\0';
  if(m->refused_since) {
    double stale = rb_clock_ms(m->refused_since, now);

    if(stale > m->stale_ms_max)
      m->stale_ms_max = stale;
    m->refused_since = 0;
  }
  pthread_cond_broadcast(&f->up_changed);
  pthread_mutex_unlock(&f->lock);
}

/* Connect m's client (kept across sessions: a closed client reconnects). */
static rb_err open_session(struct member *m, struct rb_client **out, char *msg, size_t msglen)
{
  *out = m->client;
  if(is_stopping(m->fleet))
    return RB_ERR_INTERRUPTED;
  return rb_client_connect(*out, msg, msglen);
}

static void close_session(struct rb_client *c, bool polite)
{
  if(c)
    rb_client_close(c, polite);
}

/* Wait until due, returning early when the server hangs up (a killed server is
   noticed when its FIN arrives, not at the next write) or the fleet stops (its
   abort shuts the socket down, which wakes the poll). */
static rb_err wait_frame_due(struct member *m, struct rb_client *c, int64_t due, char *msg, size_t msglen)
{
  struct pollfd p = { .fd = rb_client_fd(c), .events = POLLRDHUP };

  for(;;) {
    int64_t left = due - rb_clock_now();
    struct timespec ts;
    int rc;

    if(is_stopping(m->fleet))
      return RB_ERR_INTERRUPTED;
    if(left <= 0)
      return RB_OK;
    to_timespec(left < FRAME_SLICE_NS ? left : FRAME_SLICE_NS, &ts);
    rc = ppoll(&p, 1, &ts, NULL);
    if(rc < 0 && errno != EINTR)
      return rb_fail(msg, msglen, RB_ERR_SYSTEM, "poll: %s", strerror(errno));
    if(rc > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)))
      return is_stopping(m->fleet) ? RB_ERR_INTERRUPTED
                                   : rb_fail(msg, msglen, RB_ERR_CLOSED, "the server closed the connection");
  }
}

/* ---- publisher ------------------------------------------------------------ */

static rb_err send_headers(struct rb_client *c, struct rb_media_source *src, char *msg, size_t msglen)
{
  struct rb_media_frame headers[8];
  size_t n = rb_media_headers(src, headers, 8);
  rb_err err = RB_OK;

  for(size_t i = 0; i < n && !err; i++)
    err = rb_client_write(c, &headers[i], msg, msglen);
  return err;
}

/* One publishing session: connect, publish, send paced media until an error or stop. */
static rb_err publish_session(struct member *m, struct rb_media_source *src, uint64_t *seq,
                              char *msg, size_t msglen)
{
  struct rb_fleet *f = m->fleet;
  struct rb_client *c = NULL;
  struct rb_media_frame frame;
  int64_t start;
  bool is_video;
  rb_err err;

  if((err = open_session(m, &c, msg, msglen)) || (err = rb_client_publish(c, m->stream, msg, msglen)))
    goto out;
  pthread_mutex_lock(&f->lock);
  m->session_first_seq = *seq;
  pthread_mutex_unlock(&f->lock);
  mark_up(m);
  rb_media_rebase(src, 0);
  if((err = send_headers(c, src, msg, msglen)))
    goto out;
  start = rb_clock_now();
  while(wait_while_paused(f)) {
    int64_t due = start + (int64_t)rb_media_next_timestamp(src) * RB_NS_PER_MS;
    uint64_t sent = 0;
    int on = 1, off = 0;

    /* Frames go in small bursts, up to PACE_NS ahead of their time: one wake-up per
       PACE_NS rather than one per frame (~70/s of audio and video), and one TCP segment
       per burst (TCP_CORK), because with a thousand publishers the context switches and
       the per-segment work of loopback TCP would cost more than the sending itself. */
    if((err = wait_frame_due(m, c, due - PACE_NS, msg, msglen)))
      goto out;
    setsockopt(rb_client_fd(c), IPPROTO_TCP, TCP_CORK, &on, sizeof(on));
    do {
      if((err = rb_media_next(src, *seq, rb_clock_now(), &frame, &is_video, msg, msglen)) ||
         (err = rb_client_write(c, &frame, msg, msglen)))
        break;
      if(is_video)
        (*seq)++;
      sent++;
    } while(start + (int64_t)rb_media_next_timestamp(src) * RB_NS_PER_MS <= rb_clock_now() + PACE_NS);
    if(rb_client_fd(c) >= 0)
      setsockopt(rb_client_fd(c), IPPROTO_TCP, TCP_CORK, &off, sizeof(off)); /* sends the burst */
    pthread_mutex_lock(&f->lock);
    m->frames_sent += sent;
    m->next_seq = *seq;
    pthread_mutex_unlock(&f->lock);
    if(err)
      goto out;
  }
  err = RB_ERR_INTERRUPTED;
out:
  /* A failed session's peer is gone or hostile: close without sending into it. */
  close_session(c, err == RB_ERR_INTERRUPTED);
  return err;
}

/* ---- player --------------------------------------------------------------- */

static rb_err play_session(struct member *m, bool reconnect, char *msg, size_t msglen)
{
  struct rb_fleet *f = m->fleet;
  struct rb_client *c = NULL;
  struct rb_media_frame frame;
  bool seen = false;
  rb_err err;

  if((err = open_session(m, &c, msg, msglen)) || (err = rb_client_play(c, m->stream, msg, msglen)))
    goto out;
  pthread_mutex_lock(&f->lock);
  m->play_at = rb_clock_now();
  if(reconnect)
    rb_media_verifier_mark_reconnect(m->verifier);
  pthread_mutex_unlock(&f->lock);
  while(!is_stopping(f)) {
    uint64_t before;

    err = rb_client_read(c, &frame, rb_clock_deadline(f->opts.step_timeout_ns), msg, msglen);
    if(err)
      goto out;
    pthread_mutex_lock(&f->lock);
    before = m->verifier->received;
    rb_media_verifier_feed(m->verifier, &frame, rb_clock_now());
    m->frames_received = m->verifier->received;
    if(m->flow_armed && !m->flow_at && m->verifier->have_last && m->verifier->last_seq >= m->flow_mark) {
      m->flow_at = rb_clock_now();
      pthread_cond_broadcast(&f->up_changed);
    }
    pthread_mutex_unlock(&f->lock);
    /* Up means media flows again, not merely that Play.Start arrived. */
    if(!seen && m->verifier->received > before) {
      seen = true;
      mark_up(m);
    }
  }
  err = RB_ERR_INTERRUPTED;
out:
  close_session(c, err == RB_ERR_INTERRUPTED);
  return err;
}

/* ---- HTTP-FLV and HLS players ------------------------------------------- */

struct viewer_ctx {
  struct member *m;
  bool seen;                     /* this session delivered media */
};

static bool viewer_stopping(void *arg)
{
  return is_stopping(((struct viewer_ctx *)arg)->m->fleet);
}

static void viewer_socket(void *arg, int fd)
{
  struct member *m = ((struct viewer_ctx *)arg)->m;

  pthread_mutex_lock(&m->fleet->lock);
  m->sock = fd;
  pthread_mutex_unlock(&m->fleet->lock);
}

static void viewer_sei(void *arg, uint64_t seq, int64_t send_ns)
{
  struct viewer_ctx *v = arg;
  struct member *m = v->m;

  pthread_mutex_lock(&m->fleet->lock);
  rb_media_verifier_record(m->verifier, seq, send_ns, rb_clock_now());
  m->frames_received = m->verifier->received;
  pthread_mutex_unlock(&m->fleet->lock);
  /* HTTP-FLV is up when media flows again; HLS when a segment is taken (below). */
  if(!v->seen && m->kind == RB_PLAYER_FLV)
    mark_up(m);
  v->seen = true;
}

static void viewer_segment(void *arg, int64_t first_send_ns, const struct rb_mpegts_result *r)
{
  struct member *m = ((struct viewer_ctx *)arg)->m;

  pthread_mutex_lock(&m->fleet->lock);
  m->segments++;
  m->decode_errors += r->decode_errors;
  if(!r->seis)
    m->segments_without_sei++;
  else {
    m->ring[m->ring_next].sent_ns = first_send_ns;
    m->ring[m->ring_next].got_at = rb_clock_now();
    m->ring_next = (m->ring_next + 1) % HLS_RING;
    if(m->ring_len < HLS_RING)
      m->ring_len++;
  }
  pthread_mutex_unlock(&m->fleet->lock);
  if(r->seis)
    mark_up(m);
}

static void viewer_change(void *arg, enum rb_hls_change change, const char *why)
{
  struct member *m = ((struct viewer_ctx *)arg)->m;

  pthread_mutex_lock(&m->fleet->lock);
  if(change == RB_HLS_RESET) {
    m->resets++;
    if(!m->reset_why[0])
      snprintf(m->reset_why, sizeof(m->reset_why), "%s", why);
  } else
    m->restarts++;
  rb_media_verifier_mark_reconnect(m->verifier);
  pthread_mutex_unlock(&m->fleet->lock);
}

/* A new media run (EXT-X-DISCONTINUITY, or the playlist went back): the jump in
   numbers there is the outage, as across an RTMP reconnect; losses after it are losses. */
static void viewer_discontinuity(void *arg)
{
  struct member *m = ((struct viewer_ctx *)arg)->m;

  pthread_mutex_lock(&m->fleet->lock);
  rb_media_verifier_mark_reconnect(m->verifier);
  pthread_mutex_unlock(&m->fleet->lock);
}

static bool viewer_wait(void *arg, int64_t deadline)
{
  return pause_until(((struct viewer_ctx *)arg)->m->fleet, deadline);
}

static rb_err viewer_session(struct member *m, bool reconnect, char *msg, size_t msglen)
{
  struct viewer_ctx ctx = { .m = m };
  struct rb_viewer_sink sink = {
    .arg = &ctx, .stopping = viewer_stopping, .on_socket = viewer_socket, .on_sei = viewer_sei,
    .on_segment = viewer_segment, .on_discontinuity = viewer_discontinuity, .on_change = viewer_change,
    .wait_until = viewer_wait,
  };
  int64_t step = m->fleet->opts.step_timeout_ns;

  if(reconnect) {
    pthread_mutex_lock(&m->fleet->lock);
    rb_media_verifier_mark_reconnect(m->verifier);
    pthread_mutex_unlock(&m->fleet->lock);
  }
  /* The tracker is only touched by this thread; the counters it feeds are locked. */
  return m->kind == RB_PLAYER_FLV ? rb_viewer_flv_session(m->url, step, &sink, msg, msglen)
                                  : rb_viewer_hls_session(m->url, step, &m->hls, &sink, msg, msglen);
}

/* ---- threads -------------------------------------------------------------- */

static unsigned kick_seq(struct rb_fleet *f)
{
  unsigned seq;

  pthread_mutex_lock(&f->lock);
  seq = f->kick_seq;
  pthread_mutex_unlock(&f->lock);
  return seq;
}

/* Wait delay (the profile's, jitter included), or with rebound's own profile until a
   kick newer than kick_ref, then a random share of the spread. False once stopping. */
static bool back_off(struct member *m, int64_t delay, unsigned kick_ref)
{
  struct rb_fleet *f = m->fleet;
  int64_t deadline = rb_clock_now() + delay;
  bool follows = rb_backoff_follows_kick(&f->opts.reconnect), kicked, running;

  pthread_mutex_lock(&f->lock);
  while(!f->stopping && (!follows || f->kick_seq == kick_ref) && rb_clock_now() < deadline)
    wait_until_locked(f, deadline);
  kicked = follows && f->kick_seq != kick_ref;
  running = !f->stopping;
  pthread_mutex_unlock(&f->lock);
  if(running && kicked && f->nmembers > 1) {
    uint64_t spread = (uint64_t)f->nmembers * SPREAD_NS;

    running = pause_until(f, rb_clock_now() + (int64_t)(rb_random_next(&m->rng) % spread));
  }
  return running;
}

/* Retries exhausted: the member stays down for the rest of the scenario, as an OBS
   that gave up waits for its user. */
static void give_up(struct member *m)
{
  struct rb_fleet *f = m->fleet;
  char why[sizeof(m->last_error)];

  pthread_mutex_lock(&f->lock);
  m->gave_up = true;
  snprintf(why, sizeof(why), "%s", m->last_error);
  snprintf(m->last_error, sizeof(m->last_error), "gave up after %u retries (reconnect = %s): %.180s",
           m->backoff.attempt, rb_backoff_name(f->opts.reconnect.kind), why);
  pthread_cond_broadcast(&f->up_changed);
  pthread_mutex_unlock(&f->lock);
}

/* supervisor: the encoder process exited and a new one starts: a brand-new client,
   nothing carried over from the old one. */
static rb_err restart_client(struct member *m, struct rb_client **c, const struct rb_client_opts *o,
                             char *msg, size_t msglen)
{
  rb_err err;

  set_client(m, NULL);
  rb_client_destroy(*c);
  *c = NULL;
  if((err = rb_client_create(c, o, msg, msglen)))
    return err;
  set_client(m, *c);
  return RB_OK;
}

static void *member_main(void *arg)
{
  struct member *m = arg;
  struct rb_fleet *f = m->fleet;
  struct rb_client_opts o = { .url = m->is_player ? f->play_url : f->url, .step_timeout_ns = f->opts.step_timeout_ns,
                              .keep_chunk_size = f->opts.keep_chunk_size && !m->is_player };
  struct rb_media_source *src = NULL;
  struct rb_client *c = NULL;
  int64_t delay;
  uint64_t seq = 0;
  unsigned sessions = 0;
  char msg[256];
  rb_err err;

  if((!m->url && (err = rb_client_create(&c, &o, msg, sizeof(msg)))) ||
     (!m->is_player && (err = rb_media_source_open(&src, f->opts.media_path, msg, sizeof(msg))))) {
    mark_down(m, err, msg);
    goto out;
  }
  set_client(m, c);
  /* Members start connecting over nmembers x SPREAD_NS, not all in the same
     millisecond: a burst larger than the server's listen backlog loses SYNs, and a
     lost SYN costs a 1 s retransmission. */
  if(f->nmembers > 1 && !pause_until(f, rb_clock_now() + (int64_t)(rb_random_next(&m->rng) % (f->nmembers * SPREAD_NS))))
    goto out;
  while(!is_stopping(f)) {
    int64_t began = rb_clock_now();
    unsigned kick_ref = kick_seq(f);
    bool got_up;

    msg[0] = '\0';
    if(m->url)
      err = viewer_session(m, sessions > 0, msg, sizeof(msg));
    else
      err = m->is_player ? play_session(m, sessions > 0, msg, sizeof(msg))
                         : publish_session(m, src, &seq, msg, sizeof(msg));
    sessions++;
    if(err == RB_ERR_INTERRUPTED && is_stopping(f))
      break;
    mark_down(m, err, msg[0] ? msg : rb_strerror(err));
    pthread_mutex_lock(&f->lock);
    got_up = m->up_at >= began;
    pthread_mutex_unlock(&f->lock);
    /* A session that got up starts the backoff afresh (its server died, a new one
       is coming); a kick during an attempt that failed is still news. */
    if(got_up) {
      rb_backoff_reset(&m->backoff);
      kick_ref = kick_seq(f);
    }
    if(!rb_backoff_next(&m->backoff, &delay)) {
      give_up(m);
      break;
    }
    if(!back_off(m, delay, kick_ref))
      break;
    if(rb_backoff_new_client(&f->opts.reconnect) && (err = restart_client(m, &c, &o, msg, sizeof(msg)))) {
      mark_down(m, err, msg);
      break;
    }
  }
out:
  set_client(m, NULL);
  rb_client_destroy(c);
  rb_media_source_close(src);
  return NULL;
}

/* ---- public --------------------------------------------------------------- */

rb_err rb_fleet_create(struct rb_fleet **out, const struct rb_fleet_opts *opts, char *msg, size_t msglen)
{
  struct rb_fleet *f = calloc(1, sizeof(*f));
  struct rb_media_source *probe = NULL;
  pthread_condattr_t attr;
  rb_err err = RB_OK;

  *out = NULL;
  if(!f)
    return rb_fail(msg, msglen, RB_ERR_NOMEM, "out of memory");
  f->opts = *opts;
  if(opts->reconnect.factor == 0) /* not set: rebound's own */
    rb_backoff_defaults(RB_BACKOFF_REBOUND, &f->opts.reconnect);
  pthread_mutex_init(&f->lock, NULL);
  pthread_condattr_init(&attr);
  pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
  pthread_cond_init(&f->changed, &attr);
  pthread_cond_init(&f->up_changed, &attr);
  pthread_condattr_destroy(&attr);
  f->url = strdup(opts->url);
  f->play_url = strdup(opts->play_url ? opts->play_url : opts->url);
  f->holder_url = strdup(opts->holder_url ? opts->holder_url : opts->url);
  /* The threads open the media at every start, long after the caller's string is gone. */
  f->opts.media_path = NULL;
  if(opts->media_path && !(f->media_path = strdup(opts->media_path))) {
    err = rb_fail(msg, msglen, RB_ERR_NOMEM, "out of memory");
    goto out;
  }
  f->opts.media_path = f->media_path;
  f->nmembers = opts->publishers + opts->players + opts->flv_players + opts->hls_players;
  f->members = calloc(f->nmembers ? f->nmembers : 1, sizeof(*f->members));
  f->holders = calloc(opts->holders ? opts->holders : 1, sizeof(*f->holders));
  f->holder_pool = calloc(opts->holders ? opts->holders : 1, sizeof(*f->holder_pool));
  if(!f->url || !f->play_url || !f->holder_url || !f->members || !f->holders || !f->holder_pool) {
    err = rb_fail(msg, msglen, RB_ERR_NOMEM, "out of memory");
    goto out;
  }
  for(size_t i = 0; i < f->nmembers; i++) {
    struct member *m = &f->members[i];

    m->fleet = f;
    /* One stream per member from the scenario seed (xorshift needs a non-zero state). */
    m->rng = opts->seed + (i + 1) * UINT64_C(0x9E3779B97F4A7C15);
    if(!m->rng)
      m->rng = 1;
    rb_backoff_init(&m->backoff, &f->opts.reconnect, rb_random_next(&m->rng));
    m->is_player = i >= opts->publishers;
    m->index = (unsigned)(m->is_player ? i - opts->publishers : i);
    m->sock = -1;
    m->kind = RB_PLAYER_RTMP;
    if(m->is_player && m->index >= opts->players + opts->flv_players) {
      m->kind = RB_PLAYER_HLS;
      m->index -= opts->players + opts->flv_players;
      m->url = opts->hls_urls[m->index];
    } else if(m->is_player && m->index >= opts->players) {
      m->kind = RB_PLAYER_FLV;
      m->index -= opts->players;
      m->url = opts->flv_urls[m->index];
    }
    m->stream = opts->streams[m->is_player ? m->index % opts->publishers : m->index];
    if(m->is_player && !(m->verifier = malloc(sizeof(*m->verifier)))) {
      err = rb_fail(msg, msglen, RB_ERR_NOMEM, "out of memory");
      goto out;
    }
    if(m->verifier)
      rb_media_verifier_init(m->verifier);
  }
  /* Check the media once here, so a bad file is a scenario error, not N thread errors. */
  if(opts->publishers && (err = rb_media_source_open(&probe, opts->media_path, msg, msglen)))
    goto out;
  rb_media_source_close(probe);
out:
  if(err)
    rb_fleet_destroy(f);
  else
    *out = f;
  return err;
}

rb_err rb_fleet_start(struct rb_fleet *f, char *msg, size_t msglen)
{
  pthread_attr_t attr;
  rb_err err = RB_OK;

  pthread_attr_init(&attr);
  for(size_t i = 0; i < f->nmembers; i++) {
    /* An HLS player runs FFmpeg's demuxer and H.264 decoder on its own stack. */
    pthread_attr_setstacksize(&attr, f->members[i].kind == RB_PLAYER_HLS && f->members[i].is_player
                                       ? VIEWER_STACK : THREAD_STACK);
    if(pthread_create(&f->members[i].thread, &attr, member_main, &f->members[i])) {
      err = rb_fail(msg, msglen, RB_ERR_SYSTEM, "cannot start client thread %zu of %zu", i + 1, f->nmembers);
      break;
    }
    f->members[i].started = true;
  }
  pthread_attr_destroy(&attr);
  return err;
}

static void describe_member(const struct member *m, char *buf, size_t buflen)
{
  static const char *const kinds[] = { "player", "HTTP-FLV player", "HLS player" };

  snprintf(buf, buflen, "%s %u (%s): %s", m->is_player ? kinds[m->kind] : "publisher", m->index,
           m->url ? m->url : m->stream,
           m->last_error[0] ? m->last_error : m->kind == RB_PLAYER_HLS ? "no new segment yet" : "not up yet");
}

/* Merge the latency rings of every player of one kind into p50/p99. Called with the lock held. */
static void latency_locked(struct rb_fleet *f, enum rb_player_kind kind, struct rb_fleet_kind_counts *out)
{
  size_t total = 0, n = 0;
  double *all;
  struct rb_summary s;

  for(size_t i = 0; i < f->nmembers; i++)
    if(f->members[i].verifier && f->members[i].kind == kind)
      total += f->members[i].verifier->nlatencies;
  if(!total || !(all = malloc(total * sizeof(*all))))
    return;
  for(size_t i = 0; i < f->nmembers; i++) {
    const struct rb_media_verifier *v = f->members[i].verifier;

    if(!v || f->members[i].kind != kind)
      continue;
    memcpy(all + n, v->latencies_ms, v->nlatencies * sizeof(*all));
    n += v->nlatencies;
  }
  if(rb_stats_summarize(all, n, &s)) {
    out->latency_p50_ms = s.p50;
    out->latency_p99_ms = s.p99;
  }
  free(all);
}

/* A member on a target the fault did not hit: up in any session will do. */
static bool staying(const struct rb_fleet *f, const struct member *m)
{
  return m->is_player ? f->players_stay : f->publishers_stay;
}

/* When m came up at or after since (0: not up). An HLS player is up since the first
   segment it took whose media was sent at or after since. Lock held. */
static int64_t up_since_locked(const struct rb_fleet *f, const struct member *m, int64_t since)
{
  int64_t first = 0;

  if(staying(f, m))
    return m->up ? m->up_at : 0;
  if(m->kind != RB_PLAYER_HLS || !m->is_player)
    return m->up && m->up_at >= since ? m->up_at : 0;
  for(size_t k = 0; k < m->ring_len; k++) {
    size_t j = (m->ring_next + HLS_RING - m->ring_len + k) % HLS_RING;

    if(m->ring[j].sent_ns >= since && m->ring[j].got_at >= since && (!first || m->ring[j].got_at < first))
      first = m->ring[j].got_at;
  }
  return first;
}

static void count_kind_locked(const struct member *m, struct rb_fleet_kind_counts *k, int64_t up_at)
{
  if(up_at) {
    k->up++;
    if(up_at > k->last_up_at)
      k->last_up_at = up_at;
  }
  k->frames_received += m->frames_received;
  k->gaps += m->verifier->gaps;
  k->duplicates += m->verifier->duplicates;
  k->lost_after_reconnect += m->verifier->lost_after_reconnect;
  k->segments += m->segments;
  k->segments_without_sei += m->segments_without_sei;
  k->decode_errors += m->decode_errors;
  k->resets += m->resets;
  k->restarts += m->restarts;
  if(!k->reset_why[0] && m->reset_why[0])
    snprintf(k->reset_why, sizeof(k->reset_why), "%s", m->reset_why);
}

/* Split the gap where player m's stream resumed (lock held): numbers before its
   publisher's current session went to the killed server; the rest were sent to the
   restarted one and never reached the player. */
static void resume_gap_locked(const struct rb_fleet *f, const struct member *m, struct rb_fleet_counts *out)
{
  const struct rb_media_verifier *v = m->verifier;
  const struct member *pub = &f->members[m->index % f->opts.publishers];
  uint64_t missing, outage = 0;

  if(!v->resumed || v->resumed_at <= v->resumed_after)
    return;
  missing = v->resumed_at - v->resumed_after - 1;
  if(pub->session_first_seq > v->resumed_after + 1)
    outage = pub->session_first_seq - v->resumed_after - 1;
  if(outage > missing)
    outage = missing;
  out->lost_in_outage += outage;
  out->skipped_after_restart += missing - outage;
}

/* Up times per kind (lock held); up_at from up_since_locked. HTTP players are
   counted in their kind's counts (count_kind_locked), not as RTMP players. */
static void count_member_locked(const struct member *m, int64_t up_at, struct rb_fleet_counts *out)
{
  int64_t *kind_at = m->is_player ? &out->players_up_at : &out->publishers_up_at;

  if(up_at > out->last_up_at)
    out->last_up_at = up_at;
  if(m->is_player && m->kind != RB_PLAYER_RTMP)
    return;
  if(m->is_player)
    out->players_up++;
  else
    out->publishers_up++;
  if(up_at > *kind_at)
    *kind_at = up_at;
}

void rb_fleet_counts(struct rb_fleet *f, int64_t since, struct rb_fleet_counts *out)
{
  memset(out, 0, sizeof(*out));
  out->publishers = f->opts.publishers;
  out->players = f->opts.players;
  out->kinds[RB_PLAYER_RTMP].planned = f->opts.players;
  out->kinds[RB_PLAYER_FLV].planned = f->opts.flv_players;
  out->kinds[RB_PLAYER_HLS].planned = f->opts.hls_players;
  pthread_mutex_lock(&f->lock);
  for(size_t i = 0; i < f->nmembers; i++) {
    const struct member *m = &f->members[i];
    int64_t up_at = up_since_locked(f, m, since);
    bool up = up_at != 0;

    if(m->is_player)
      count_kind_locked(m, &out->kinds[m->kind], up_at);
    if(m->is_player && m->play_at && m->play_at >= since) {
      out->players_playing++;
      if(m->play_at > out->players_playing_at)
        out->players_playing_at = m->play_at;
    }
    if(up)
      count_member_locked(m, up_at, out);
    else if(!out->first_problem[0]) {
      describe_member(m, out->first_problem, sizeof(out->first_problem));
      out->rejected = m->last_rejected;
      out->protocol = m->last_protocol;
    }
    if(!up && !m->is_player && m->last_rejected && !out->refused_stream[0]) {
      snprintf(out->refused_stream, sizeof(out->refused_stream), "%s", m->stream);
      snprintf(out->refused_code, sizeof(out->refused_code), "%s", m->last_code);
    }
    out->gave_up += m->gave_up;
    out->frames_sent += m->frames_sent;
    if(m->verifier && m->kind == RB_PLAYER_RTMP) {
      out->frames_received += m->frames_received;
      out->gaps += m->verifier->gaps;
      out->duplicates += m->verifier->duplicates;
      out->lost_after_reconnect += m->verifier->lost_after_reconnect;
      resume_gap_locked(f, m, out);
    }
    if(m->stale_ms_max > out->stale_ms_max)
      out->stale_ms_max = m->stale_ms_max;
  }
  for(size_t i = 0; i < f->nholders; i++)
    out->holders += f->holders[i] != NULL;
  for(int k = 0; k < RB_PLAYER_KINDS; k++)
    latency_locked(f, (enum rb_player_kind)k, &out->kinds[k]);
  out->latency_p50_ms = out->kinds[RB_PLAYER_RTMP].latency_p50_ms;
  out->latency_p99_ms = out->kinds[RB_PLAYER_RTMP].latency_p99_ms;
  pthread_mutex_unlock(&f->lock);
}

/* How many members are up since `since`, how many gave up, and when the last came
   up; lock held. The cheap half of rb_fleet_counts, for a wait that runs once per
   member coming up. */
static size_t count_up_locked(const struct rb_fleet *f, int64_t since, int64_t *last_up_at, size_t *gave_up)
{
  size_t n = 0;

  *last_up_at = 0;
  *gave_up = 0;
  for(size_t i = 0; i < f->nmembers; i++) {
    const struct member *m = &f->members[i];
    int64_t up_at = up_since_locked(f, m, since);

    if(up_at) {
      n++;
      if(up_at > *last_up_at)
        *last_up_at = up_at;
    }
    else
      *gave_up += m->gave_up;
  }
  return n;
}

/* One bounded wait for news from the members (lock held): RB_ERR_INTERRUPTED or
   RB_ERR_TIMEOUT when waiting is over, RB_OK to look again. Woken when a member
   comes up; the short cap keeps the stop flag responsive. */
static rb_err wait_news_locked(struct rb_fleet *f, int64_t deadline, volatile int *stop)
{
  int64_t wake = rb_clock_now() + 20 * RB_NS_PER_MS;
  struct timespec ts;

  if(stop && *stop)
    return RB_ERR_INTERRUPTED;
  if(rb_clock_now() >= deadline)
    return RB_ERR_TIMEOUT;
  to_timespec(wake < deadline ? wake : deadline, &ts);
  pthread_cond_timedwait(&f->up_changed, &f->lock, &ts);
  return RB_OK;
}

static int compare_double(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;

  return (x > y) - (x < y);
}

size_t rb_fleet_arrivals(struct rb_fleet *f, int64_t since, double *ms, size_t max)
{
  double *all = malloc((f->nmembers ? f->nmembers : 1) * sizeof(*all));
  size_t n = 0;

  if(!all)
    return 0;
  pthread_mutex_lock(&f->lock);
  for(size_t i = 0; i < f->nmembers; i++)
    if(f->members[i].up && f->members[i].up_at >= since)
      all[n++] = rb_clock_ms(since, f->members[i].up_at);
  pthread_mutex_unlock(&f->lock);
  qsort(all, n, sizeof(*all), compare_double);
  if(n > max)
    n = max;
  memcpy(ms, all, n * sizeof(*ms));
  free(all);
  return n;
}

rb_err rb_fleet_wait_up(struct rb_fleet *f, int64_t since, int64_t deadline, volatile int *stop,
                        int64_t *all_up_at, char *msg, size_t msglen)
{
  struct rb_fleet_counts c;
  int64_t last_up_at;
  size_t up, gave_up;
  rb_err err = RB_OK;

  pthread_mutex_lock(&f->lock);
  for(;;) {
    if((up = count_up_locked(f, since, &last_up_at, &gave_up)) == f->nmembers) {
      *all_up_at = last_up_at ? last_up_at : rb_clock_now();
      break;
    }
    if(gave_up && up + gave_up == f->nmembers) { /* nobody else is coming */
      err = RB_ERR_TIMEOUT;
      break;
    }
    if((err = wait_news_locked(f, deadline, stop)))
      break;
  }
  pthread_mutex_unlock(&f->lock);
  if(err == RB_ERR_INTERRUPTED)
    return rb_fail(msg, msglen, err, "interrupted");
  if(err) {
    rb_fleet_counts(f, since, &c);
    char gave[64] = "", http[96] = "";

    if(c.gave_up)
      snprintf(gave, sizeof(gave), "; %u gave up (retries exhausted)", c.gave_up);
    if(f->opts.flv_players || f->opts.hls_players)
      snprintf(http, sizeof(http), ", %u/%u HTTP-FLV and %u/%u HLS players", c.kinds[RB_PLAYER_FLV].up,
               f->opts.flv_players, c.kinds[RB_PLAYER_HLS].up, f->opts.hls_players);
    return rb_fail(msg, msglen, c.rejected ? RB_ERR_REJECTED : c.protocol ? RB_ERR_PROTOCOL : RB_ERR_TIMEOUT,
                   "%u/%u publishers and %u/%u "
                   "players%s up%s; %s", c.publishers_up, f->opts.publishers, c.players_up, f->opts.players,
                   http, gave, c.first_problem);
  }
  return RB_OK;
}

void rb_fleet_set_staying(struct rb_fleet *f, bool publishers, bool players)
{
  pthread_mutex_lock(&f->lock);
  f->publishers_stay = publishers;
  f->players_stay = players;
  pthread_mutex_unlock(&f->lock);
}

void rb_fleet_arm_flow(struct rb_fleet *f)
{
  pthread_mutex_lock(&f->lock);
  for(size_t i = 0; i < f->nmembers; i++) {
    struct member *m = &f->members[i];

    if(!m->is_player || m->kind != RB_PLAYER_RTMP || !f->opts.publishers)
      continue; /* HTTP players: not through a topology's untouched target (scenario.c) */
    /* a frame numbered from the publisher's next one on was sent after this moment:
       frames still buffered somewhere on the way do not count as the stream flowing again */
    m->flow_mark = f->members[m->index % f->opts.publishers].next_seq;
    m->flow_at = 0;
    m->flow_armed = true;
    /* frames missing after the first new one are lost after the recovery */
    rb_media_verifier_mark_reconnect(m->verifier);
  }
  pthread_mutex_unlock(&f->lock);
}

rb_err rb_fleet_wait_flow(struct rb_fleet *f, int64_t deadline, volatile int *stop, int64_t *all_at, char *msg,
                          size_t msglen)
{
  rb_err err = RB_OK;
  unsigned flowing = 0;
  char first[320] = "";

  pthread_mutex_lock(&f->lock);
  for(;;) {
    int64_t last = 0;

    flowing = 0;
    first[0] = '\0';
    for(size_t i = 0; i < f->nmembers; i++) {
      const struct member *m = &f->members[i];

      if(!m->is_player || m->kind != RB_PLAYER_RTMP)
        continue;
      if(m->flow_at) {
        flowing++;
        last = m->flow_at > last ? m->flow_at : last;
      }
      else if(!first[0])
        snprintf(first, sizeof(first), "player %u (%s): %s", m->index, m->stream,
                 m->last_error[0] ? m->last_error : "still connected, but no new frame arrived");
    }
    if(flowing == f->opts.players) {
      *all_at = last ? last : rb_clock_now();
      break;
    }
    if((err = wait_news_locked(f, deadline, stop)))
      break;
  }
  pthread_mutex_unlock(&f->lock);
  if(err == RB_ERR_INTERRUPTED)
    return rb_fail(msg, msglen, err, "interrupted");
  if(err)
    return rb_fail(msg, msglen, err, "%u/%u players receive new frames; %s", flowing, f->opts.players, first);
  return RB_OK;
}

size_t rb_fleet_count_hung_up(struct rb_fleet *f)
{
  size_t n = 0;

  pthread_mutex_lock(&f->lock);
  for(size_t i = 0; i < f->nmembers; i++) {
    struct member *m = &f->members[i];
    struct pollfd p = { .fd = m->client ? rb_client_fd(m->client) : -1, .events = POLLRDHUP };

    /* poll with no wait only looks: the member's own thread notices and goes down */
    n += m->up && p.fd >= 0 && poll(&p, 1, 0) == 1 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR));
  }
  pthread_mutex_unlock(&f->lock);
  return n;
}

void rb_fleet_kick(struct rb_fleet *f)
{
  pthread_mutex_lock(&f->lock);
  f->kick_seq++;
  pthread_cond_broadcast(&f->changed);
  pthread_mutex_unlock(&f->lock);
}

void rb_fleet_set_paused(struct rb_fleet *f, bool paused)
{
  pthread_mutex_lock(&f->lock);
  f->paused = paused;
  pthread_cond_broadcast(&f->changed);
  pthread_mutex_unlock(&f->lock);
}

void rb_fleet_reset_cycle(struct rb_fleet *f)
{
  pthread_mutex_lock(&f->lock);
  for(size_t i = 0; i < f->nmembers; i++) {
    struct member *m = &f->members[i];

    m->frames_sent = 0;
    m->stale_ms_max = 0;
    if(m->verifier) {
      /* Keep the sequence position so the next frame is not counted as a gap. */
      uint64_t last = m->verifier->last_seq;
      bool have = m->verifier->have_last;

      rb_media_verifier_init(m->verifier);
      m->verifier->last_seq = last;
      m->verifier->have_last = have;
      m->frames_received = 0;
    }
    m->segments = m->segments_without_sei = m->decode_errors = m->resets = m->restarts = 0;
    m->reset_why[0] = '\0';
  }
  pthread_mutex_unlock(&f->lock);
}

/* ---- network faults ------------------------------------------------------- */

/* Calls fn on every selected client (lock held), in the order of the selection. */
static void for_selected(struct rb_fleet *f, const struct rb_fleet_select *sel,
                         void (*fn)(struct rb_fleet *f, struct member *m, struct rb_client *c, void *arg),
                         void *arg)
{
  unsigned n = 0;

  for(int pass = 0; pass < 3; pass++) {
    bool want = pass == 0 ? sel->publishers : pass == 1 ? sel->players : sel->holders;
    size_t count = pass < 2 ? f->nmembers : f->nholders;

    for(size_t i = 0; want && i < count; i++) {
      struct member *m = pass < 2 ? &f->members[i] : NULL;
      struct rb_client *c = m ? m->client : f->holders[i];

      if((m && m->is_player != (pass == 1)) || !c)
        continue;
      if(sel->max && n >= sel->max)
        return;
      n++;
      fn(f, m, c, arg);
    }
  }
}

struct port_list {
  uint16_t *ports;
  size_t n, cap;
};

static void add_port(struct rb_fleet *f, struct member *m, struct rb_client *c, void *arg)
{
  struct port_list *l = arg;
  uint16_t port = rb_client_local_port(c);

  (void)f;
  (void)m;
  if(port && l->n < l->cap)
    l->ports[l->n++] = port;
}

size_t rb_fleet_client_ports(struct rb_fleet *f, const struct rb_fleet_select *sel, uint16_t *ports,
                             size_t cap)
{
  struct port_list l = { ports, 0, cap };

  pthread_mutex_lock(&f->lock);
  for_selected(f, sel, add_port, &l);
  pthread_mutex_unlock(&f->lock);
  return l.n;
}

static void network_died(struct rb_fleet *f, struct member *m, struct rb_client *c, void *arg)
{
  (void)f;
  if(m)
    m->up = false; /* down until a new session is up: rb_fleet_wait_up waits for it */
  if(*(bool *)arg)
    rb_client_cut(c);
}

void rb_fleet_network_died(struct rb_fleet *f, const struct rb_fleet_select *sel, bool cut)
{
  pthread_mutex_lock(&f->lock);
  for_selected(f, sel, network_died, &cut);
  pthread_mutex_unlock(&f->lock);
}

/* Holders connect from a few threads at once; the first failure is kept. */
struct holder_job {
  struct rb_fleet *f;
  int64_t deadline;
  atomic_size_t next;
  atomic_bool failed;
  rb_err err;
  char msg[256];
};

static rb_err connect_holder(struct rb_fleet *f, size_t i, int64_t deadline, char *msg, size_t msglen)
{
  struct rb_client_opts o = { .url = f->holder_url, .step_timeout_ns = deadline - rb_clock_now() };
  struct rb_client *c = f->holder_pool[i];
  rb_err err;

  if(o.step_timeout_ns <= 0)
    return rb_fail(msg, msglen, RB_ERR_TIMEOUT, "no time left to connect");
  if(o.step_timeout_ns > f->opts.step_timeout_ns)
    o.step_timeout_ns = f->opts.step_timeout_ns;
  /* A kept client's steps are bounded by the step timeout it was made with. */
  if(!c && (err = rb_client_create(&c, &o, msg, msglen)))
    return err;
  f->holder_pool[i] = c;
  if((err = rb_client_connect(c, msg, msglen)))
    return err;
  pthread_mutex_lock(&f->lock);
  f->holders[i] = c;
  pthread_mutex_unlock(&f->lock);
  return RB_OK;
}

static void *holder_worker(void *arg)
{
  struct holder_job *job = arg;
  size_t i;
  char why[200];

  while(!atomic_load(&job->failed) && (i = atomic_fetch_add(&job->next, 1)) < job->f->opts.holders) {
    rb_err err = connect_holder(job->f, i, job->deadline, why, sizeof(why));

    if(err && !atomic_exchange(&job->failed, true)) {
      job->err = err;
      snprintf(job->msg, sizeof(job->msg), "holder %zu: %s", i, why);
    }
  }
  return NULL;
}

rb_err rb_fleet_connect_holders(struct rb_fleet *f, int64_t deadline, char *msg, size_t msglen)
{
  struct holder_job job = { .f = f, .deadline = deadline };
  pthread_t threads[HOLDER_THREADS];
  size_t nthreads = f->opts.holders < HOLDER_THREADS ? f->opts.holders : HOLDER_THREADS, started = 0;
  pthread_attr_t attr;

  atomic_init(&job.next, 0);
  atomic_init(&job.failed, false);
  pthread_mutex_lock(&f->lock);
  f->nholders = f->opts.holders;
  pthread_mutex_unlock(&f->lock);
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, THREAD_STACK);
  /* This thread works too; helpers only when there is more than one holder. */
  for(size_t i = 1; i < nthreads; i++)
    if(!pthread_create(&threads[started], &attr, holder_worker, &job))
      started++;
  pthread_attr_destroy(&attr);
  holder_worker(&job);
  for(size_t i = 0; i < started; i++)
    pthread_join(threads[i], NULL); /* bounded: each connect step has its timeout */
  if(atomic_load(&job.failed))
    return rb_fail(msg, msglen, job.err, "%s", job.msg);
  return RB_OK;
}

void rb_fleet_release_holders(struct rb_fleet *f)
{
  for(size_t i = 0; i < f->nholders; i++) {
    struct rb_client *c;

    pthread_mutex_lock(&f->lock);
    c = f->holders[i];
    f->holders[i] = NULL;
    pthread_mutex_unlock(&f->lock);
    if(c)
      rb_client_close(c, false); /* kept in holder_pool for the next cycle */
  }
  f->nholders = 0;
}

rb_err rb_fleet_open_handshakes(struct rb_fleet *f, unsigned n, int64_t deadline, char *msg, size_t msglen)
{
  /* C0 (version 3) + the first half of C1 (1536 bytes: time, zero, random) */
  static unsigned char hello[1 + 768];

  hello[0] = 3;
  rb_fleet_close_handshakes(f);
  if(!(f->handshakes = calloc(n ? n : 1, sizeof(*f->handshakes))))
    return rb_fail(msg, msglen, RB_ERR_NOMEM, "out of memory");
  for(unsigned i = 0; i < n; i++) {
    char why[256];
    int fd;
    rb_err err = rb_net_connect(f->opts.host, f->opts.port, deadline, NULL, &fd, why, sizeof(why));

    if(err)
      return rb_fail(msg, msglen, RB_ERR_REFUSED, "mid-handshake client %u could not connect: %s", i,
                     why);
    f->handshakes[f->nhandshakes++] = fd;
    if(send(fd, hello, sizeof(hello), MSG_NOSIGNAL) != (ssize_t)sizeof(hello))
      return rb_fail(msg, msglen, RB_ERR_CLOSED, "mid-handshake client %u: %s", i, strerror(errno));
  }
  return RB_OK;
}

void rb_fleet_close_handshakes(struct rb_fleet *f)
{
  for(size_t i = 0; i < f->nhandshakes; i++)
    close(f->handshakes[i]);
  free(f->handshakes);
  f->handshakes = NULL;
  f->nhandshakes = 0;
}

void rb_fleet_stop(struct rb_fleet *f)
{
  struct timespec join_by;

  pthread_mutex_lock(&f->lock);
  f->stopping = true;
  pthread_cond_broadcast(&f->changed);
  for(size_t i = 0; i < f->nmembers; i++) {
    if(f->members[i].client)
      rb_client_abort(f->members[i].client);
    if(f->members[i].sock >= 0)
      shutdown(f->members[i].sock, SHUT_RDWR); /* a blocked HTTP transfer ends at once */
  }
  pthread_mutex_unlock(&f->lock);
  /* timedjoin takes CLOCK_REALTIME: one bound for all joins, so wedged threads
     cannot hang us, however many there are. */
  clock_gettime(CLOCK_REALTIME, &join_by);
  join_by.tv_sec += JOIN_TIMEOUT / RB_NS_PER_S;
  for(size_t i = 0; i < f->nmembers; i++) {
    if(!f->members[i].started)
      continue;
    if(pthread_timedjoin_np(f->members[i].thread, NULL, &join_by))
      pthread_detach(f->members[i].thread);
    f->members[i].started = false;
  }
  rb_fleet_release_holders(f);
  rb_fleet_close_handshakes(f);
}

void rb_fleet_destroy(struct rb_fleet *f)
{
  if(!f)
    return;
  rb_fleet_stop(f);
  for(size_t i = 0; f->holder_pool && i < f->opts.holders; i++)
    rb_client_destroy(f->holder_pool[i]);
  free(f->holder_pool);
  for(size_t i = 0; i < f->nmembers; i++)
    free(f->members[i].verifier);
  free(f->members);
  free(f->holders);
  free(f->url);
  free(f->play_url);
  free(f->holder_url);
  free(f->media_path);
  pthread_cond_destroy(&f->changed);
  pthread_cond_destroy(&f->up_changed);
  pthread_mutex_destroy(&f->lock);
  free(f);
}
