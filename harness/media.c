/*
 * media: the stream publishers send and the bookkeeping players do.
 *
 * A source is an FLV file held in memory (the built-in clip from media_clip.c,
 * or a user's file), split into tags once at open: the onMetaData script tag and
 * the AVC/AAC sequence headers become the stream headers, everything else is the
 * loop. rb_media_next walks the loop forever with timestamps shifted by one clip
 * span per pass, so they only grow, and gives every AVC picture an SEI NAL unit
 * (user_data_unregistered, rebound's UUID) carrying the caller's sequence number
 * and monotonic send time. Players find that SEI with rb_media_parse_sei, which
 * reads only inside the bytes it is given whatever they contain, and count gaps,
 * duplicates and latency with the verifier.
 */
#include "rebound/media.h"

#include "rebound/flv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FLV_MAX_FILE (512u * 1024 * 1024)
#define CODEC_AVC 7
#define SOUND_AAC 10
#define AVC_SEQUENCE_HEADER 0
#define AVC_NALU 1
#define SEI_USER_DATA_UNREGISTERED 5
#define SEI_PAYLOAD_LEN 32 /* uuid 16 + seq 8 + send_ns 8 */

/* "rebound SEI v1.0": readable in a hex dump of a capture. */
const uint8_t rb_media_sei_uuid[16] = { 'r', 'e', 'b', 'o', 'u', 'n', 'd', ' ',
                                        'S', 'E', 'I', ' ', 'v', '1', '.', '0' };

static const char set_data_frame[] = "@setDataFrame";

struct media_tag {
  uint8_t type;
  uint32_t ts;
  const uint8_t *data;
  size_t len;
  bool avc_picture; /* an AVC NALU packet: gets the SEI */
};

struct rb_media_source {
  uint8_t *file; /* owned bytes of a user's file; NULL for the built-in clip */
  struct media_tag *tags;
  size_t ntags;
  struct media_tag headers[3];
  size_t nheaders;
  uint8_t *metadata; /* onMetaData wrapped in @setDataFrame */
  unsigned nal_length_size;
  uint32_t first_ts;
  uint32_t span_ms; /* added to the timestamps on every pass of the loop */
  size_t next;
  uint64_t loop_offset_ms;
  uint32_t base_ms;
  uint32_t last_ts;
  uint8_t *out; /* a video tag with the SEI inserted */
  size_t outcap;
};

static uint32_t be24(const uint8_t *p)
{
  return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
}

static uint64_t read_be(const uint8_t *p, unsigned n)
{
  uint64_t v = 0;

  for(unsigned i = 0; i < n; i++)
    v = v << 8 | p[i];
  return v;
}

static void write_be(uint8_t *p, uint64_t v, unsigned n)
{
  for(unsigned i = n; i-- > 0; v >>= 8)
    p[i] = (uint8_t)v;
}

/* ---- SEI ---------------------------------------------------------------- */

size_t rb_media_build_sei(uint64_t seq, int64_t send_ns, uint8_t out[RB_MEDIA_SEI_MAX])
{
  uint8_t rbsp[2 + SEI_PAYLOAD_LEN + 1];
  size_t n = 0, zeros = 0;

  rbsp[0] = SEI_USER_DATA_UNREGISTERED;
  rbsp[1] = SEI_PAYLOAD_LEN;
  memcpy(rbsp + 2, rb_media_sei_uuid, 16);
  write_be(rbsp + 18, seq, 8);
  write_be(rbsp + 26, (uint64_t)send_ns, 8);
  rbsp[34] = 0x80; /* rbsp_stop_one_bit + alignment */

  out[n++] = 6; /* forbidden_zero 0, nal_ref_idc 0, nal_unit_type 6 (SEI) */
  for(size_t i = 0; i < sizeof(rbsp); i++) {
    /* A start code prefix must not appear inside a NAL unit. */
    if(zeros >= 2 && rbsp[i] <= 3) {
      out[n++] = 3;
      zeros = 0;
    }
    out[n++] = rbsp[i];
    zeros = rbsp[i] ? 0 : zeros + 1;
  }
  return n;
}

/* Reads RBSP bytes out of a NAL unit payload, dropping emulation prevention bytes. */
struct rbsp_reader {
  const uint8_t *p, *end;
  unsigned zeros;
};

static bool rbsp_byte(struct rbsp_reader *r, uint8_t *out)
{
  if(r->p >= r->end)
    return false;
  if(r->zeros >= 2 && *r->p == 3) {
    r->p++;
    r->zeros = 0;
    if(r->p >= r->end)
      return false;
  }
  *out = *r->p++;
  r->zeros = *out ? 0 : r->zeros + 1;
  return true;
}

static bool rbsp_bytes(struct rbsp_reader *r, uint8_t *out, size_t n)
{
  for(size_t i = 0; i < n; i++)
    if(!rbsp_byte(r, &out[i]))
      return false;
  return true;
}

/* payloadType / payloadSize: a run of 0xFF bytes plus a final byte. */
static bool sei_varint(struct rbsp_reader *r, uint32_t *value)
{
  uint8_t b;

  *value = 0;
  do {
    if(!rbsp_byte(r, &b) || *value > UINT32_MAX - 255)
      return false;
    *value += b;
  } while(b == 0xff);
  return true;
}

/* One SEI NAL unit (without its header byte): look at each message in turn. */
static bool parse_sei_nal(const uint8_t *p, size_t len, uint64_t *seq, int64_t *send_ns)
{
  struct rbsp_reader r = { p, p + len, 0 };
  uint32_t type, size;
  uint8_t payload[SEI_PAYLOAD_LEN], skip;

  while(r.p < r.end && *r.p != 0x80) {
    if(!sei_varint(&r, &type) || !sei_varint(&r, &size))
      return false;
    if(type == SEI_USER_DATA_UNREGISTERED && size >= SEI_PAYLOAD_LEN) {
      if(!rbsp_bytes(&r, payload, SEI_PAYLOAD_LEN))
        return false;
      if(!memcmp(payload, rb_media_sei_uuid, 16)) {
        *seq = read_be(payload + 16, 8);
        *send_ns = (int64_t)read_be(payload + 24, 8);
        return true;
      }
      size -= SEI_PAYLOAD_LEN;
    }
    for(uint32_t i = 0; i < size; i++)
      if(!rbsp_byte(&r, &skip))
        return false;
  }
  return false;
}

static bool find_sei(const uint8_t *nals, size_t len, unsigned lsz, uint64_t *seq, int64_t *send_ns)
{
  size_t off = 0;

  while(len - off > lsz) {
    uint64_t nal_len = read_be(nals + off, lsz);

    off += lsz;
    if(nal_len == 0 || nal_len > len - off)
      return false;
    if((nals[off] & 0x1f) == 6 && parse_sei_nal(nals + off + 1, nal_len - 1, seq, send_ns))
      return true;
    off += nal_len;
  }
  return false;
}

bool rb_media_parse_sei(const uint8_t *data, size_t len, uint64_t *seq, int64_t *send_ns)
{
  /* The player does not know the publisher's NAL length size; 4 is what
     every encoder we know writes, the others are tried after it. */
  static const unsigned sizes[] = { 4, 2, 1, 3 };

  if(!data || len < 5 || (data[0] & 0x0f) != CODEC_AVC || data[1] != AVC_NALU)
    return false;
  for(size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
    if(find_sei(data + 5, len - 5, sizes[i], seq, send_ns))
      return true;
  return false;
}

bool rb_media_parse_sei_annexb(const uint8_t *data, size_t len, uint64_t *seq, int64_t *send_ns)
{
  size_t i = 0;

  /* NAL units follow start codes 00 00 01 (or 00 00 00 01); each ends where the
     next start code begins. */
  while(data && len >= 3 && i + 3 <= len) {
    size_t start, end;

    if(data[i] != 0 || data[i + 1] != 0 || data[i + 2] != 1) {
      i++;
      continue;
    }
    start = i + 3;
    end = start;
    while(end + 3 <= len && !(data[end] == 0 && data[end + 1] == 0 && data[end + 2] <= 1))
      end++;
    if(end + 3 > len)
      end = len;
    if(end > start && (data[start] & 0x1f) == 6 && parse_sei_nal(data + start + 1, end - start - 1, seq, send_ns))
      return true;
    i = end;
  }
  return false;
}

/* ---- FLV parsing -------------------------------------------------------- */

/* Where the SEI goes: before the first VCL NAL unit (types 1..5), i.e. after
   any AUD/SPS/PPS/SEI the encoder put first. Returns false if the NAL lengths do
   not add up to the tag size. */
static bool sei_insert_offset(const uint8_t *nals, size_t len, unsigned lsz, size_t *where)
{
  size_t off = 0;

  *where = SIZE_MAX;
  while(off < len) {
    uint64_t nal_len;

    if(len - off < lsz)
      return false;
    nal_len = read_be(nals + off, lsz);
    if(nal_len == 0 || nal_len > len - off - lsz)
      return false;
    if(*where == SIZE_MAX && (nals[off + lsz] & 0x1f) >= 1 && (nals[off + lsz] & 0x1f) <= 5)
      *where = off;
    off += lsz + nal_len;
  }
  if(*where == SIZE_MAX)
    *where = len;
  return true;
}

static bool is_on_metadata(const uint8_t *d, size_t len, size_t *name_end)
{
  static const char name[] = "onMetaData";
  size_t off = 0;

  /* An FLV file may already carry the @setDataFrame wrapper. */
  if(len >= 3 + sizeof(set_data_frame) - 1 && d[0] == 2 &&
     be24(d) == (2u << 16 | (sizeof(set_data_frame) - 1)) &&
     !memcmp(d + 3, set_data_frame, sizeof(set_data_frame) - 1))
    off = 3 + sizeof(set_data_frame) - 1;
  if(len - off < 3 + sizeof(name) - 1 || d[off] != 2 ||
     ((size_t)d[off + 1] << 8 | d[off + 2]) != sizeof(name) - 1 ||
     memcmp(d + off + 3, name, sizeof(name) - 1))
    return false;
  *name_end = off;
  return true;
}

static rb_err add_metadata(struct rb_media_source *s, const struct media_tag *t)
{
  size_t start, wrap = 3 + sizeof(set_data_frame) - 1;

  if(!is_on_metadata(t->data, t->len, &start))
    return RB_OK; /* other script tags are not part of the stream */
  free(s->metadata);
  s->metadata = malloc(wrap + t->len - start);
  if(!s->metadata)
    return RB_ERR_NOMEM;
  s->metadata[0] = 2;
  s->metadata[1] = 0;
  s->metadata[2] = sizeof(set_data_frame) - 1;
  memcpy(s->metadata + 3, set_data_frame, sizeof(set_data_frame) - 1);
  memcpy(s->metadata + wrap, t->data + start, t->len - start);
  s->headers[s->nheaders++] = (struct media_tag){ RB_MEDIA_DATA, 0, s->metadata,
                                                  wrap + t->len - start, false };
  return RB_OK;
}

struct flv_scan {
  const uint8_t *buf;
  size_t len, off;
  size_t index; /* tag number, for messages */
  bool have_avc_header, have_aac_header, have_metadata;
};

/* Classify one tag: a header, a frame of the loop, or something to skip. */
static rb_err take_tag(struct rb_media_source *s, struct flv_scan *sc, struct media_tag *t,
                       char *msg, size_t msglen)
{
  rb_err err = RB_OK;

  if(t->type == RB_MEDIA_DATA) {
    if(!sc->have_metadata && s->nheaders < 3) {
      err = add_metadata(s, t);
      sc->have_metadata = s->metadata != NULL;
    }
    return err;
  }
  if(t->len == 0)
    return RB_OK;
  if(t->type == RB_MEDIA_VIDEO && (t->data[0] & 0x0f) == CODEC_AVC) {
    size_t where;

    if(t->len < 5)
      return rb_fail(msg, msglen, RB_ERR_PROTOCOL, "tag %zu: AVC packet shorter than 5 bytes",
                     sc->index);
    if(t->data[1] == AVC_SEQUENCE_HEADER) {
      if(t->len < 10)
        return rb_fail(msg, msglen, RB_ERR_PROTOCOL,
                       "tag %zu: AVCDecoderConfigurationRecord too short", sc->index);
      if(sc->have_avc_header)
        return RB_OK; /* a mid-file change of parameters: keep the first */
      s->nal_length_size = (t->data[9] & 3) + 1u;
      s->headers[s->nheaders++] = *t;
      sc->have_avc_header = true;
      return RB_OK;
    }
    if(t->data[1] != AVC_NALU)
      return RB_OK; /* end of sequence */
    if(!sc->have_avc_header)
      return rb_fail(msg, msglen, RB_ERR_PROTOCOL,
                     "tag %zu: AVC picture before the AVC sequence header", sc->index);
    if(!sei_insert_offset(t->data + 5, t->len - 5, s->nal_length_size, &where))
      return rb_fail(msg, msglen, RB_ERR_PROTOCOL,
                     "tag %zu: NAL unit lengths do not match the tag size", sc->index);
    t->avc_picture = true;
  } else if(t->type == RB_MEDIA_AUDIO && t->data[0] >> 4 == SOUND_AAC && t->len >= 2 &&
            t->data[1] == 0) {
    if(!sc->have_aac_header)
      s->headers[s->nheaders++] = *t;
    sc->have_aac_header = true;
    return RB_OK;
  }
  s->tags[s->ntags++] = *t;
  return RB_OK;
}

static rb_err scan_tags(struct rb_media_source *s, struct flv_scan *sc, char *msg, size_t msglen)
{
  rb_err err = RB_OK;

  while(sc->off < sc->len && !err) {
    struct rb_flv_tag ft;
    struct media_tag t = { 0 };
    size_t used;
    char why[160];

    if((err = rb_flv_parse_tag(sc->buf + sc->off, sc->len - sc->off, true, &ft, &used, why, sizeof(why))))
      return rb_fail(msg, msglen, err, "tag %zu at offset %zu: %s", sc->index, sc->off, why);
    sc->off += used;
    t.type = ft.type;
    t.ts = ft.timestamp_ms;
    t.data = ft.data;
    t.len = ft.len;
    if(t.type == RB_MEDIA_AUDIO || t.type == RB_MEDIA_VIDEO || t.type == RB_MEDIA_DATA)
      err = take_tag(s, sc, &t, msg, msglen);
    sc->index++;
  }
  return err;
}

/* Span of one pass: first to last timestamp plus one average frame interval. */
static void measure_span(struct rb_media_source *s)
{
  uint32_t last = 0, first_video = 0, last_video = 0;
  size_t nvideo = 0, interval = 40;

  s->first_ts = s->tags[0].ts;
  for(size_t i = 0; i < s->ntags; i++) {
    if(s->tags[i].ts < s->first_ts)
      s->first_ts = s->tags[i].ts;
    if(s->tags[i].ts > last)
      last = s->tags[i].ts;
    if(s->tags[i].type == RB_MEDIA_VIDEO) {
      if(!nvideo++)
        first_video = s->tags[i].ts;
      last_video = s->tags[i].ts;
    }
  }
  if(nvideo > 1 && last_video > first_video)
    interval = (last_video - first_video) / (nvideo - 1);
  if(interval == 0)
    interval = 1;
  s->span_ms = last - s->first_ts + (uint32_t)interval;
}

static rb_err parse_flv(struct rb_media_source *s, const uint8_t *buf, size_t len, char *msg,
                        size_t msglen)
{
  struct flv_scan sc = { .buf = buf, .len = len };
  size_t max_video = 0;
  rb_err err;

  if((err = rb_flv_parse_header(buf, len, &sc.off, msg, msglen)))
    return err;
  if(!sc.off)
    return rb_fail(msg, msglen, RB_ERR_PROTOCOL, "not an FLV file (truncated header)");
  s->tags = calloc(len / RB_FLV_TAG_HEADER + 1, sizeof(*s->tags));
  if(!s->tags)
    return rb_fail(msg, msglen, RB_ERR_NOMEM, "out of memory");
  s->nal_length_size = 4;
  err = scan_tags(s, &sc, msg, msglen);
  if(err)
    return err;
  if(s->ntags == 0)
    return rb_fail(msg, msglen, RB_ERR_PROTOCOL, "no audio or video frames");
  for(size_t i = 0; i < s->ntags; i++)
    if(s->tags[i].avc_picture && s->tags[i].len > max_video)
      max_video = s->tags[i].len;
  s->outcap = max_video + RB_MEDIA_SEI_MAX + 4;
  s->out = malloc(s->outcap);
  if(!s->out)
    return rb_fail(msg, msglen, RB_ERR_NOMEM, "out of memory");
  measure_span(s);
  return RB_OK;
}

static rb_err read_file(const char *path, uint8_t **out, size_t *outlen, char *msg, size_t msglen)
{
  FILE *f = fopen(path, "rb");
  uint8_t *buf = NULL;
  long size;
  rb_err err = RB_OK;

  if(!f)
    return rb_fail(msg, msglen, errno == ENOENT ? RB_ERR_NOT_FOUND : RB_ERR_IO, "%s: %s", path,
                   strerror(errno));
  if(fseek(f, 0, SEEK_END) || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET)) {
    err = rb_fail(msg, msglen, RB_ERR_IO, "%s: %s", path, strerror(errno));
    goto out;
  }
  if((unsigned long)size > FLV_MAX_FILE) {
    err = rb_fail(msg, msglen, RB_ERR_IO, "%s: larger than %u MB", path, FLV_MAX_FILE >> 20);
    goto out;
  }
  buf = malloc(size ? (size_t)size : 1);
  if(!buf) {
    err = rb_fail(msg, msglen, RB_ERR_NOMEM, "%s: out of memory", path);
    goto out;
  }
  if(fread(buf, 1, (size_t)size, f) != (size_t)size) {
    err = rb_fail(msg, msglen, RB_ERR_IO, "%s: short read", path);
    goto out;
  }
  *out = buf;
  *outlen = (size_t)size;
  buf = NULL;
out:
  free(buf);
  fclose(f);
  return err;
}

rb_err rb_media_source_open(struct rb_media_source **out, const char *path, char *msg, size_t msglen)
{
  struct rb_media_source *s = calloc(1, sizeof(*s));
  const uint8_t *buf = rb_media_clip_flv;
  size_t len = rb_media_clip_flv_len;
  char detail[200];
  rb_err err = RB_OK;

  *out = NULL;
  if(!s)
    return rb_fail(msg, msglen, RB_ERR_NOMEM, "out of memory");
  if(path) {
    err = read_file(path, &s->file, &len, msg, msglen);
    if(err)
      goto out;
    buf = s->file;
  }
  err = parse_flv(s, buf, len, detail, sizeof(detail));
  if(err) {
    rb_fail(msg, msglen, err, "%s: %s", path ? path : "built-in clip", detail);
    goto out;
  }
  *out = s;
  s = NULL;
out:
  rb_media_source_close(s);
  return err;
}

void rb_media_source_close(struct rb_media_source *s)
{
  if(!s)
    return;
  free(s->out);
  free(s->metadata);
  free(s->tags);
  free(s->file);
  free(s);
}

size_t rb_media_headers(struct rb_media_source *s, struct rb_media_frame *frames, size_t max)
{
  size_t n = 0;

  for(; n < s->nheaders && n < max; n++)
    frames[n] = (struct rb_media_frame){ s->headers[n].type, s->base_ms, s->headers[n].data,
                                         s->headers[n].len };
  return n;
}

static size_t with_sei(struct rb_media_source *s, const struct media_tag *t, uint64_t seq,
                       int64_t send_ns)
{
  uint8_t sei[RB_MEDIA_SEI_MAX];
  size_t where, n = rb_media_build_sei(seq, send_ns, sei);
  unsigned lsz = s->nal_length_size;

  /* Validated at open, so this cannot fail now. */
  sei_insert_offset(t->data + 5, t->len - 5, lsz, &where);
  memcpy(s->out, t->data, 5 + where);
  write_be(s->out + 5 + where, n, lsz);
  memcpy(s->out + 5 + where + lsz, sei, n);
  memcpy(s->out + 5 + where + lsz + n, t->data + 5 + where, t->len - 5 - where);
  return t->len + lsz + n;
}

rb_err rb_media_next(struct rb_media_source *s, uint64_t seq, int64_t send_ns,
                     struct rb_media_frame *frame, bool *is_video, char *msg, size_t msglen)
{
  const struct media_tag *t = &s->tags[s->next];
  uint64_t ts = (uint64_t)s->base_ms + s->loop_offset_ms + (t->ts - s->first_ts);

  (void)msg;
  (void)msglen;
  /* Timestamps are 32 bits on the wire and wrap after ~49 days; a file whose
     audio and video interleave slightly out of order is clamped to be monotonic. */
  frame->timestamp_ms = (uint32_t)ts;
  if((int32_t)(frame->timestamp_ms - s->last_ts) < 0)
    frame->timestamp_ms = s->last_ts;
  s->last_ts = frame->timestamp_ms;
  frame->type = t->type;
  *is_video = t->avc_picture;
  if(t->avc_picture) {
    frame->len = with_sei(s, t, seq, send_ns);
    frame->data = s->out;
  } else {
    frame->data = t->data;
    frame->len = t->len;
  }
  if(++s->next == s->ntags) {
    s->next = 0;
    s->loop_offset_ms += s->span_ms;
  }
  return RB_OK;
}

uint32_t rb_media_next_timestamp(struct rb_media_source *s)
{
  const struct media_tag *t = &s->tags[s->next];
  uint32_t ts = (uint32_t)((uint64_t)s->base_ms + s->loop_offset_ms + (t->ts - s->first_ts));

  return (int32_t)(ts - s->last_ts) < 0 ? s->last_ts : ts;
}

void rb_media_rebase(struct rb_media_source *s, uint32_t base_ms)
{
  /* A new session starts at the clip's first keyframe again. */
  s->base_ms = base_ms;
  s->last_ts = base_ms;
  s->loop_offset_ms = 0;
  s->next = 0;
}

/* ---- verifier ----------------------------------------------------------- */

void rb_media_verifier_init(struct rb_media_verifier *v)
{
  memset(v, 0, sizeof(*v));
}

void rb_media_verifier_feed(struct rb_media_verifier *v, const struct rb_media_frame *f, int64_t now_ns)
{
  uint64_t seq;
  int64_t send_ns;

  if(f->type == RB_MEDIA_VIDEO && rb_media_parse_sei(f->data, f->len, &seq, &send_ns))
    rb_media_verifier_record(v, seq, send_ns, now_ns);
}

void rb_media_verifier_record(struct rb_media_verifier *v, uint64_t seq, int64_t send_ns, int64_t now_ns)
{
  uint64_t missing;
  bool counts_as_lost;

  v->received++;
  /* In double: send_ns comes off the wire, and a hostile or corrupt value must
     not overflow the subtraction (found by tests/fuzz/fuzz_media_sei). */
  v->latencies_ms[v->latency_next] = ((double)now_ns - (double)send_ns) / 1e6;
  v->latency_next = (v->latency_next + 1) % RB_MEDIA_MAX_LATENCIES;
  if(v->nlatencies < RB_MEDIA_MAX_LATENCIES)
    v->nlatencies++;

  /* The gap across an outage is a gap; only losses after the first frame of
     the new connection are losses after the reconnect. */
  counts_as_lost = v->after_reconnect && v->reconnect_anchor;
  /* Where the stream resumed: the fleet splits the gap across the outage into frames
     sent to the killed server and frames the restarted one never delivered. */
  if(v->after_reconnect && !v->reconnect_anchor && v->have_last && seq > v->last_seq) {
    v->resumed = true;
    v->resumed_after = v->last_seq;
    v->resumed_at = seq;
  }
  if(v->after_reconnect)
    v->reconnect_anchor = true;
  if(!v->have_last) {
    v->have_last = true;
    v->last_seq = seq;
    return;
  }
  if(seq <= v->last_seq) {
    v->duplicates++;
    return;
  }
  missing = seq - v->last_seq - 1;
  /* Saturating: a peer that jumps by 2^63 must not wrap the counts back to 0. */
  v->gaps = v->gaps > UINT64_MAX - missing ? UINT64_MAX : v->gaps + missing;
  if(counts_as_lost)
    v->lost_after_reconnect = v->lost_after_reconnect > UINT64_MAX - missing
                                ? UINT64_MAX : v->lost_after_reconnect + missing;
  v->last_seq = seq;
}

void rb_media_verifier_mark_reconnect(struct rb_media_verifier *v)
{
  v->after_reconnect = true;
  v->reconnect_anchor = false;
}
