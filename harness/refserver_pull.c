/*
 * refserver_pull: the refserver as an edge (--pull URL): a thread per pulled stream
 * plays it from the origin and publishes it into this server, like nginx-rtmp's
 * `pull`. When the origin goes away the thread pulls again (every 100 ms until the
 * origin answers), while its local publish stays up, so players on the edge keep
 * their session and get frames again once the origin is back. --no-repull models the
 * edge that never pulls again: the local stream stays published and silent.
 *
 * The threads are clients of rebound's own client module (librtmp with deadlines);
 * they touch nothing of the event loop, which sees them as one more publisher.
 */
#include "rebound/refserver.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rebound/client.h"
#include "rebound/clock.h"

#define RETRY_NS (100 * RB_NS_PER_MS)
#define READ_SLICE_NS RB_NS_PER_S
#define STEP_NS (2 * RB_NS_PER_S)

struct puller {
  char origin_app[512];   /* rtmp://origin:port/app */
  char stream[256];
  char self_app[512];     /* rtmp://this-server/app */
  bool repull;
  bool quiet;
};

static void plog(const struct puller *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void plog(const struct puller *p, const char *fmt, ...)
{
  va_list ap;

  if(p->quiet)
    return;
  fprintf(stderr, "refserver[%d]: pull %s/%s: ", (int)getpid(), p->origin_app, p->stream);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
}

static struct rb_client *open_client(const char *url, const char *stream, bool publish, char *msg, size_t msglen)
{
  struct rb_client_opts o = { .url = url, .step_timeout_ns = STEP_NS };
  struct rb_client *c = NULL;

  if(rb_client_create(&c, &o, msg, msglen) || rb_client_connect(c, msg, msglen) ||
     (publish ? rb_client_publish(c, stream, msg, msglen) : rb_client_play(c, stream, msg, msglen))) {
    rb_client_destroy(c);
    return NULL;
  }
  return c;
}

/* Relay frames from in to out until one of them fails; true when the origin (in) did. */
static bool relay(struct puller *p, struct rb_client *in, struct rb_client *out)
{
  struct rb_media_frame f;
  char msg[256];
  rb_err err;

  for(;;) {
    err = rb_client_read(in, &f, rb_clock_deadline(READ_SLICE_NS), msg, sizeof(msg));
    if(err == RB_ERR_TIMEOUT)
      continue; /* a quiet origin (no publisher yet, or paused) is not a lost one */
    if(err) {
      plog(p, "lost the origin: %s", msg);
      return true;
    }
    if((err = rb_client_write(out, &f, msg, sizeof(msg)))) {
      plog(p, "lost the local publish: %s", msg);
      return false;
    }
  }
}

static void *pull_main(void *arg)
{
  struct puller *p = arg;
  struct rb_client *in = NULL, *out = NULL;
  bool pulled = false;
  char msg[256];

  for(;;) {
    if(!out && !(out = open_client(p->self_app, p->stream, true, msg, sizeof(msg)))) {
      rb_clock_sleep(RETRY_NS);
      continue;
    }
    if(!(in = open_client(p->origin_app, p->stream, false, msg, sizeof(msg)))) {
      rb_clock_sleep(RETRY_NS);
      continue;
    }
    plog(p, "%s", pulled ? "pulling again" : "pulling");
    pulled = true;
    if(!relay(p, in, out)) {
      rb_client_destroy(out);
      out = NULL;
    }
    rb_client_destroy(in);
    in = NULL;
    if(!p->repull && out) {
      plog(p, "--no-repull: not pulling again (the local stream stays published, without frames)");
      for(;;)
        pause();
    }
    rb_clock_sleep(RETRY_NS);
  }
  return NULL;
}

rb_err rb_refserver_pull_start(const char *url, const char *self_endpoint, bool repull, bool quiet, char *msg,
                            size_t msglen)
{
  struct puller *p = calloc(1, sizeof(*p));
  const char *scheme = strstr(url, "://"), *slash, *last;
  pthread_attr_t attr;
  pthread_t thread;
  int rc;

  if(!p)
    return rb_fail(msg, msglen, RB_ERR_NOMEM, "out of memory");
  /* rtmp://host[:port]/app/stream: the app is what lies between the host and the last '/' */
  slash = scheme ? strchr(scheme + 3, '/') : NULL;
  last = strrchr(url, '/');
  if(!slash || last == slash || !last[1] || strlen(url) >= sizeof(p->origin_app) ||
     strlen(last + 1) >= sizeof(p->stream)) {
    free(p);
    return rb_fail(msg, msglen, RB_ERR_USAGE, "--pull %s: expected rtmp://HOST:PORT/APP/STREAM", url);
  }
  snprintf(p->origin_app, sizeof(p->origin_app), "%.*s", (int)(last - url), url);
  snprintf(p->stream, sizeof(p->stream), "%s", last + 1);
  snprintf(p->self_app, sizeof(p->self_app), "rtmp://%s%.*s", self_endpoint, (int)(last - slash), slash);
  p->repull = repull;
  p->quiet = quiet;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  rc = pthread_create(&thread, &attr, pull_main, p);
  pthread_attr_destroy(&attr);
  if(rc) {
    free(p);
    return rb_fail(msg, msglen, RB_ERR_SYSTEM, "--pull: cannot start a thread");
  }
  return RB_OK;
}
