/*
 * rtmp_wire: chunk headers, the chunked writer and AMF0, over byte buffers.
 * See include/rebound/rtmp_wire.h. Every length the peer announces is checked
 * against the bytes actually there before it is used.
 */
#include "rebound/rtmp_wire.h"

#include <string.h>

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

static void put_be(uint8_t *p, uint32_t v, int n)
{
  for(int i = n - 1; i >= 0; i--, v >>= 8)
    p[i] = (uint8_t)(v & 0xff);
}

/* ---- chunk headers ------------------------------------------------------ */

static rb_rtmp_parse need_more(size_t *need, size_t n)
{
  *need = n;
  return RB_RTMP_NEED_MORE;
}

rb_rtmp_parse rb_rtmp_basic_header(const uint8_t *buf, size_t len, struct rb_rtmp_chunk_header *h,
                                   size_t *need)
{
  unsigned low;

  memset(h, 0, sizeof(*h));
  if(len < 1)
    return need_more(need, 1);
  low = buf[0] & 0x3fu;
  h->fmt = buf[0] >> 6;
  h->basic_len = low == 0 ? 2 : low == 1 ? 3 : 1;
  if(len < h->basic_len)
    return need_more(need, h->basic_len);
  h->csid = h->basic_len == 1 ? low : h->basic_len == 2 ? 64u + buf[1] : 64u + buf[1] + 256u * buf[2];
  h->len = h->basic_len;
  *need = h->basic_len;
  return RB_RTMP_PARSED;
}

rb_rtmp_parse rb_rtmp_chunk_header(const uint8_t *buf, size_t len, bool fmt3_extended,
                                   struct rb_rtmp_chunk_header *h, size_t *need)
{
  static const size_t message_header[4] = { 11, 7, 3, 0 };
  const uint8_t *mh;
  size_t fixed;

  if(rb_rtmp_basic_header(buf, len, h, need) == RB_RTMP_NEED_MORE)
    return RB_RTMP_NEED_MORE;
  fixed = h->basic_len + message_header[h->fmt];
  if(len < fixed)
    return need_more(need, fixed);
  mh = buf + h->basic_len;
  h->extended = h->fmt < 3 ? be24(mh) == 0xffffffu : fmt3_extended;
  h->len = fixed + (h->extended ? 4 : 0);
  if(len < h->len)
    return need_more(need, h->len);
  if(h->extended)
    h->timestamp = be32(buf + fixed);
  else if(h->fmt < 3)
    h->timestamp = be24(mh);
  if(h->fmt <= 1) {
    h->length = be24(mh + 3);
    h->type = mh[6];
  }
  if(h->fmt == 0)
    h->stream_id = le32(mh + 7);
  *need = h->len;
  return RB_RTMP_PARSED;
}

/* ---- chunked writer ----------------------------------------------------- */

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

size_t rb_rtmp_chunk_bound(uint32_t length, uint32_t chunk_size)
{
  size_t chunks;

  if(chunk_size == 0)
    return 0;
  chunks = length ? ((size_t)length + chunk_size - 1) / chunk_size : 1;
  return length + chunks * RB_RTMP_MAX_CHUNK_HEADER;
}

size_t rb_rtmp_chunk_write(uint8_t *out, size_t cap, uint32_t chunk_size,
                           const struct rb_rtmp_message *m)
{
  uint8_t h[RB_RTMP_MAX_CHUNK_HEADER];
  size_t hl, pos = 0, len = 0;
  bool ext = m->timestamp >= 0xffffffu;
  uint32_t csid = m->csid < 2 || m->csid > RB_RTMP_MAX_CSID ? 3 : m->csid;

  if(chunk_size == 0 || m->length > 0xffffffu || cap < rb_rtmp_chunk_bound(m->length, chunk_size))
    return 0;
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
      if(ext) /* every continuation repeats the extended timestamp */
        put_be(h + hl, m->timestamp, 4), hl += 4;
    }
    memcpy(out + len, h, hl);
    len += hl;
    if(n) /* an empty message may have data == NULL: NULL + 0 is undefined (found by fuzzing) */
      memcpy(out + len, m->data + pos, n);
    len += n;
    pos += n;
  } while(pos < m->length);
  return len;
}

/* ---- AMF0 writer -------------------------------------------------------- */

static void amf_put(struct rb_rtmp_amf_writer *w, const void *p, size_t n)
{
  if(w->overflow || n > w->cap - w->len) {
    w->overflow = true;
    return;
  }
  memcpy(w->p + w->len, p, n);
  w->len += n;
}

void rb_rtmp_amf_put_number(struct rb_rtmp_amf_writer *w, double v)
{
  uint8_t b[9];
  uint64_t bits;

  memcpy(&bits, &v, sizeof(bits));
  b[0] = 0x00;
  for(int i = 0; i < 8; i++)
    b[8 - i] = (uint8_t)(bits >> (8 * i));
  amf_put(w, b, sizeof(b));
}

void rb_rtmp_amf_put_bool(struct rb_rtmp_amf_writer *w, bool v)
{
  uint8_t b[2] = { 0x01, v ? 1 : 0 };

  amf_put(w, b, sizeof(b));
}

void rb_rtmp_amf_put_key(struct rb_rtmp_amf_writer *w, const char *key)
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

void rb_rtmp_amf_put_string(struct rb_rtmp_amf_writer *w, const char *s)
{
  uint8_t marker = 0x02;

  amf_put(w, &marker, 1);
  rb_rtmp_amf_put_key(w, s);
}

void rb_rtmp_amf_put_null(struct rb_rtmp_amf_writer *w)
{
  uint8_t marker = 0x05;

  amf_put(w, &marker, 1);
}

void rb_rtmp_amf_put_object_start(struct rb_rtmp_amf_writer *w)
{
  uint8_t marker = 0x03;

  amf_put(w, &marker, 1);
}

void rb_rtmp_amf_put_object_end(struct rb_rtmp_amf_writer *w)
{
  uint8_t end[3] = { 0, 0, 0x09 };

  amf_put(w, end, sizeof(end));
}

void rb_rtmp_amf_put_info(struct rb_rtmp_amf_writer *w, const char *level, const char *code,
                          const char *description)
{
  rb_rtmp_amf_put_object_start(w);
  rb_rtmp_amf_put_key(w, "level");
  rb_rtmp_amf_put_string(w, level);
  rb_rtmp_amf_put_key(w, "code");
  rb_rtmp_amf_put_string(w, code);
  rb_rtmp_amf_put_key(w, "description");
  rb_rtmp_amf_put_string(w, description);
  rb_rtmp_amf_put_object_end(w);
}

void rb_rtmp_amf_put_status(struct rb_rtmp_amf_writer *w, const char *name, double txn,
                            const char *level, const char *code, const char *description)
{
  rb_rtmp_amf_put_string(w, name);
  rb_rtmp_amf_put_number(w, txn);
  rb_rtmp_amf_put_null(w);
  rb_rtmp_amf_put_info(w, level, code, description);
}

void rb_rtmp_amf_put_result(struct rb_rtmp_amf_writer *w, double txn, bool with_number,
                            double number)
{
  rb_rtmp_amf_put_string(w, "_result");
  rb_rtmp_amf_put_number(w, txn);
  rb_rtmp_amf_put_null(w);
  if(with_number)
    rb_rtmp_amf_put_number(w, number);
}

/* ---- AMF0 reader -------------------------------------------------------- */

static bool amf_take(struct rb_rtmp_amf_reader *r, size_t n, const uint8_t **p)
{
  if(n > r->len - r->pos)
    return false;
  if(p)
    *p = r->p + r->pos;
  r->pos += n;
  return true;
}

static bool amf_u16(struct rb_rtmp_amf_reader *r, uint32_t *v)
{
  const uint8_t *p;

  if(!amf_take(r, 2, &p))
    return false;
  *v = (uint32_t)p[0] << 8 | p[1];
  return true;
}

static bool amf_u32(struct rb_rtmp_amf_reader *r, uint32_t *v)
{
  const uint8_t *p;

  if(!amf_take(r, 4, &p))
    return false;
  *v = be32(p);
  return true;
}

/* A u16- or u32-prefixed run of bytes. */
static bool amf_skip_sized(struct rb_rtmp_amf_reader *r, bool wide)
{
  uint32_t n;

  return (wide ? amf_u32(r, &n) : amf_u16(r, &n)) && amf_take(r, n, NULL);
}

bool rb_rtmp_amf_get_string(struct rb_rtmp_amf_reader *r, const char **s, size_t *n)
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

bool rb_rtmp_amf_get_number(struct rb_rtmp_amf_reader *r, double *v)
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

/* The walker's stack: one frame per open object (named properties up to the
   end marker) or strict array (a count of values). */
struct amf_walk {
  struct { bool named; uint32_t left; } stack[RB_RTMP_AMF_MAX_DEPTH];
  unsigned depth, max;
};

static bool amf_open(struct amf_walk *w, bool named, uint32_t left)
{
  if(w->depth >= w->max)
    return false;
  w->stack[w->depth].named = named;
  w->stack[w->depth++].left = left;
  return true;
}

/* One value's marker and its fixed part; containers push a frame. */
static bool amf_value(struct rb_rtmp_amf_reader *r, struct amf_walk *w,
                      const struct rb_rtmp_amf_rules *rules)
{
  const uint8_t *m;
  uint32_t n;

  if(!amf_take(r, 1, &m))
    return false;
  switch(*m) {
  case 0x00: return amf_take(r, 8, NULL);                        /* number */
  case 0x01: return amf_take(r, 1, NULL);                        /* boolean */
  case 0x02: return amf_skip_sized(r, false);                    /* string */
  case 0x03: return amf_open(w, true, 0);                        /* object */
  case 0x05: case 0x06: case 0x0d: return true;                  /* null, undefined, unsupported */
  case 0x07: return rules->references && amf_take(r, 2, NULL);   /* reference */
  case 0x08: return amf_take(r, 4, NULL) && amf_open(w, true, 0); /* ECMA array */
  case 0x0a: return amf_u32(r, &n) && amf_open(w, false, n);     /* strict array */
  case 0x0b: return amf_take(r, 10, NULL);                       /* date */
  case 0x0c: case 0x0f: return amf_skip_sized(r, true);          /* long string, XML */
  case 0x10:                                                     /* typed object */
    return rules->references && amf_skip_sized(r, false) && amf_open(w, true, 0);
  default: return false;                                         /* AMF3 switch, reserved */
  }
}

/* Before the next value inside the innermost container: a property name, or the
   end of the container (then *closed). */
static bool amf_next_slot(struct rb_rtmp_amf_reader *r, struct amf_walk *w, bool *closed)
{
  const uint8_t *p = r->p + r->pos;
  size_t left = r->len - r->pos;

  *closed = false;
  if(w->stack[w->depth - 1].named) {
    if(left >= 3 && p[0] == 0 && p[1] == 0 && p[2] == 0x09) {
      r->pos += 3;
      *closed = true;
      return true;
    }
    /* an empty key with a value is allowed: some encoders write one */
    return amf_skip_sized(r, false);
  }
  if(w->stack[w->depth - 1].left == 0) {
    *closed = true;
    return true;
  }
  w->stack[w->depth - 1].left--;
  return true;
}

/* One value with outer containers already open around it. No recursion, so a
   bomb of nested objects costs neither stack nor more than one pass. */
static bool amf_walk(struct rb_rtmp_amf_reader *r, const struct rb_rtmp_amf_rules *rules,
                     unsigned outer)
{
  static const struct rb_rtmp_amf_rules defaults = { RB_RTMP_AMF_MAX_DEPTH, true };
  struct amf_walk w = { .depth = 0 };
  size_t save = r->pos;
  bool closed;

  if(!rules)
    rules = &defaults;
  w.max = rules->max_depth < RB_RTMP_AMF_MAX_DEPTH ? rules->max_depth : RB_RTMP_AMF_MAX_DEPTH;
  w.max = w.max > outer ? w.max - outer : 0;
  if(!amf_value(r, &w, rules))
    goto fail;
  while(w.depth > 0) {
    if(!amf_next_slot(r, &w, &closed))
      goto fail;
    if(closed)
      w.depth--;
    else if(!amf_value(r, &w, rules))
      goto fail;
  }
  return true;
fail:
  r->pos = save;
  return false;
}

bool rb_rtmp_amf_walk(struct rb_rtmp_amf_reader *r, const struct rb_rtmp_amf_rules *rules)
{
  return amf_walk(r, rules, 0);
}

bool rb_rtmp_amf_skip(struct rb_rtmp_amf_reader *r)
{
  return amf_walk(r, NULL, 0);
}

bool rb_rtmp_amf_well_formed(const uint8_t *p, size_t len, const struct rb_rtmp_amf_rules *rules)
{
  struct rb_rtmp_amf_reader r = { p, len, 0 };

  while(r.pos < r.len)
    if(!amf_walk(&r, rules, 0))
      return false;
  return true;
}

bool rb_rtmp_amf_find_string(struct rb_rtmp_amf_reader *r, const char *key, char *out,
                             size_t outlen, bool *found)
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
    if(!*found && klen == keylen && memcmp(k, key, keylen) == 0 &&
       rb_rtmp_amf_get_string(r, &s, &n)) {
      if(outlen) {
        if(n >= outlen)
          n = outlen - 1;
        memcpy(out, s, n);
        out[n] = '\0';
      }
      *found = true;
      continue;
    }
    if(!amf_walk(r, NULL, 1)) /* inside this object */
      goto fail;
  }
fail:
  r->pos = save;
  *found = false;
  return false;
}
