/*
 * refserver_session: what the reference server says to each peer, without sockets.
 *
 * Owns the handshake (plain; a client's digest handshake is answered the same way,
 * which librtmp and ffmpeg accept), the NetConnection/NetStream commands, the
 * stream registry (one publisher, many players per app/name), relaying media with
 * the cached @setDataFrame metadata and AVC/AAC sequence headers sent first to a
 * player that joins late, and the RTMP-level fault switches: --reject-publish and
 * --stale-stream. Output goes into each connection's queue; connections that have
 * output or must be closed are handed to the event loop via rb_refserver_next_pending.
 */
#include "rebound/clock.h"
#include "rebound/flv.h"
#include "rebound/refserver.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_KEY 512           /* "app/name" */
#define MAX_STREAMS 4096      /* names known at once, live or stale */
#define MAX_CACHED 65536      /* metadata or sequence header worth replaying */
#define WINDOW_ACK_SIZE 2500000u

/* Chunk stream ids the server writes on. */
enum { CS_CONTROL = 2, CS_COMMAND = 3, CS_AUDIO = 4, CS_DATA = 5, CS_VIDEO = 6 };

/* RTMP message types. */
enum {
  MSG_SET_CHUNK_SIZE = 1, MSG_ACK = 3, MSG_USER_CONTROL = 4, MSG_WINDOW_ACK = 5,
  MSG_PEER_BANDWIDTH = 6, MSG_AUDIO = 8, MSG_VIDEO = 9, MSG_DATA_AMF3 = 15,
  MSG_COMMAND_AMF3 = 17, MSG_DATA = 18, MSG_COMMAND = 20
};

enum { EVENT_STREAM_BEGIN = 0, EVENT_STREAM_EOF = 1 };

enum phase { PHASE_C0C1, PHASE_C2, PHASE_RTMP, PHASE_HTTP_REQUEST, PHASE_HTTP_FLV };
enum role { ROLE_NONE, ROLE_PUBLISHER, ROLE_PLAYER };

struct cached {
  uint8_t *data;
  uint32_t len;
};

struct stream {
  char key[MAX_KEY];
  struct rb_refserver_conn *publisher;
  struct rb_refserver_conn **players;
  size_t nplayers;
  size_t cap;
  struct cached metadata, avc_header, aac_header;
  uint32_t last_timestamp;
  int64_t stale_until;      /* an abruptly gone publisher "still holds" the name until then */
  struct stream *next;
};

struct rb_refserver_conn {
  uint64_t id;
  char peer[64];
  void *user;
  enum phase phase;
  uint8_t c0c1[1 + RB_REFSERVER_HANDSHAKE_SIZE]; /* also an HTTP-FLV peer's request */
  uint32_t handshake_have;
  struct rb_refserver_reader reader;
  struct rb_refserver_buf out;
  char app[128];
  bool connected;
  uint32_t next_stream_id;
  uint32_t window;          /* the peer's Window Acknowledgement Size */
  uint64_t acked;
  enum role role;
  struct stream *stream;
  uint32_t media_stream_id;
  bool wait_keyframe;
  bool closing;
  char close_reason[160];
  bool queued;
  struct rb_refserver_conn *next_pending;
  struct rb_refserver_conn *prev_all, *next_all;
};

struct rb_refserver {
  struct rb_refserver_config cfg;
  struct rb_refserver_budget budget;
  struct stream *streams;
  size_t nstreams;
  struct rb_refserver_conn *pending_head, *pending_tail;
  struct rb_refserver_conn *all;
  size_t nconns;
  uint64_t next_conn_id;
  uint32_t rng;
};

static int64_t now(const struct rb_refserver *s)
{
  return s->cfg.now ? s->cfg.now() : rb_clock_now();
}

static void logf_conn(const struct rb_refserver *s, const struct rb_refserver_conn *c,
                      const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void logf_conn(const struct rb_refserver *s, const struct rb_refserver_conn *c,
                      const char *fmt, ...)
{
  va_list ap;
  char line[512];

  if(!s->cfg.log)
    return;
  va_start(ap, fmt);
  vsnprintf(line, sizeof(line), fmt, ap);
  va_end(ap);
  fprintf(s->cfg.log, "refserver[%d]: conn %llu %s: %s\n", (int)getpid(),
          (unsigned long long)c->id, c->peer, line);
}

static void queue(struct rb_refserver *s, struct rb_refserver_conn *c)
{
  if(c->queued)
    return;
  c->queued = true;
  c->next_pending = NULL;
  if(s->pending_tail)
    s->pending_tail->next_pending = c;
  else
    s->pending_head = c;
  s->pending_tail = c;
}

static void unqueue(struct rb_refserver *s, struct rb_refserver_conn *c)
{
  struct rb_refserver_conn **pp = &s->pending_head, *prev = NULL;

  if(!c->queued)
    return;
  while(*pp && *pp != c)
    prev = *pp, pp = &(*pp)->next_pending;
  if(*pp)
    *pp = c->next_pending;
  if(s->pending_tail == c)
    s->pending_tail = prev;
  c->queued = false;
}

struct rb_refserver_conn *rb_refserver_next_pending(struct rb_refserver *s)
{
  struct rb_refserver_conn *c = s->pending_head;

  if(!c)
    return NULL;
  s->pending_head = c->next_pending;
  if(!s->pending_head)
    s->pending_tail = NULL;
  c->queued = false;
  c->next_pending = NULL;
  return c;
}

void rb_refserver_conn_close(struct rb_refserver *s, struct rb_refserver_conn *c, const char *why)
{
  if(!c->closing) {
    c->closing = true;
    snprintf(c->close_reason, sizeof(c->close_reason), "%s", why ? why : "closed");
  }
  queue(s, c);
}

/* An HTTP-FLV player gets media as FLV tags; RTMP control and status messages have
   no FLV form and are not sent. */
static void send_flv_tag(struct rb_refserver *s, struct rb_refserver_conn *c, uint8_t type, uint32_t timestamp,
                         const uint8_t *data, uint32_t len)
{
  uint8_t header[RB_FLV_TAG_HEADER], trailer[RB_FLV_TRAILER];

  if(type != MSG_AUDIO && type != MSG_VIDEO && type != MSG_DATA)
    return;
  rb_flv_write_tag_header(header, type, timestamp, len);
  rb_flv_write_trailer(trailer, len);
  /* all or nothing: a tag cut in the middle would desynchronise the player */
  if(RB_REFSERVER_MAX_OUTPUT - rb_refserver_buf_pending(&c->out) < sizeof(header) + len + sizeof(trailer) ||
     rb_refserver_buf_append(&c->out, header, sizeof(header)) || rb_refserver_buf_append(&c->out, data, len) ||
     rb_refserver_buf_append(&c->out, trailer, sizeof(trailer))) {
    rb_refserver_conn_close(s, c, "output queue full: the peer does not read");
    return;
  }
  queue(s, c);
}

static uint32_t out_chunk_size(const struct rb_refserver *s)
{
  return s->cfg.out_chunk_size ? s->cfg.out_chunk_size : RB_REFSERVER_OUT_CHUNK_SIZE;
}

/* Sending. A full output queue means a peer that does not read: it is dropped
   rather than allowed to grow without bound. */
static void send_message(struct rb_refserver *s, struct rb_refserver_conn *c, uint32_t csid,
                         uint8_t type, uint32_t stream_id, uint32_t timestamp,
                         const uint8_t *data, uint32_t len)
{
  struct rb_refserver_message m = { csid, timestamp, len, stream_id, type, data };

  if(c->closing)
    return;
  if(c->phase == PHASE_HTTP_FLV) {
    send_flv_tag(s, c, type, timestamp, data, len);
    return;
  }
  if(rb_refserver_write_message(&c->out, out_chunk_size(s), &m)) {
    rb_refserver_conn_close(s, c, "output queue full: the peer does not read");
    return;
  }
  queue(s, c);
}

/* Protocol control messages are at most 5 bytes: one chunk whatever the chunk
   size, so they are valid before and after the peer learns our Set Chunk Size. */
static void send_control(struct rb_refserver *s, struct rb_refserver_conn *c, uint8_t type,
                         uint32_t value, int extra_byte)
{
  uint8_t b[5] = { (uint8_t)(value >> 24), (uint8_t)(value >> 16), (uint8_t)(value >> 8),
                   (uint8_t)value, (uint8_t)extra_byte };

  send_message(s, c, CS_CONTROL, type, 0, 0, b, extra_byte >= 0 ? 5 : 4);
}

static void send_user_control(struct rb_refserver *s, struct rb_refserver_conn *c,
                              uint16_t event, uint32_t stream_id)
{
  uint8_t b[6] = { (uint8_t)(event >> 8), (uint8_t)event, (uint8_t)(stream_id >> 24),
                   (uint8_t)(stream_id >> 16), (uint8_t)(stream_id >> 8), (uint8_t)stream_id };

  send_message(s, c, CS_CONTROL, MSG_USER_CONTROL, 0, 0, b, sizeof(b));
}

static void send_amf(struct rb_refserver *s, struct rb_refserver_conn *c, uint32_t stream_id,
                     const struct rb_rtmp_amf_writer *w)
{
  if(w->overflow) {
    rb_refserver_conn_close(s, c, "internal error: reply too large");
    return;
  }
  send_message(s, c, CS_COMMAND, MSG_COMMAND, stream_id, 0, w->p, (uint32_t)w->len);
}

static void send_status(struct rb_refserver *s, struct rb_refserver_conn *c, uint32_t stream_id,
                        const char *level, const char *code, const char *description)
{
  uint8_t b[1024];
  struct rb_rtmp_amf_writer w = { b, sizeof(b), 0, false };

  rb_rtmp_amf_put_status(&w, "onStatus", 0, level, code, description);
  send_amf(s, c, stream_id, &w);
}

static void send_result(struct rb_refserver *s, struct rb_refserver_conn *c, double txn,
                        bool with_number, double number)
{
  uint8_t b[64];
  struct rb_rtmp_amf_writer w = { b, sizeof(b), 0, false };

  rb_rtmp_amf_put_result(&w, txn, with_number, number);
  send_amf(s, c, 0, &w);
}

/* Stream registry. */

static void cached_set(struct cached *slot, const uint8_t *data, uint32_t len)
{
  free(slot->data);
  slot->data = NULL;
  slot->len = 0;
  if(!data || len == 0 || len > MAX_CACHED)
    return;
  slot->data = malloc(len);
  if(!slot->data)
    return; /* only a late player misses its headers */
  memcpy(slot->data, data, len);
  slot->len = len;
}

static void stream_clear_cache(struct stream *st)
{
  cached_set(&st->metadata, NULL, 0);
  cached_set(&st->avc_header, NULL, 0);
  cached_set(&st->aac_header, NULL, 0);
}

static struct stream *stream_find(struct rb_refserver *s, const char *key)
{
  for(struct stream *st = s->streams; st; st = st->next)
    if(strcmp(st->key, key) == 0)
      return st;
  return NULL;
}

static void stream_unlink_free(struct rb_refserver *s, struct stream *st)
{
  struct stream **pp = &s->streams;

  while(*pp && *pp != st)
    pp = &(*pp)->next;
  if(*pp)
    *pp = st->next;
  stream_clear_cache(st);
  free(st->players);
  free(st);
  s->nstreams--;
}

static void stream_release_if_unused(struct rb_refserver *s, struct stream *st)
{
  if(!st->publisher && st->nplayers == 0 && st->stale_until <= now(s))
    stream_unlink_free(s, st);
}

/* Stale names are only looked at when someone publishes, so expired ones are
   swept then. */
static void sweep_streams(struct rb_refserver *s)
{
  struct stream *st = s->streams, *next;

  for(; st; st = next) {
    next = st->next;
    stream_release_if_unused(s, st);
  }
}

static struct stream *stream_get(struct rb_refserver *s, const char *key)
{
  struct stream *st = stream_find(s, key);

  if(st || s->nstreams >= MAX_STREAMS)
    return st;
  st = calloc(1, sizeof(*st));
  if(!st)
    return NULL;
  snprintf(st->key, sizeof(st->key), "%s", key);
  st->next = s->streams;
  s->streams = st;
  s->nstreams++;
  return st;
}

static bool stream_add_player(struct stream *st, struct rb_refserver_conn *c)
{
  if(st->nplayers == st->cap) {
    size_t cap = st->cap ? st->cap * 2 : 4;
    struct rb_refserver_conn **p = realloc(st->players, cap * sizeof(*p));

    if(!p)
      return false;
    st->players = p;
    st->cap = cap;
  }
  st->players[st->nplayers++] = c;
  return true;
}

static void stream_remove_player(struct stream *st, struct rb_refserver_conn *c)
{
  for(size_t i = 0; i < st->nplayers; i++)
    if(st->players[i] == c) {
      st->players[i] = st->players[--st->nplayers];
      return;
    }
}

/* Media. */

static bool is_avc_header(const uint8_t *d, uint32_t n)
{
  return n >= 2 && (d[0] & 0x0f) == 7 && d[1] == 0;
}

static bool is_aac_header(const uint8_t *d, uint32_t n)
{
  return n >= 2 && (d[0] >> 4) == 10 && d[1] == 0;
}

static bool is_keyframe(const uint8_t *d, uint32_t n)
{
  return n >= 1 && (d[0] >> 4) == 1;
}

static uint32_t media_csid(uint8_t type)
{
  return type == MSG_AUDIO ? CS_AUDIO : type == MSG_VIDEO ? CS_VIDEO : CS_DATA;
}

static void relay_to(struct rb_refserver *s, struct rb_refserver_conn *p, uint8_t type,
                     uint32_t timestamp, const uint8_t *data, uint32_t len)
{
  if(type == MSG_VIDEO && p->wait_keyframe && !is_avc_header(data, len)) {
    if(!is_keyframe(data, len))
      return; /* a decoder cannot start mid-GOP */
    p->wait_keyframe = false;
  }
  send_message(s, p, media_csid(type), type, p->media_stream_id, timestamp, data, len);
}

/* Players hear "onMetaData"; "@setDataFrame" is an instruction to the server. */
static void strip_set_data_frame(const uint8_t **data, uint32_t *len, bool *is_metadata)
{
  struct rb_rtmp_amf_reader r = { *data, *len, 0 };
  const char *name;
  size_t n;

  *is_metadata = false;
  if(!rb_rtmp_amf_get_string(&r, &name, &n))
    return;
  if(n == 13 && memcmp(name, "@setDataFrame", 13) == 0) {
    *data += r.pos;
    *len -= (uint32_t)r.pos;
    r.p = *data;
    r.len = *len;
    r.pos = 0;
    if(!rb_rtmp_amf_get_string(&r, &name, &n))
      return;
  }
  *is_metadata = n == 10 && memcmp(name, "onMetaData", 10) == 0;
}

static void on_media(struct rb_refserver *s, struct rb_refserver_conn *c,
                     const struct rb_refserver_message *m)
{
  struct stream *st = c->stream;
  const uint8_t *data = m->data;
  uint32_t len = m->length;
  bool metadata = false;

  if(c->role != ROLE_PUBLISHER || !st)
    return; /* media from a non-publisher is ignored, as real servers do */
  if(m->type == MSG_DATA)
    strip_set_data_frame(&data, &len, &metadata);
  if(metadata)
    cached_set(&st->metadata, data, len);
  else if(m->type == MSG_VIDEO && is_avc_header(data, len))
    cached_set(&st->avc_header, data, len);
  else if(m->type == MSG_AUDIO && is_aac_header(data, len))
    cached_set(&st->aac_header, data, len);
  st->last_timestamp = m->timestamp;
  for(size_t i = 0; i < st->nplayers; i++)
    relay_to(s, st->players[i], m->type, m->timestamp, data, len);
}

static void send_cached_headers(struct rb_refserver *s, struct stream *st,
                                struct rb_refserver_conn *p)
{
  uint32_t ts = st->last_timestamp;

  /* Metadata at timestamp 0: ffmpeg's FLV demuxer turns onMetaData with any other
     timestamp into an extra data stream. */
  if(st->metadata.len)
    send_message(s, p, CS_DATA, MSG_DATA, p->media_stream_id, 0, st->metadata.data,
                 st->metadata.len);
  if(st->avc_header.len)
    send_message(s, p, CS_VIDEO, MSG_VIDEO, p->media_stream_id, ts, st->avc_header.data,
                 st->avc_header.len);
  if(st->aac_header.len)
    send_message(s, p, CS_AUDIO, MSG_AUDIO, p->media_stream_id, ts, st->aac_header.data,
                 st->aac_header.len);
}

/* Publisher gone: graceful (deleteStream, FCUnpublish, closeStream) or abrupt
   (the socket ended first). Only an abrupt end leaves the name "busy". */
static void unpublish(struct rb_refserver *s, struct rb_refserver_conn *c, bool abrupt)
{
  struct stream *st = c->stream;

  if(c->role != ROLE_PUBLISHER || !st)
    return;
  logf_conn(s, c, "unpublish %s (%s)", st->key, abrupt ? "abrupt" : "graceful");
  st->publisher = NULL;
  stream_clear_cache(st);
  if(abrupt && s->cfg.stale_ns > 0)
    st->stale_until = now(s) + s->cfg.stale_ns;
  for(size_t i = 0; i < st->nplayers; i++) {
    struct rb_refserver_conn *p = st->players[i];

    send_user_control(s, p, EVENT_STREAM_EOF, p->media_stream_id);
    send_status(s, p, p->media_stream_id, "status", "NetStream.Play.UnpublishNotify",
                "stream is now unpublished");
  }
  c->role = ROLE_NONE;
  c->stream = NULL;
  stream_release_if_unused(s, st);
}

static void stop_playing(struct rb_refserver *s, struct rb_refserver_conn *c)
{
  struct stream *st = c->stream;

  if(c->role != ROLE_PLAYER || !st)
    return;
  stream_remove_player(st, c);
  c->role = ROLE_NONE;
  c->stream = NULL;
  stream_release_if_unused(s, st);
}

/* Commands. */

struct command {
  const char *name;
  double txn;
  uint32_t stream_id;
  struct rb_rtmp_amf_reader args; /* positioned after the command object */
};

/* Stream names may carry a query ("name?key=..."): the name is what comes before. */
static bool stream_key(const struct rb_refserver_conn *c, struct command *cmd, char *key,
                       size_t keylen)
{
  const char *name;
  size_t n;
  int w;

  if(!rb_rtmp_amf_get_string(&cmd->args, &name, &n))
    return false;
  for(size_t i = 0; i < n; i++)
    if(name[i] == '?' || name[i] == '\0')
      n = i;
  if(n == 0)
    return false;
  w = snprintf(key, keylen, "%s/%.*s", c->app, (int)n, name);
  return w > 0 && (size_t)w < keylen;
}

static rb_err on_connect(struct rb_refserver *s, struct rb_refserver_conn *c, struct command *cmd)
{
  uint8_t b[512];
  struct rb_rtmp_amf_writer w = { b, sizeof(b), 0, false };
  bool found;
  size_t n;

  if(!rb_rtmp_amf_find_string(&cmd->args, "app", c->app, sizeof(c->app), &found) || !found)
    c->app[0] = '\0';
  n = strlen(c->app);
  if(n > 0 && c->app[n - 1] == '/')
    c->app[n - 1] = '\0'; /* "live/" and "live" are the same app */
  c->connected = true;
  logf_conn(s, c, "connect app=%s", c->app);
  send_control(s, c, MSG_WINDOW_ACK, WINDOW_ACK_SIZE, -1);
  send_control(s, c, MSG_PEER_BANDWIDTH, WINDOW_ACK_SIZE, 2);
  /* The protocol's default needs no announcement; a client that still reads with the
     chunk size of an earlier server then misreads everything that follows. */
  if(out_chunk_size(s) != RB_REFSERVER_DEFAULT_CHUNK_SIZE)
    send_control(s, c, MSG_SET_CHUNK_SIZE, out_chunk_size(s), -1);
  rb_rtmp_amf_put_string(&w, "_result");
  rb_rtmp_amf_put_number(&w, cmd->txn);
  rb_rtmp_amf_put_object_start(&w);
  rb_rtmp_amf_put_key(&w, "fmsVer");
  rb_rtmp_amf_put_string(&w, "FMS/3,0,1,123");
  rb_rtmp_amf_put_key(&w, "capabilities");
  rb_rtmp_amf_put_number(&w, 31);
  rb_rtmp_amf_put_object_end(&w);
  rb_rtmp_amf_put_object_start(&w);
  rb_rtmp_amf_put_key(&w, "level");
  rb_rtmp_amf_put_string(&w, "status");
  rb_rtmp_amf_put_key(&w, "code");
  rb_rtmp_amf_put_string(&w, "NetConnection.Connect.Success");
  rb_rtmp_amf_put_key(&w, "description");
  rb_rtmp_amf_put_string(&w, "Connection succeeded.");
  rb_rtmp_amf_put_key(&w, "objectEncoding");
  rb_rtmp_amf_put_number(&w, 0);
  rb_rtmp_amf_put_object_end(&w);
  send_amf(s, c, 0, &w);
  return RB_OK;
}

static rb_err on_create_stream(struct rb_refserver *s, struct rb_refserver_conn *c,
                               struct command *cmd)
{
  if(c->next_stream_id == 0)
    c->next_stream_id = 1;
  send_result(s, c, cmd->txn, true, c->next_stream_id++);
  return RB_OK;
}

/* releaseStream and FCPublish: answered so that clients which track every call see
   an answer; the stream itself is claimed by publish. */
static rb_err on_acknowledged(struct rb_refserver *s, struct rb_refserver_conn *c,
                              struct command *cmd)
{
  if(cmd->txn > 0)
    send_result(s, c, cmd->txn, false, 0);
  return RB_OK;
}

static bool publish_refused_as_busy(struct rb_refserver *s, const struct stream *st)
{
  int64_t t = now(s);

  if(t < s->cfg.stale_all_until)
    return true; /* models a restarted server that believes the old publisher is there */
  return st && (st->publisher || st->stale_until > t);
}

static rb_err on_publish(struct rb_refserver *s, struct rb_refserver_conn *c, struct command *cmd,
                         uint32_t stream_id)
{
  char key[MAX_KEY];
  struct stream *st;

  if(!stream_key(c, cmd, key, sizeof(key))) {
    logf_conn(s, c, "publish refused: missing or too long stream name");
    send_status(s, c, stream_id, "error", "NetStream.Publish.BadName", "Invalid stream name");
    return RB_OK;
  }
  if(s->cfg.reject_publish_code) {
    logf_conn(s, c, "publish %s rejected (%s)", key, s->cfg.reject_publish_code);
    send_status(s, c, stream_id, "error", s->cfg.reject_publish_code,
                "Publishing rejected by --reject-publish");
    return RB_OK;
  }
  sweep_streams(s);
  st = stream_find(s, key);
  if(publish_refused_as_busy(s, st) || c->role != ROLE_NONE) {
    logf_conn(s, c, "publish %s refused: already publishing", key);
    send_status(s, c, stream_id, "error", "NetStream.Publish.BadName", "Stream already publishing");
    return RB_OK;
  }
  st = stream_get(s, key);
  if(!st) {
    send_status(s, c, stream_id, "error", "NetStream.Publish.BadName", "Too many streams");
    return RB_OK;
  }
  st->publisher = c;
  st->stale_until = 0;
  stream_clear_cache(st);
  c->role = ROLE_PUBLISHER;
  c->stream = st;
  c->media_stream_id = stream_id;
  logf_conn(s, c, "publish %s", key);
  send_user_control(s, c, EVENT_STREAM_BEGIN, stream_id);
  send_status(s, c, stream_id, "status", "NetStream.Publish.Start", "Start publishing");
  for(size_t i = 0; i < st->nplayers; i++) {
    struct rb_refserver_conn *p = st->players[i];

    p->wait_keyframe = true;
    send_user_control(s, p, EVENT_STREAM_BEGIN, p->media_stream_id);
    send_status(s, p, p->media_stream_id, "status", "NetStream.Play.PublishNotify",
                "stream is now published");
  }
  return RB_OK;
}

static rb_err on_play(struct rb_refserver *s, struct rb_refserver_conn *c, struct command *cmd,
                      uint32_t stream_id)
{
  char key[MAX_KEY];
  struct stream *st;
  uint8_t b[64];
  struct rb_rtmp_amf_writer w = { b, sizeof(b), 0, false };

  if(!stream_key(c, cmd, key, sizeof(key)) || c->role != ROLE_NONE) {
    send_status(s, c, stream_id, "error", "NetStream.Play.Failed", "Invalid stream name");
    return RB_OK;
  }
  st = stream_get(s, key);
  if(!st || !stream_add_player(st, c)) {
    send_status(s, c, stream_id, "error", "NetStream.Play.Failed", "Too many streams");
    if(st)
      stream_release_if_unused(s, st);
    return RB_OK;
  }
  c->role = ROLE_PLAYER;
  c->stream = st;
  c->media_stream_id = stream_id;
  c->wait_keyframe = true;
  logf_conn(s, c, "play %s%s", key, st->publisher ? "" : " (waiting for a publisher)");
  send_user_control(s, c, EVENT_STREAM_BEGIN, stream_id);
  send_status(s, c, stream_id, "status", "NetStream.Play.Reset", "Playing and resetting stream");
  send_status(s, c, stream_id, "status", "NetStream.Play.Start", "Started playing stream");
  rb_rtmp_amf_put_string(&w, "|RtmpSampleAccess");
  rb_rtmp_amf_put_bool(&w, true);
  rb_rtmp_amf_put_bool(&w, true);
  send_message(s, c, CS_DATA, MSG_DATA, stream_id, 0, w.p, (uint32_t)w.len);
  if(st->publisher)
    send_cached_headers(s, st, c);
  return RB_OK;
}

static rb_err on_stream_end(struct rb_refserver *s, struct rb_refserver_conn *c,
                            struct command *cmd)
{
  (void)cmd;
  if(c->role == ROLE_PUBLISHER)
    unpublish(s, c, false);
  else
    stop_playing(s, c);
  return RB_OK;
}

static rb_err on_command(struct rb_refserver *s, struct rb_refserver_conn *c,
                         const struct rb_refserver_message *m, char *errmsg, size_t errlen)
{
  struct command cmd = { NULL, 0, m->stream_id, { m->data, m->length, 0 } };
  const char *name;
  size_t n;
  char nm[32];

  if(m->type == MSG_COMMAND_AMF3 && m->length > 0 && m->data[0] == 0)
    cmd.args.pos = 1; /* AMF3 command messages start with an AMF0 marker byte */
  if(!rb_rtmp_amf_get_string(&cmd.args, &name, &n))
    return rb_fail(errmsg, errlen, RB_ERR_PROTOCOL, "command without a name");
  snprintf(nm, sizeof(nm), "%.*s", (int)(n < sizeof(nm) ? n : sizeof(nm) - 1), name);
  cmd.name = nm;
  if(!rb_rtmp_amf_get_number(&cmd.args, &cmd.txn))
    cmd.txn = 0;
  if(strcmp(nm, "connect") == 0)
    return on_connect(s, c, &cmd);
  if(!c->connected)
    return rb_fail(errmsg, errlen, RB_ERR_PROTOCOL, "command %s before connect", nm);
  rb_rtmp_amf_skip(&cmd.args); /* the command object (null) */
  if(strcmp(nm, "createStream") == 0)
    return on_create_stream(s, c, &cmd);
  if(strcmp(nm, "releaseStream") == 0 || strcmp(nm, "FCPublish") == 0)
    return on_acknowledged(s, c, &cmd);
  if(strcmp(nm, "publish") == 0)
    return on_publish(s, c, &cmd, m->stream_id);
  if(strcmp(nm, "play") == 0)
    return on_play(s, c, &cmd, m->stream_id);
  if(strcmp(nm, "deleteStream") == 0 || strcmp(nm, "closeStream") == 0
     || strcmp(nm, "FCUnpublish") == 0)
    return on_stream_end(s, c, &cmd);
  return RB_OK; /* getStreamLength, _checkbw, FCSubscribe, ...: not needed */
}

static rb_err on_message(struct rb_refserver *s, struct rb_refserver_conn *c,
                         const struct rb_refserver_message *m, char *errmsg, size_t errlen)
{
  switch(m->type) {
  case MSG_WINDOW_ACK:
    if(m->length >= 4)
      c->window = (uint32_t)m->data[0] << 24 | (uint32_t)m->data[1] << 16
                  | (uint32_t)m->data[2] << 8 | m->data[3];
    return RB_OK;
  case MSG_AUDIO:
  case MSG_VIDEO:
  case MSG_DATA:
  case MSG_DATA_AMF3:
    on_media(s, c, m);
    return RB_OK;
  case MSG_COMMAND:
  case MSG_COMMAND_AMF3:
    return on_command(s, c, m, errmsg, errlen);
  default:
    return RB_OK; /* chunk size and abort were applied by the reader; the rest is advisory */
  }
}

/* Handshake. */

static uint32_t next_random(struct rb_refserver *s)
{
  s->rng ^= s->rng << 13;
  s->rng ^= s->rng >> 17;
  s->rng ^= s->rng << 5;
  return s->rng;
}

/* S1 carries zero in its version field: clients then skip digest validation, and
   S2 echoes C1 as the plain handshake asks. */
static void send_handshake(struct rb_refserver *s, struct rb_refserver_conn *c)
{
  uint8_t s0s1[1 + RB_REFSERVER_HANDSHAKE_SIZE];

  memset(s0s1, 0, 9);
  s0s1[0] = 3;
  for(size_t i = 9; i < sizeof(s0s1); i++)
    s0s1[i] = (uint8_t)next_random(s);
  if(rb_refserver_buf_append(&c->out, s0s1, sizeof(s0s1))
     || rb_refserver_buf_append(&c->out, c->c0c1 + 1, RB_REFSERVER_HANDSHAKE_SIZE)) {
    rb_refserver_conn_close(s, c, "output queue full during handshake");
    return;
  }
  queue(s, c);
}

static size_t handshake_input(struct rb_refserver *s, struct rb_refserver_conn *c,
                              const uint8_t *buf, size_t len, char *errmsg, size_t errlen,
                              rb_err *err)
{
  size_t want, n;

  *err = RB_OK;
  if(c->phase == PHASE_C0C1) {
    want = sizeof(c->c0c1) - c->handshake_have;
    n = len < want ? len : want;
    memcpy(c->c0c1 + c->handshake_have, buf, n);
    c->handshake_have += (uint32_t)n;
    if(c->handshake_have >= 1 && c->c0c1[0] != 3) {
      *err = rb_fail(errmsg, errlen, RB_ERR_PROTOCOL, "unsupported RTMP version %u in C0",
                     c->c0c1[0]);
      return n;
    }
    if(c->handshake_have == sizeof(c->c0c1)) {
      send_handshake(s, c);
      c->phase = PHASE_C2;
      c->handshake_have = 0;
    }
    return n;
  }
  want = RB_REFSERVER_HANDSHAKE_SIZE - c->handshake_have;
  n = len < want ? len : want;
  c->handshake_have += (uint32_t)n;
  if(c->handshake_have == RB_REFSERVER_HANDSHAKE_SIZE)
    c->phase = PHASE_RTMP; /* C2's content is not checked: real servers do not either */
  return n;
}

/* HTTP-FLV: "GET /APP/NAME.flv HTTP/1.x"; the answer is an endless FLV stream of
   that stream, or, with --http-flv-stall, its header and then nothing. */
static void http_answer(struct rb_refserver *s, struct rb_refserver_conn *c, const char *head)
{
  if(rb_refserver_buf_append(&c->out, head, strlen(head)))
    rb_refserver_conn_close(s, c, "output queue full");
  queue(s, c);
}

static void http_flv_start(struct rb_refserver *s, struct rb_refserver_conn *c, const char *key)
{
  uint8_t header[RB_FLV_HEADER_MIN + RB_FLV_TRAILER];
  struct stream *st = s->cfg.http_flv_stall ? NULL : stream_get(s, key);

  if(!s->cfg.http_flv_stall && (!st || !stream_add_player(st, c))) {
    if(st)
      stream_release_if_unused(s, st);
    http_answer(s, c, "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n");
    return;
  }
  http_answer(s, c, "HTTP/1.1 200 OK\r\nContent-Type: video/x-flv\r\nCache-Control: no-cache\r\n"
                    "Connection: close\r\n\r\n");
  rb_flv_write_header(header);
  if(rb_refserver_buf_append(&c->out, header, sizeof(header)))
    rb_refserver_conn_close(s, c, "output queue full");
  c->phase = PHASE_HTTP_FLV;
  if(s->cfg.http_flv_stall) {
    logf_conn(s, c, "http-flv %s: --http-flv-stall, sending nothing", key);
    return;
  }
  c->role = ROLE_PLAYER;
  c->stream = st;
  c->wait_keyframe = true;
  logf_conn(s, c, "http-flv play %s%s", key, st->publisher ? "" : " (waiting for a publisher)");
  if(st->publisher)
    send_cached_headers(s, st, c);
}

/* Parse the request line once the header is complete; bytes after it are ignored. */
static size_t http_input(struct rb_refserver *s, struct rb_refserver_conn *c, const uint8_t *buf, size_t len)
{
  size_t room = sizeof(c->c0c1) - 1 - c->handshake_have, n = len < room ? len : room;
  char *req = (char *)c->c0c1, key[MAX_KEY], *path, *end;

  if(c->phase == PHASE_HTTP_FLV)
    return len;
  memcpy(req + c->handshake_have, buf, n);
  c->handshake_have += (uint32_t)n;
  req[c->handshake_have] = '\0';
  if(!strstr(req, "\r\n\r\n")) {
    if(c->handshake_have == sizeof(c->c0c1) - 1)
      rb_refserver_conn_close(s, c, "HTTP request header too long");
    return n;
  }
  path = req + 4;
  end = strchr(path, ' ');
  if(strncmp(req, "GET /", 5) || !end || end - path < 6 || strncmp(end - 4, ".flv", 4) ||
     (size_t)(end - 4 - path - 1) >= sizeof(key)) {
    logf_conn(s, c, "http: bad request");
    http_answer(s, c, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
    c->phase = PHASE_HTTP_FLV; /* nothing more to say */
    return len;
  }
  memcpy(key, path + 1, (size_t)(end - 4 - path - 1));
  key[end - 4 - path - 1] = '\0';
  http_flv_start(s, c, key);
  return len;
}

static void maybe_ack(struct rb_refserver *s, struct rb_refserver_conn *c)
{
  uint64_t in = c->reader.bytes_in;

  if(c->window && in - c->acked >= c->window) {
    c->acked = in;
    send_control(s, c, MSG_ACK, (uint32_t)in, -1);
  }
}

rb_err rb_refserver_conn_input(struct rb_refserver *s, struct rb_refserver_conn *c,
                               const uint8_t *buf, size_t len)
{
  char why[160] = "";
  rb_err err = RB_OK;
  size_t pos = 0;

  while(pos < len && !err && !c->closing) {
    if(c->phase >= PHASE_HTTP_REQUEST) {
      pos += http_input(s, c, buf + pos, len - pos);
    } else if(c->phase != PHASE_RTMP) {
      pos += handshake_input(s, c, buf + pos, len - pos, why, sizeof(why), &err);
    } else {
      struct rb_refserver_message m;
      bool have = false;
      size_t used = 0;

      err = rb_refserver_reader_feed(&c->reader, buf + pos, len - pos, &used, &m, &have, why,
                                     sizeof(why));
      pos += used;
      if(!err && have)
        err = on_message(s, c, &m, why, sizeof(why));
    }
  }
  if(err) {
    rb_refserver_conn_close(s, c, why);
    return err;
  }
  maybe_ack(s, c);
  return RB_OK;
}

/* Lifecycle. */

struct rb_refserver *rb_refserver_new(const struct rb_refserver_config *cfg)
{
  struct rb_refserver *s = calloc(1, sizeof(*s));

  if(!s)
    return NULL;
  s->cfg = *cfg;
  s->budget.max = cfg->memory_budget ? cfg->memory_budget : RB_REFSERVER_DEFAULT_BUDGET;
  s->rng = (uint32_t)rb_clock_now() ^ (uint32_t)getpid() << 16;
  if(s->rng == 0)
    s->rng = 0x9e3779b9u;
  return s;
}

struct rb_refserver_conn *rb_refserver_conn_new_http(struct rb_refserver *s, const char *peer, void *user)
{
  struct rb_refserver_conn *c = rb_refserver_conn_new(s, peer, user);

  if(c)
    c->phase = PHASE_HTTP_REQUEST;
  return c;
}

struct rb_refserver_conn *rb_refserver_conn_new(struct rb_refserver *s, const char *peer, void *user)
{
  struct rb_refserver_conn *c = calloc(1, sizeof(*c));

  if(!c)
    return NULL;
  c->id = ++s->next_conn_id;
  snprintf(c->peer, sizeof(c->peer), "%s", peer ? peer : "?");
  c->user = user;
  rb_refserver_reader_init(&c->reader, &s->budget);
  c->out.budget = &s->budget;
  c->next_all = s->all;
  if(s->all)
    s->all->prev_all = c;
  s->all = c;
  s->nconns++;
  return c;
}

void rb_refserver_conn_free(struct rb_refserver *s, struct rb_refserver_conn *c)
{
  if(!c)
    return;
  if(c->role == ROLE_PUBLISHER)
    unpublish(s, c, true); /* still publishing when the connection ended */
  else
    stop_playing(s, c);
  unqueue(s, c);
  if(c->prev_all)
    c->prev_all->next_all = c->next_all;
  else
    s->all = c->next_all;
  if(c->next_all)
    c->next_all->prev_all = c->prev_all;
  s->nconns--;
  rb_refserver_reader_free(&c->reader);
  rb_refserver_buf_free(&c->out);
  free(c);
}

void rb_refserver_free(struct rb_refserver *s)
{
  if(!s)
    return;
  while(s->all)
    rb_refserver_conn_free(s, s->all);
  while(s->streams)
    stream_unlink_free(s, s->streams);
  free(s);
}

bool rb_refserver_conn_closing(const struct rb_refserver_conn *c)
{
  return c->closing;
}

const char *rb_refserver_conn_close_reason(const struct rb_refserver_conn *c)
{
  return c->close_reason;
}

struct rb_refserver_buf *rb_refserver_conn_output(struct rb_refserver_conn *c)
{
  return &c->out;
}

void *rb_refserver_conn_user(const struct rb_refserver_conn *c)
{
  return c->user;
}

uint64_t rb_refserver_conn_id(const struct rb_refserver_conn *c)
{
  return c->id;
}

size_t rb_refserver_conn_count(const struct rb_refserver *s)
{
  return s->nconns;
}
