/* flv: FLV framing for files and streams (see include/rebound/flv.h). */
#include "rebound/flv.h"

#include <stdlib.h>
#include <string.h>

static uint32_t be24(const uint8_t *p)
{
  return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
}

static uint32_t be32(const uint8_t *p)
{
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put_be(uint8_t *p, uint32_t v, unsigned n)
{
  for(unsigned i = n; i-- > 0; v >>= 8)
    p[i] = (uint8_t)v;
}

void rb_flv_write_header(uint8_t out[RB_FLV_HEADER_MIN + RB_FLV_TRAILER])
{
  static const uint8_t header[] = { 'F', 'L', 'V', 1, 5, 0, 0, 0, RB_FLV_HEADER_MIN, 0, 0, 0, 0 };

  memcpy(out, header, sizeof(header));
}

void rb_flv_write_tag_header(uint8_t out[RB_FLV_TAG_HEADER], uint8_t type, uint32_t timestamp_ms, size_t len)
{
  out[0] = type;
  put_be(out + 1, (uint32_t)len, 3);
  put_be(out + 4, timestamp_ms & 0xffffff, 3);
  out[7] = (uint8_t)(timestamp_ms >> 24); /* the extended byte holds the top 8 bits */
  put_be(out + 8, 0, 3);
}

void rb_flv_write_trailer(uint8_t out[RB_FLV_TRAILER], size_t len)
{
  put_be(out, (uint32_t)(RB_FLV_TAG_HEADER + len), 4);
}

rb_err rb_flv_parse_header(const uint8_t *buf, size_t len, size_t *used, char *msg, size_t msglen)
{
  uint32_t header_len;

  *used = 0;
  /* Judge the signature on what has arrived, so a non-FLV answer fails at once. */
  if((len >= 1 && buf[0] != 'F') || (len >= 2 && buf[1] != 'L') || (len >= 3 && buf[2] != 'V') ||
     (len >= 4 && buf[3] != 1))
    return rb_fail(msg, msglen, RB_ERR_PROTOCOL, "not an FLV file (bad signature)");
  if(len < RB_FLV_HEADER_MIN)
    return RB_OK;
  header_len = be32(buf + 5);
  if(header_len < RB_FLV_HEADER_MIN || header_len > RB_FLV_MAX_HEADER)
    return rb_fail(msg, msglen, RB_ERR_PROTOCOL, "bad FLV header size %u", header_len);
  if(len < (size_t)header_len + RB_FLV_TRAILER)
    return RB_OK;
  *used = header_len + RB_FLV_TRAILER;
  return RB_OK;
}

rb_err rb_flv_parse_tag(const uint8_t *buf, size_t len, bool final, struct rb_flv_tag *tag, size_t *used,
                        char *msg, size_t msglen)
{
  size_t size, end;

  *used = 0;
  if(len < RB_FLV_TAG_HEADER)
    return final && len ? rb_fail(msg, msglen, RB_ERR_PROTOCOL, "truncated tag header") : RB_OK;
  size = be24(buf + 1);
  end = RB_FLV_TAG_HEADER + size;
  if(size > len - RB_FLV_TAG_HEADER)
    return final ? rb_fail(msg, msglen, RB_ERR_PROTOCOL, "size %zu runs past the end of the file", size) : RB_OK;
  if(len - end >= RB_FLV_TRAILER) {
    if(be32(buf + end) != end)
      return rb_fail(msg, msglen, RB_ERR_PROTOCOL, "previous-tag-size %u does not match %zu", be32(buf + end),
                     end);
    end += RB_FLV_TRAILER;
  } else if(!final) {
    return RB_OK;
  } else if(len != end) {
    return rb_fail(msg, msglen, RB_ERR_PROTOCOL, "truncated previous-tag-size");
  } /* else a missing last trailer is harmless */
  if(buf[0] & 0x20)
    return rb_fail(msg, msglen, RB_ERR_PROTOCOL, "encrypted tag");
  tag->type = buf[0] & 0x1f;
  tag->timestamp_ms = be24(buf + 4) | (uint32_t)buf[7] << 24;
  tag->data = buf + RB_FLV_TAG_HEADER;
  tag->len = size;
  *used = end;
  return RB_OK;
}

void rb_flv_reader_init(struct rb_flv_reader *r, size_t max)
{
  memset(r, 0, sizeof(*r));
  r->max = max;
}

void rb_flv_reader_free(struct rb_flv_reader *r)
{
  free(r->buf);
  r->buf = NULL;
  r->len = r->off = r->cap = 0;
}

rb_err rb_flv_reader_push(struct rb_flv_reader *r, const uint8_t *data, size_t n, char *msg, size_t msglen)
{
  /* What was taken is dropped first: only the tag still arriving is kept. */
  if(r->off) {
    memmove(r->buf, r->buf + r->off, r->len - r->off);
    r->len -= r->off;
    r->offset += r->off;
    r->off = 0;
  }
  if(n > r->max - r->len)
    return rb_fail(msg, msglen, RB_ERR_NOMEM, "FLV tag at offset %llu is larger than %zu bytes",
                   (unsigned long long)r->offset, r->max);
  if(r->len + n > r->cap) {
    size_t cap = r->cap ? r->cap : 65536;
    uint8_t *p;

    while(cap < r->len + n)
      cap *= 2;
    if(cap > r->max)
      cap = r->max;
    if(!(p = realloc(r->buf, cap)))
      return rb_fail(msg, msglen, RB_ERR_NOMEM, "out of memory");
    r->buf = p;
    r->cap = cap;
  }
  memcpy(r->buf + r->len, data, n);
  r->len += n;
  return RB_OK;
}

rb_err rb_flv_reader_next(struct rb_flv_reader *r, struct rb_flv_tag *tag, bool *have, char *msg, size_t msglen)
{
  char why[160];
  size_t used;
  rb_err err;

  *have = false;
  if(!r->have_header) {
    if((err = rb_flv_parse_header(r->buf + r->off, r->len - r->off, &used, msg, msglen)) || !used)
      return err;
    r->off += used;
    r->have_header = true;
  }
  if((err = rb_flv_parse_tag(r->buf + r->off, r->len - r->off, false, tag, &used, why, sizeof(why))))
    return rb_fail(msg, msglen, err, "FLV tag %llu at offset %llu: %s", (unsigned long long)r->tags,
                   (unsigned long long)(r->offset + r->off), why);
  if(used) {
    r->off += used;
    r->tags++;
    *have = true;
  }
  return RB_OK;
}
