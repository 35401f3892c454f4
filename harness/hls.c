/* hls: media playlist parser and continuity tracker (see include/rebound/hls.h). */
#include "rebound/hls.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rebound/clock.h"

static bool starts(const char *line, size_t len, const char *tag, const char **value)
{
  size_t n = strlen(tag);

  if(len < n || strncmp(line, tag, n))
    return false;
  *value = line + n;
  return true;
}

/* A decimal integer filling [p, end). */
static bool parse_u64(const char *p, const char *end, uint64_t *out)
{
  uint64_t v = 0;

  if(p == end)
    return false;
  for(; p < end; p++) {
    if(*p < '0' || *p > '9' || v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
      return false;
    v = v * 10 + (uint64_t)(*p - '0');
  }
  *out = v;
  return true;
}

/* A decimal (EXTINF, TARGETDURATION) up to the first ',' or end. */
static bool parse_seconds(const char *p, const char *end, double *out)
{
  char buf[32];
  const char *comma = memchr(p, ',', (size_t)(end - p));
  size_t n = (size_t)((comma ? comma : end) - p);
  char *stop;
  double v;

  if(n == 0 || n >= sizeof(buf))
    return false;
  memcpy(buf, p, n);
  buf[n] = '\0';
  errno = 0;
  v = strtod(buf, &stop);
  if(errno || *stop || !isfinite(v) || v < 0 || v > 86400)
    return false;
  *out = v;
  return true;
}

/* Keep the newest RB_HLS_MAX_SEGMENTS: drop the oldest when full. */
static struct rb_hls_segment *add_segment(struct rb_hls_playlist *pl)
{
  if(pl->nsegments == RB_HLS_MAX_SEGMENTS) {
    memmove(pl->segments, pl->segments + 1, (RB_HLS_MAX_SEGMENTS - 1) * sizeof(pl->segments[0]));
    pl->nsegments--;
  }
  return &pl->segments[pl->nsegments++];
}

rb_err rb_hls_parse(const char *text, struct rb_hls_playlist *pl, char *msg, size_t msglen)
{
  const char *p = text, *v;
  bool first = true, have_target = false, pending_disc = false, have_inf = false;
  double inf = 0;
  uint64_t seq = 0, count = 0;
  unsigned lineno = 0;

  memset(pl, 0, sizeof(*pl));
  if(strlen(text) > RB_HLS_MAX_PLAYLIST)
    return rb_fail(msg, msglen, RB_ERR_PROTOCOL, "playlist larger than %d KiB", RB_HLS_MAX_PLAYLIST / 1024);
  while(*p) {
    const char *nl = strchr(p, '\n'), *end = nl ? nl : p + strlen(p), *next = nl ? nl + 1 : end;
    size_t len;

    lineno++;
    if(end > p && end[-1] == '\r')
      end--;
    len = (size_t)(end - p);
    if(first) {
      if(len >= 3 && !memcmp(p, "\xef\xbb\xbf", 3)) { /* a BOM is tolerated */
        p += 3;
        len -= 3;
      }
      if(!starts(p, len, "#EXTM3U", &v))
        return rb_fail(msg, msglen, RB_ERR_PROTOCOL, "not an M3U8 playlist (no #EXTM3U on line 1)");
      first = false;
    } else if(len == 0) {
      /* blank */
    } else if(starts(p, len, "#EXT-X-STREAM-INF", &v)) {
      return rb_fail(msg, msglen, RB_ERR_PROTOCOL, "a master playlist: hls_url must name a media playlist");
    } else if(starts(p, len, "#EXT-X-TARGETDURATION:", &v)) {
      if(!parse_seconds(v, end, &pl->target_duration_s) || pl->target_duration_s <= 0)
        return rb_fail(msg, msglen, RB_ERR_PROTOCOL, "line %u: bad EXT-X-TARGETDURATION", lineno);
      have_target = true;
    } else if(starts(p, len, "#EXT-X-MEDIA-SEQUENCE:", &v)) {
      if(!parse_u64(v, end, &pl->media_sequence) || count)
        return rb_fail(msg, msglen, RB_ERR_PROTOCOL, "line %u: bad EXT-X-MEDIA-SEQUENCE", lineno);
      seq = pl->media_sequence;
    } else if(starts(p, len, "#EXT-X-DISCONTINUITY-SEQUENCE:", &v)) {
      if(!parse_u64(v, end, &pl->discontinuity_sequence))
        return rb_fail(msg, msglen, RB_ERR_PROTOCOL, "line %u: bad EXT-X-DISCONTINUITY-SEQUENCE", lineno);
    } else if(len == strlen("#EXT-X-DISCONTINUITY") && starts(p, len, "#EXT-X-DISCONTINUITY", &v)) {
      pending_disc = true;
    } else if(starts(p, len, "#EXT-X-ENDLIST", &v)) {
      pl->endlist = true;
    } else if(starts(p, len, "#EXTINF:", &v)) {
      if(!parse_seconds(v, end, &inf))
        return rb_fail(msg, msglen, RB_ERR_PROTOCOL, "line %u: bad EXTINF", lineno);
      have_inf = true;
    } else if(p[0] != '#') {
      struct rb_hls_segment *s;

      if(!have_inf)
        return rb_fail(msg, msglen, RB_ERR_PROTOCOL, "line %u: segment URI without EXTINF", lineno);
      if(len >= RB_HLS_MAX_URI)
        return rb_fail(msg, msglen, RB_ERR_PROTOCOL, "line %u: segment URI longer than %d bytes", lineno,
                       RB_HLS_MAX_URI - 1);
      s = add_segment(pl);
      s->seq = seq++;
      s->duration_s = inf;
      s->discontinuity = pending_disc;
      pl->any_discontinuity |= pending_disc;
      memcpy(s->uri, p, len);
      s->uri[len] = '\0';
      pending_disc = have_inf = false;
      count++;
    } /* other tags do not matter to continuity */
    p = next;
  }
  if(first)
    return rb_fail(msg, msglen, RB_ERR_PROTOCOL, "empty playlist");
  if(!have_target)
    return rb_fail(msg, msglen, RB_ERR_PROTOCOL, "no EXT-X-TARGETDURATION");
  return RB_OK;
}

enum rb_hls_change rb_hls_track(struct rb_hls_tracker *t, const struct rb_hls_playlist *pl, size_t *first_new,
                                char *why, size_t whylen)
{
  uint64_t newest = pl->nsegments ? pl->segments[pl->nsegments - 1].seq : pl->media_sequence;
  enum rb_hls_change change = RB_HLS_SAME;
  bool back;

  *first_new = pl->nsegments;
  if(!t->have) {
    if(pl->nsegments) {
      *first_new = pl->nsegments - 1; /* the live edge */
      t->last_seq = newest;
      t->have = true;
    }
    t->first_seq = pl->media_sequence;
    t->discontinuity_seq = pl->discontinuity_sequence;
    return RB_HLS_SAME;
  }
  /* Back: the window starts earlier, or its newest segment is older than one taken. */
  back = pl->media_sequence < t->first_seq || (pl->nsegments && newest < t->last_seq);
  if(back) {
    if(pl->any_discontinuity || pl->discontinuity_sequence > t->discontinuity_seq) {
      change = RB_HLS_RESTART_SIGNALLED;
      t->restarts++;
    } else {
      change = RB_HLS_RESET;
      t->resets++;
      if(why)
        snprintf(why, whylen, "the HLS media sequence went back from %" PRIu64 " to %" PRIu64 " without "
                 "EXT-X-DISCONTINUITY or a new EXT-X-DISCONTINUITY-SEQUENCE: players waiting for segment "
                 "%" PRIu64 " stall", t->last_seq, pl->media_sequence, t->last_seq + 1);
    }
    *first_new = 0; /* everything listed is the new server's */
  } else {
    for(size_t i = 0; i < pl->nsegments; i++)
      if(pl->segments[i].seq > t->last_seq) {
        *first_new = i;
        break;
      }
  }
  if(pl->nsegments && (back || newest > t->last_seq))
    t->last_seq = newest;
  t->first_seq = pl->media_sequence;
  t->discontinuity_seq = pl->discontinuity_sequence;
  return change;
}

int64_t rb_hls_reload_ns(const struct rb_hls_playlist *pl, bool changed)
{
  double s = pl->target_duration_s > 0 ? pl->target_duration_s : 1;

  return (int64_t)((changed ? s : s / 2) * RB_NS_PER_S);
}
