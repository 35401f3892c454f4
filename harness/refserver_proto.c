/*
 * refserver_proto: the RTMP wire format for the reference server, over byte buffers.
 *
 * Owns chunk-stream state (extended timestamps, the peer's Set Chunk Size and
 * Abort), message assembly and the output queue; the bytes themselves (chunk
 * headers, chunked writing, AMF0) are rtmp_wire's. Nothing here touches a socket, so
 * unit tests and fuzzers can feed it any bytes. Every size the peer announces is
 * checked before it is trusted (message length, chunk size, number of chunk
 * streams), message buffers grow only as payload actually arrives,
 * and all growth is charged to a budget shared by every connection.
 */
#include "rebound/refserver.h"
#include "rebound/rtmp_wire.h"

#include <stdlib.h>
#include <string.h>

struct rb_refserver_chunk_stream {
  uint32_t csid;
  bool has_header;  /* a fmt 0 header was seen: fmt 1/2/3 may refer to it */
  bool extended;    /* the last fmt 0/1/2 header carried an extended timestamp */
  uint32_t timestamp;
  uint32_t delta;
  uint32_t length;
  uint8_t type;
  uint32_t stream_id;
  uint8_t *data;
  uint32_t have;
  uint32_t cap;
};

/* Message buffers up to this size are kept between messages; bigger ones go back
   to the budget at once, so one large keyframe does not pin memory per peer. */
#define KEEP_BUFFER_BYTES (64u * 1024u)

static bool budget_take(struct rb_refserver_budget *b, size_t n)
{
  if(!b)
    return true;
  if(n > b->max || b->used > b->max - n)
    return false;
  b->used += n;
  return true;
}

static void budget_give(struct rb_refserver_budget *b, size_t n)
{
  if(b)
    b->used = n > b->used ? 0 : b->used - n;
}

static uint32_t be32(const uint8_t *p)
{
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

void rb_refserver_reader_init(struct rb_refserver_reader *r, struct rb_refserver_budget *budget)
{
  memset(r, 0, sizeof(*r));
  r->chunk_size = 128;
  r->max_message = RB_REFSERVER_MAX_MESSAGE;
  r->budget = budget;
}

static void stream_drop_data(struct rb_refserver_reader *r, struct rb_refserver_chunk_stream *cs)
{
  budget_give(r->budget, cs->cap);
  free(cs->data);
  cs->data = NULL;
  cs->cap = 0;
  cs->have = 0;
}

void rb_refserver_reader_free(struct rb_refserver_reader *r)
{
  for(uint32_t i = 0; i < r->nstreams; i++)
    stream_drop_data(r, &r->streams[i]);
  free(r->streams);
  r->streams = NULL;
  r->nstreams = 0;
  r->current = r->emitted = NULL;
}

static struct rb_refserver_chunk_stream *find_stream(struct rb_refserver_reader *r, uint32_t csid)
{
  for(uint32_t i = 0; i < r->nstreams; i++)
    if(r->streams[i].csid == csid)
      return &r->streams[i];
  return NULL;
}

/* The streams array is allocated once at its full (small) size so that pointers
   into it stay valid. */
static struct rb_refserver_chunk_stream *add_stream(struct rb_refserver_reader *r, uint32_t csid)
{
  struct rb_refserver_chunk_stream *cs;

  if(r->nstreams >= RB_REFSERVER_MAX_CHUNK_STREAMS)
    return NULL;
  if(!r->streams) {
    r->streams = calloc(RB_REFSERVER_MAX_CHUNK_STREAMS, sizeof(*r->streams));
    if(!r->streams)
      return NULL;
  }
  cs = &r->streams[r->nstreams++];
  memset(cs, 0, sizeof(*cs));
  cs->csid = csid;
  return cs;
}

/* Whether a fmt 3 header on this chunk stream carries an extended timestamp:
   the stream's last fmt 0/1/2 header had one. */
static bool fmt3_extended(struct rb_refserver_reader *r, const uint8_t *h, uint32_t n)
{
  struct rb_rtmp_chunk_header ch;
  struct rb_refserver_chunk_stream *cs;
  size_t need;

  if(rb_rtmp_basic_header(h, n, &ch, &need) != RB_RTMP_PARSED || ch.fmt != 3)
    return false;
  cs = find_stream(r, ch.csid);
  return cs && cs->extended;
}

/* How many header bytes this chunk has, given the first n already read; grows as
   bytes arrive (the basic header tells the csid size, the timestamp field whether
   an extended timestamp follows). */
static uint32_t header_need(struct rb_refserver_reader *r, const uint8_t *h, uint32_t n)
{
  struct rb_rtmp_chunk_header ch;
  size_t need;

  rb_rtmp_chunk_header(h, n, fmt3_extended(r, h, n), &ch, &need);
  return (uint32_t)need;
}

/* Apply a complete chunk header: validate it against the stream's state and the
   limits, and set up the payload that follows. */
static rb_err begin_chunk(struct rb_refserver_reader *r, char *errmsg, size_t errlen)
{
  struct rb_rtmp_chunk_header h;
  struct rb_refserver_chunk_stream *cs;
  size_t need;

  /* complete (header_need said so); header_len is already reset for the next one */
  rb_rtmp_chunk_header(r->header, sizeof(r->header), fmt3_extended(r, r->header, sizeof(r->header)),
                       &h, &need);
  cs = find_stream(r, h.csid);
  if(!cs) {
    if(h.fmt != 0)
      return rb_fail(errmsg, errlen, RB_ERR_PROTOCOL,
                     "chunk fmt %u on chunk stream %u without a previous full header", h.fmt,
                     h.csid);
    cs = add_stream(r, h.csid);
    if(!cs)
      return rb_fail(errmsg, errlen, RB_ERR_NOMEM, "more than %d chunk streams",
                     RB_REFSERVER_MAX_CHUNK_STREAMS);
  }
  if(h.fmt < 3) {
    if(cs->have > 0)
      return rb_fail(errmsg, errlen, RB_ERR_PROTOCOL,
                     "new message header on chunk stream %u in the middle of a message", h.csid);
    cs->extended = h.extended;
  }
  if(h.fmt == 0) {
    cs->length = h.length;
    cs->type = h.type;
    cs->stream_id = h.stream_id;
    cs->timestamp = h.timestamp;
    cs->delta = h.timestamp;
    cs->has_header = true;
  } else if(h.fmt == 1 || h.fmt == 2) {
    if(h.fmt == 1) {
      cs->length = h.length;
      cs->type = h.type;
    }
    cs->delta = h.timestamp;
    cs->timestamp += h.timestamp;
  } else if(cs->have == 0) {
    cs->timestamp += cs->delta; /* fmt 3 starting a message repeats the last delta */
  }
  if(cs->length > r->max_message)
    return rb_fail(errmsg, errlen, RB_ERR_NOMEM, "message of %u bytes exceeds the limit of %u",
                   cs->length, r->max_message);
  r->current = cs;
  r->chunk_left = cs->length - cs->have;
  if(r->chunk_left > r->chunk_size)
    r->chunk_left = r->chunk_size;
  r->in_payload = r->chunk_left > 0;
  return RB_OK;
}

static rb_err grow_message(struct rb_refserver_reader *r, struct rb_refserver_chunk_stream *cs,
                           uint32_t need, char *errmsg, size_t errlen)
{
  uint32_t cap = cs->cap ? cs->cap : 4096;
  uint8_t *p;

  if(need <= cs->cap)
    return RB_OK;
  while(cap < need)
    cap = cap > cs->length / 2 ? cs->length : cap * 2;
  if(cap > cs->length)
    cap = cs->length;
  if(!budget_take(r->budget, cap - cs->cap))
    return rb_fail(errmsg, errlen, RB_ERR_NOMEM, "server memory budget exhausted");
  p = realloc(cs->data, cap);
  if(!p) {
    budget_give(r->budget, cap - cs->cap);
    return rb_fail(errmsg, errlen, RB_ERR_NOMEM, "out of memory for a %u-byte message", cs->length);
  }
  cs->data = p;
  cs->cap = cap;
  return RB_OK;
}

/* Protocol control the reader itself must obey before the next chunk is read. */
static rb_err apply_control(struct rb_refserver_reader *r, const struct rb_refserver_message *m,
                            char *errmsg, size_t errlen)
{
  uint32_t v;
  struct rb_refserver_chunk_stream *cs;

  if(m->type != 1 && m->type != 2)
    return RB_OK;
  if(m->length < 4)
    return rb_fail(errmsg, errlen, RB_ERR_PROTOCOL, "control message %u of %u bytes", m->type,
                   m->length);
  v = be32(m->data);
  if(m->type == 1) {
    v &= 0x7fffffffu;
    if(v == 0 || v > RB_REFSERVER_MAX_CHUNK_SIZE)
      return rb_fail(errmsg, errlen, RB_ERR_PROTOCOL, "Set Chunk Size %u out of range 1..%u", v,
                     RB_REFSERVER_MAX_CHUNK_SIZE);
    r->chunk_size = v;
    return RB_OK;
  }
  cs = find_stream(r, v);
  if(cs && cs != r->emitted)
    cs->have = 0;
  return RB_OK;
}

static void emit(struct rb_refserver_reader *r, struct rb_refserver_chunk_stream *cs,
                 struct rb_refserver_message *msg)
{
  msg->csid = cs->csid;
  msg->timestamp = cs->timestamp;
  msg->length = cs->length;
  msg->stream_id = cs->stream_id;
  msg->type = cs->type;
  msg->data = cs->data;
  r->emitted = cs;
}

static void reset_emitted(struct rb_refserver_reader *r)
{
  struct rb_refserver_chunk_stream *cs = r->emitted;

  r->emitted = NULL;
  if(!cs)
    return;
  cs->have = 0;
  if(cs->cap > KEEP_BUFFER_BYTES)
    stream_drop_data(r, cs);
}

rb_err rb_refserver_reader_feed(struct rb_refserver_reader *r, const uint8_t *buf, size_t len,
                                size_t *used, struct rb_refserver_message *msg, bool *have_msg,
                                char *errmsg, size_t errlen)
{
  rb_err err = RB_OK;
  size_t pos = 0;

  *have_msg = false;
  reset_emitted(r);
  while(pos < len && !*have_msg) {
    if(!r->in_payload) {
      uint32_t need = header_need(r, r->header, r->header_len);

      while(r->header_len < need && pos < len) {
        r->header[r->header_len++] = buf[pos++];
        need = header_need(r, r->header, r->header_len);
      }
      if(r->header_len < need)
        break;
      r->header_len = 0;
      err = begin_chunk(r, errmsg, errlen);
      if(err)
        goto out;
      if(!r->in_payload && r->current->have == r->current->length)
        emit(r, r->current, msg), *have_msg = true;
      continue;
    }
    {
      struct rb_refserver_chunk_stream *cs = r->current;
      size_t n = len - pos < r->chunk_left ? len - pos : r->chunk_left;

      err = grow_message(r, cs, cs->have + (uint32_t)n, errmsg, errlen);
      if(err)
        goto out;
      memcpy(cs->data + cs->have, buf + pos, n);
      cs->have += (uint32_t)n;
      r->chunk_left -= (uint32_t)n;
      pos += n;
      if(r->chunk_left == 0) {
        r->in_payload = false;
        if(cs->have == cs->length)
          emit(r, cs, msg), *have_msg = true;
      }
    }
  }
  if(*have_msg)
    err = apply_control(r, msg, errmsg, errlen);
out:
  r->bytes_in += pos;
  *used = pos;
  return err;
}

/* Output queue. */

size_t rb_refserver_buf_pending(const struct rb_refserver_buf *b)
{
  return b->len - b->off;
}

/* Make room for n more bytes, within the limit and the budget. */
static rb_err buf_reserve(struct rb_refserver_buf *b, size_t n)
{
  size_t limit = b->limit ? b->limit : RB_REFSERVER_MAX_OUTPUT;
  size_t pending = b->len - b->off;
  size_t cap;
  uint8_t *q;

  if(n > limit || pending > limit - n)
    return RB_ERR_NOMEM;
  if(b->off > 0 && b->len + n > b->cap) {
    memmove(b->data, b->data + b->off, pending);
    b->off = 0;
    b->len = pending;
  }
  if(b->len + n <= b->cap)
    return RB_OK;
  cap = b->cap ? b->cap : 4096;
  while(cap < b->len + n)
    cap *= 2;
  if(!budget_take(b->budget, cap - b->cap))
    return RB_ERR_NOMEM;
  q = realloc(b->data, cap);
  if(!q) {
    budget_give(b->budget, cap - b->cap);
    return RB_ERR_NOMEM;
  }
  b->data = q;
  b->cap = cap;
  return RB_OK;
}

/* Only after buf_reserve. */
static void buf_put(struct rb_refserver_buf *b, const void *p, size_t n)
{
  if(n)
    memcpy(b->data + b->len, p, n);
  b->len += n;
}

rb_err rb_refserver_buf_append(struct rb_refserver_buf *b, const void *p, size_t n)
{
  rb_err err = buf_reserve(b, n);

  if(!err)
    buf_put(b, p, n);
  return err;
}

void rb_refserver_buf_free(struct rb_refserver_buf *b)
{
  budget_give(b->budget, b->cap);
  free(b->data);
  b->data = NULL;
  b->off = b->len = b->cap = 0;
}

void rb_refserver_buf_consume(struct rb_refserver_buf *b, size_t n)
{
  if(n > b->len - b->off)
    n = b->len - b->off;
  b->off += n;
  if(b->off < b->len)
    return;
  b->off = b->len = 0;
  if(b->cap > KEEP_BUFFER_BYTES) /* a burst is over: give the memory back */
    rb_refserver_buf_free(b);
}

rb_err rb_refserver_write_message(struct rb_refserver_buf *out, uint32_t chunk_size,
                                  const struct rb_refserver_message *m)
{
  struct rb_rtmp_message wm = { m->csid, m->timestamp, m->length, m->stream_id, m->type, m->data };
  size_t bound = rb_rtmp_chunk_bound(m->length, chunk_size);
  rb_err err;

  if(chunk_size == 0 || m->length > 0xffffffu)
    return RB_ERR_PROTOCOL;
  /* Reserve the worst case once: the message is queued whole or not at all. */
  err = buf_reserve(out, bound);
  if(err)
    return err;
  out->len += rb_rtmp_chunk_write(out->data + out->len, out->cap - out->len, chunk_size, &wm);
  return RB_OK;
}
