/* viewer: HTTP-FLV and HLS sessions on libcurl (see include/rebound/viewer.h). */
#include "rebound/viewer.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rebound/clock.h"
#include "rebound/flv.h"
#include "rebound/http.h"
#include "rebound/media.h"

#define FLV_MAX_BUFFER (4u << 20)  /* the largest tag an HTTP-FLV server may send us */
#define HLS_MAX_SEGMENT (32u << 20)

/* ---- HTTP-FLV ------------------------------------------------------------- */

struct flv_play {
  const struct rb_viewer_sink *sink;
  struct rb_flv_reader reader;
};

static rb_err on_flv_data(void *arg, const uint8_t *data, size_t len, char *msg, size_t msglen)
{
  struct flv_play *p = arg;
  struct rb_flv_tag tag;
  bool have;
  rb_err err;

  if((err = rb_flv_reader_push(&p->reader, data, len, msg, msglen)))
    return err;
  for(;;) {
    uint64_t seq;
    int64_t send_ns;

    if((err = rb_flv_reader_next(&p->reader, &tag, &have, msg, msglen)) || !have)
      return err;
    if(tag.type == RB_MEDIA_VIDEO && rb_media_parse_sei(tag.data, tag.len, &seq, &send_ns))
      p->sink->on_sei(p->sink->arg, seq, send_ns);
  }
}

rb_err rb_viewer_flv_session(const char *url, int64_t step_timeout_ns, const struct rb_viewer_sink *sink,
                             char *msg, size_t msglen)
{
  struct flv_play p = { .sink = sink };
  struct rb_http_request rq = {
    .url = url, .deadline = rb_clock_deadline(step_timeout_ns), .idle_ns = step_timeout_ns,
    .arg = sink->arg, .stopping = sink->stopping, .on_socket = sink->on_socket,
  };
  rb_err err;

  rb_flv_reader_init(&p.reader, FLV_MAX_BUFFER);
  err = rb_http_stream(&rq, on_flv_data, &p, msg, msglen);
  rb_flv_reader_free(&p.reader);
  return err;
}

/* ---- HLS ------------------------------------------------------------------ */

struct hls_play {
  const struct rb_viewer_sink *sink;
  int64_t first_send_ns;
};

static void on_segment_sei(void *arg, uint64_t seq, int64_t send_ns)
{
  struct hls_play *p = arg;

  if(!p->first_send_ns)
    p->first_send_ns = send_ns;
  p->sink->on_sei(p->sink->arg, seq, send_ns);
}

/* A segment URI relative to the playlist's URL, resolved by libcurl's URL parser. */
static rb_err resolve(const char *base, const char *ref, char **out, char *msg, size_t msglen)
{
  CURLU *u = curl_url();
  rb_err err = RB_OK;

  *out = NULL;
  if(!u)
    return rb_fail(msg, msglen, RB_ERR_NOMEM, "out of memory");
  if(curl_url_set(u, CURLUPART_URL, base, 0) || curl_url_set(u, CURLUPART_URL, ref, 0) ||
     curl_url_get(u, CURLUPART_URL, out, 0))
    err = rb_fail(msg, msglen, RB_ERR_PROTOCOL, "segment URI '%.200s' does not resolve against %s", ref, base);
  curl_url_cleanup(u);
  return err;
}

static rb_err take_segment(struct rb_http_request *rq, const char *playlist_url, const struct rb_hls_segment *seg,
                           int64_t step_timeout_ns, const struct rb_viewer_sink *sink, char *msg, size_t msglen)
{
  struct hls_play p = { .sink = sink };
  struct rb_mpegts_result res;
  char *url = NULL, why[256];
  uint8_t *data = NULL;
  size_t len;
  long status;
  rb_err err;

  if((err = resolve(playlist_url, seg->uri, &url, msg, msglen)))
    return err;
  rq->url = url;
  rq->deadline = rb_clock_deadline(step_timeout_ns);
  rq->max_body = HLS_MAX_SEGMENT;
  if((err = rb_http_fetch(rq, &data, &len, &status, msg, msglen)))
    goto out;
  if(seg->discontinuity)
    sink->on_discontinuity(sink->arg);
  if((err = rb_mpegts_scan(data, len, on_segment_sei, &p, &res, why, sizeof(why)))) {
    err = rb_fail(msg, msglen, err, "segment %llu (%s): %s", (unsigned long long)seg->seq, url, why);
    goto out;
  }
  sink->on_segment(sink->arg, p.first_send_ns, &res);
out:
  free(data);
  curl_free(url);
  return err;
}

/* GET and parse the media playlist. */
static rb_err read_playlist(struct rb_http_request *rq, const char *url, int64_t step_timeout_ns,
                            struct rb_hls_playlist *pl, char *msg, size_t msglen)
{
  char why[RB_HLS_MAX_URI + 160];
  uint8_t *text = NULL;
  size_t len;
  long status;
  rb_err err;

  rq->url = url;
  rq->deadline = rb_clock_deadline(step_timeout_ns);
  rq->max_body = RB_HLS_MAX_PLAYLIST;
  if((err = rb_http_fetch(rq, &text, &len, &status, msg, msglen)))
    return err;
  if(strlen((char *)text) != len)
    err = rb_fail(why, sizeof(why), RB_ERR_PROTOCOL, "holds a NUL byte");
  else
    err = rb_hls_parse((char *)text, pl, why, sizeof(why));
  free(text);
  return err ? rb_fail(msg, msglen, err, "playlist %s: %s", url, why) : RB_OK;
}

/* One poll: the playlist, judged against the last, then every new segment. *changed
   says whether there were new segments (it sets the reload interval). */
static rb_err poll_once(struct rb_http_request *rq, const char *url, int64_t step_timeout_ns,
                        struct rb_hls_tracker *tracker, struct rb_hls_playlist *pl,
                        const struct rb_viewer_sink *sink, bool *changed, char *msg, size_t msglen)
{
  char why[320] = "";
  enum rb_hls_change change;
  size_t first_new;
  rb_err err;

  if((err = read_playlist(rq, url, step_timeout_ns, pl, msg, msglen)))
    return err;
  change = rb_hls_track(tracker, pl, &first_new, why, sizeof(why));
  if(change != RB_HLS_SAME)
    sink->on_change(sink->arg, change, why);
  *changed = first_new < pl->nsegments;
  for(size_t i = first_new; i < pl->nsegments && !err; i++)
    err = take_segment(rq, url, &pl->segments[i], step_timeout_ns, sink, msg, msglen);
  return err;
}

rb_err rb_viewer_hls_session(const char *url, int64_t step_timeout_ns, struct rb_hls_tracker *tracker,
                             const struct rb_viewer_sink *sink, char *msg, size_t msglen)
{
  struct rb_http_request rq = {
    .arg = sink->arg, .stopping = sink->stopping, .on_socket = sink->on_socket, .require_2xx = true,
  };
  struct rb_hls_playlist *pl = malloc(sizeof(*pl)); /* ~40 KiB: not on a player's stack */
  rb_err err = RB_OK;

  if(!pl)
    return rb_fail(msg, msglen, RB_ERR_NOMEM, "out of memory");
  /* One handle for the whole session: a player keeps its connection alive. */
  if(!(rq.handle = rb_http_handle_new())) {
    free(pl);
    return rb_fail(msg, msglen, RB_ERR_NOMEM, "cannot initialise libcurl");
  }
  while(!err) {
    int64_t polled_at = rb_clock_now();
    bool changed = false;

    if((err = poll_once(&rq, url, step_timeout_ns, tracker, pl, sink, &changed, msg, msglen)))
      break;
    if(!sink->wait_until(sink->arg, polled_at + rb_hls_reload_ns(pl, changed)))
      err = rb_fail(msg, msglen, RB_ERR_INTERRUPTED, "stopped");
  }
  rb_http_handle_free(rq.handle);
  free(pl);
  return err;
}
