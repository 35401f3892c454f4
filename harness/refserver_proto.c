/*
 * refserver_proto: the RTMP wire format for the reference server, over byte buffers.
 *
 * Owns chunk-stream parsing (basic and message headers, extended timestamps, the
 * peer's Set Chunk Size and Abort), message assembly, chunked writing, the output
 * queue, and a small AMF0 reader and writer. Nothing here touches a socket, so
 * unit tests and fuzzers can feed it any bytes. Every size the peer announces is
 * checked before it is trusted (message length, chunk size, number of chunk
 * streams, AMF nesting), message buffers grow only as payload actually arrives,
 * and all growth is charged to a budget shared by every connection.
 */
#include "rebound/refserver.h"

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

static uint32_t be24(const uint8_t *p)
{
  return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
}

static uint32_t be32(const uint8_t *p)
{
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint32_t le32(const uint8_t *p)
{
  return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
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

static uint32_t header_csid(const uint8_t *h, uint32_t basic)
{
  if(basic == 2)
    return 64u + h[1];
  if(basic == 3)
    return 64u + h[1] + 256u * h[2];
  return h[0] & 0x3fu;
}

static uint32_t basic_size(uint8_t first)
{
  uint32_t cs = first & 0x3fu;

  return cs == 0 ? 2 : cs == 1 ? 3 : 1;
}

/* How many header bytes this chunk has, given the first n already read; grows as
   bytes arrive (the basic header tells the csid size, the timestamp field whether
   an extended timestamp follows). */
static uint32_t header_need(struct rb_refserver_reader *r, const uint8_t *h, uint32_t n)
{
  static const uint32_t message_header[4] = { 11, 7, 3, 0 };
  uint32_t fmt, basic, need;
  bool ext;

  if(n < 1)
    return 1;
  fmt = h[0] >> 6;
  basic = basic_size(h[0]);
  need = basic + message_header[fmt];
  if(n < need)
    return need;
  if(fmt < 3) {
    ext = be24(h + basic) == 0xffffffu;
  } else {
    struct rb_refserver_chunk_stream *cs = find_stream(r, header_csid(h, basic));
    ext = cs && cs->extended;
  }
  return need + (ext ? 4 : 0);
}

/* Apply a complete chunk header: validate it against the stream's state and the
   limits, and set up the payload that follows. */
static rb_err begin_chunk(struct rb_refserver_reader *r, char *errmsg, size_t errlen)
{
  const uint8_t *h = r->header;
  uint32_t fmt = h[0] >> 6, basic = basic_size(h[0]);
  uint32_t csid = header_csid(h, basic);
  const uint8_t *mh = h + basic;
  struct rb_refserver_chunk_stream *cs = find_stream(r, csid);
  uint32_t ts = 0;
  bool ext = false;

  if(!cs) {
    if(fmt != 0)
      return rb_fail(errmsg, errlen, RB_ERR_PROTOCOL,
                     "chunk fmt %u on chunk stream %u without a previous full header", fmt, csid);
    cs = add_stream(r, csid);
    if(!cs)
      return rb_fail(errmsg, errlen, RB_ERR_NOMEM, "more than %d chunk streams",
                     RB_REFSERVER_MAX_CHUNK_STREAMS);
  }
  if(fmt < 3) {
    if(cs->have > 0)
      return rb_fail(errmsg, errlen, RB_ERR_PROTOCOL,
                     "new message header on chunk stream %u in the middle of a message", csid);
    ts = be24(mh);
    ext = ts == 0xffffffu;
    if(ext)
      ts = be32(mh + (fmt == 0 ? 11 : fmt == 1 ? 7 : 3));
    cs->extended = ext;
  }
  if(fmt == 0) {
    cs->length = be24(mh + 3);
    cs->type = mh[6];
    cs->stream_id = le32(mh + 7);
    cs->timestamp = ts;
    cs->delta = ts;
    cs->has_header = true;
  } else if(fmt == 1 || fmt == 2) {
    if(fmt == 1) {
      cs->length = be24(mh + 3);
      cs->type = mh[6];
    }
    cs->delta = ts;
    cs->timestamp += ts;
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

static size_t put_basic_header(uint8_t *h, uint32_t fmt, uint32_t csid)
{
  if(csid >= 2 && csid <= 63) {
    h[0] = (uint8_t)(fmt << 6 | csid);
    return 1;
  }
  if(csid >= 64 && csid <= 319) {
    h[0] = (uint8_t)(fmt << 6);
    h[1] = (uint8_t)(csid - 64);
    return 2;
  }
  h[0] = (uint8_t)(fmt << 6 | 1);
  h[1] = (uint8_t)((csid - 64) & 0xff);
  h[2] = (uint8_t)((csid - 64) >> 8);
  return 3;
}

static void put_be(uint8_t *p, uint32_t v, int n)
{
  for(int i = n - 1; i >= 0; i--, v >>= 8)
    p[i] = (uint8_t)(v & 0xff);
}

rb_err rb_refserver_write_message(struct rb_refserver_buf *out, uint32_t chunk_size,
                                  const struct rb_refserver_message *m)
{
  uint8_t h[18];
  size_t hl, pos = 0, chunks;
  bool ext = m->timestamp >= 0xffffffu;
  uint32_t csid = m->csid < 2 || m->csid > 65599 ? 3 : m->csid;
  rb_err err;

  if(chunk_size == 0 || m->length > 0xffffffu)
    return RB_ERR_PROTOCOL;
  chunks = m->length ? (m->length + chunk_size - 1) / chunk_size : 1;
  /* Reserve the worst case once: the message is queued whole or not at all. */
  err = buf_reserve(out, m->length + chunks * sizeof(h));
  if(err)
    return err;
  hl = put_basic_header(h, 0, csid);
  put_be(h + hl, ext ? 0xffffffu : m->timestamp, 3);
  put_be(h + hl + 3, m->length, 3);
  h[hl + 6] = m->type;
  for(int i = 0; i < 4; i++)
    h[hl + 7 + i] = (uint8_t)(m->stream_id >> (8 * i));
  hl += 11;
  if(ext)
    put_be(h + hl, m->timestamp, 4), hl += 4;
  do {
    size_t n = m->length - pos < chunk_size ? m->length - pos : chunk_size;

    if(pos > 0) {
      hl = put_basic_header(h, 3, csid);
      if(ext)
        put_be(h + hl, m->timestamp, 4), hl += 4;
    }
    buf_put(out, h, hl);
    if(n) /* an empty message may have data == NULL: NULL + 0 is undefined (found by fuzzing) */
      buf_put(out, m->data + pos, n);
    pos += n;
  } while(pos < m->length);
  return RB_OK;
}

/* AMF0 writer. */

static void amf_put(struct rb_refserver_amf_writer *w, const void *p, size_t n)
{
  if(w->overflow || n > w->cap - w->len) {
    w->overflow = true;
    return;
  }
  memcpy(w->p + w->len, p, n);
  w->len += n;
}

void rb_refserver_amf_put_number(struct rb_refserver_amf_writer *w, double v)
{
  uint8_t b[9];
  uint64_t bits;

  memcpy(&bits, &v, sizeof(bits));
  b[0] = 0x00;
  for(int i = 0; i < 8; i++)
    b[8 - i] = (uint8_t)(bits >> (8 * i));
  amf_put(w, b, sizeof(b));
}

void rb_refserver_amf_put_bool(struct rb_refserver_amf_writer *w, bool v)
{
  uint8_t b[2] = { 0x01, v ? 1 : 0 };

  amf_put(w, b, sizeof(b));
}

void rb_refserver_amf_put_key(struct rb_refserver_amf_writer *w, const char *key)
{
  size_t n = strlen(key);
  uint8_t b[2];

  if(n > 0xffff) {
    w->overflow = true;
    return;
  }
  b[0] = (uint8_t)(n >> 8);
  b[1] = (uint8_t)n;
  amf_put(w, b, 2);
  amf_put(w, key, n);
}

void rb_refserver_amf_put_string(struct rb_refserver_amf_writer *w, const char *s)
{
  uint8_t marker = 0x02;

  amf_put(w, &marker, 1);
  rb_refserver_amf_put_key(w, s);
}

void rb_refserver_amf_put_null(struct rb_refserver_amf_writer *w)
{
  uint8_t marker = 0x05;

  amf_put(w, &marker, 1);
}

void rb_refserver_amf_put_object_start(struct rb_refserver_amf_writer *w)
{
  uint8_t marker = 0x03;

  amf_put(w, &marker, 1);
}

void rb_refserver_amf_put_object_end(struct rb_refserver_amf_writer *w)
{
  uint8_t end[3] = { 0, 0, 0x09 };

  amf_put(w, end, sizeof(end));
}

/* AMF0 reader. */

static bool amf_take(struct rb_refserver_amf_reader *r, size_t n, const uint8_t **p)
{
  if(n > r->len - r->pos)
    return false;
  if(p)
    *p = r->p + r->pos;
  r->pos += n;
  return true;
}

static bool amf_u16(struct rb_refserver_amf_reader *r, uint32_t *v)
{
  const uint8_t *p;

  if(!amf_take(r, 2, &p))
    return false;
  *v = (uint32_t)p[0] << 8 | p[1];
  return true;
}

static bool amf_u32(struct rb_refserver_amf_reader *r, uint32_t *v)
{
  const uint8_t *p;

  if(!amf_take(r, 4, &p))
    return false;
  *v = be32(p);
  return true;
}

bool rb_refserver_amf_get_string(struct rb_refserver_amf_reader *r, const char **s, size_t *n)
{
  const uint8_t *p;
  uint32_t len;
  size_t save = r->pos;

  if(!amf_take(r, 1, &p))
    return false;
  if(*p == 0x02 ? amf_u16(r, &len) : *p == 0x0c ? amf_u32(r, &len) : false) {
    if(amf_take(r, len, &p)) {
      *s = (const char *)p;
      *n = len;
      return true;
    }
  }
  r->pos = save;
  return false;
}

bool rb_refserver_amf_get_number(struct rb_refserver_amf_reader *r, double *v)
{
  const uint8_t *p;
  uint64_t bits = 0;

  if(r->pos >= r->len || r->p[r->pos] != 0x00 || !amf_take(r, 9, &p))
    return false;
  for(int i = 1; i <= 8; i++)
    bits = bits << 8 | p[i];
  memcpy(v, &bits, sizeof(*v));
  return true;
}

static bool skip_value(struct rb_refserver_amf_reader *r, int depth);

/* Properties up to the empty-key end marker. */
static bool skip_properties(struct rb_refserver_amf_reader *r, int depth)
{
  for(;;) {
    uint32_t klen;
    const uint8_t *end;

    if(!amf_u16(r, &klen))
      return false;
    if(klen == 0) {
      if(!amf_take(r, 1, &end))
        return false;
      if(*end == 0x09)
        return true;
      r->pos--; /* an empty key with a value: allowed by some encoders */
    } else if(!amf_take(r, klen, NULL)) {
      return false;
    }
    if(!skip_value(r, depth))
      return false;
  }
}

static bool skip_value(struct rb_refserver_amf_reader *r, int depth)
{
  const uint8_t *p;
  uint32_t n;

  if(depth > RB_REFSERVER_AMF_MAX_DEPTH || !amf_take(r, 1, &p))
    return false;
  switch(*p) {
  case 0x00: return amf_take(r, 8, NULL);                       /* number */
  case 0x01: return amf_take(r, 1, NULL);                       /* boolean */
  case 0x02: return amf_u16(r, &n) && amf_take(r, n, NULL);     /* string */
  case 0x03: return skip_properties(r, depth + 1);              /* object */
  case 0x05: case 0x06: case 0x0d: return true;                 /* null, undefined, unsupported */
  case 0x07: return amf_take(r, 2, NULL);                       /* reference */
  case 0x08: return amf_take(r, 4, NULL) && skip_properties(r, depth + 1); /* ECMA array */
  case 0x0a:                                                    /* strict array */
    if(!amf_u32(r, &n))
      return false;
    /* every value takes at least one byte, so a false count ends with the input */
    for(uint32_t i = 0; i < n; i++)
      if(!skip_value(r, depth + 1))
        return false;
    return true;
  case 0x0b: return amf_take(r, 10, NULL);                      /* date */
  case 0x0c: case 0x0f: return amf_u32(r, &n) && amf_take(r, n, NULL); /* long string, XML */
  case 0x10:                                                    /* typed object */
    return amf_u16(r, &n) && amf_take(r, n, NULL) && skip_properties(r, depth + 1);
  default: return false;                                        /* AMF3 switch, reserved */
  }
}

bool rb_refserver_amf_skip(struct rb_refserver_amf_reader *r)
{
  size_t save = r->pos;

  if(skip_value(r, 0))
    return true;
  r->pos = save;
  return false;
}

bool rb_refserver_amf_find_string(struct rb_refserver_amf_reader *r, const char *key,
                                  char *out, size_t outlen, bool *found)
{
  size_t save = r->pos, keylen = strlen(key);
  const uint8_t *p;

  *found = false;
  if(!amf_take(r, 1, &p) || (*p != 0x03 && *p != 0x08) || (*p == 0x08 && !amf_take(r, 4, NULL)))
    goto fail;
  for(;;) {
    uint32_t klen;
    const uint8_t *k, *end;
    const char *s;
    size_t n;

    if(!amf_u16(r, &klen) || !amf_take(r, klen, &k))
      goto fail;
    if(klen == 0 && r->pos < r->len && r->p[r->pos] == 0x09) {
      amf_take(r, 1, &end);
      return true;
    }
    if(!*found && klen == keylen && memcmp(k, key, keylen) == 0
       && rb_refserver_amf_get_string(r, &s, &n)) {
      if(outlen) {
        if(n >= outlen)
          n = outlen - 1;
        memcpy(out, s, n);
        out[n] = '\0';
      }
      *found = true;
      continue;
    }
    if(!skip_value(r, 1))
      goto fail;
  }
fail:
  r->pos = save;
  *found = false;
  return false;
}
