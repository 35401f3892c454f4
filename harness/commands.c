/*
 * commands: `rebound probe|publish|play URL [...]`, the client on the command line.
 *
 * Each command parses its options, drives one rb_client through the steps and
 * prints one summary line on stdout; any failure is one line on stderr naming
 * the URL and the reason (refused, timed out, rejected with the server's code).
 * Exit codes per interface.md: 0 success, 1 failure, 2 usage error.
 */
#include "rebound/commands.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "rebound/client.h"
#include "rebound/clock.h"
#include "rebound/media.h"
#include "rebound/output.h"
#include "rebound/report.h"
#include "rebound/stats.h"

#define EXIT_USAGE 2
#define URL_MAX 2048

enum {
  OPT_TIMEOUT = 1,
  OPT_JSON = 2,
  OPT_DURATION = 4,
  OPT_MEDIA = 8,
  OPT_VERIFY = 16,
};

struct cmd_opts {
  const char *name;
  const char *url;
  int64_t timeout_ns;
  int64_t duration_ns;
  const char *json;
  const char *media;
  bool verify;
};

static const char *const usages[] = {
  "usage: rebound probe URL [--timeout D] [--json FILE]",
  "usage: rebound publish URL [--duration D] [--media FILE.flv] [--timeout D]",
  "usage: rebound play URL [--duration D] [--verify] [--timeout D]",
};

/* One line, as for every other failure: "rebound CMD: what (usage: ...)". */
static int usage_error(const struct cmd_opts *o, const char *usage, const char *fmt, const char *arg)
  __attribute__((format(printf, 3, 0)));

static int usage_error(const struct cmd_opts *o, const char *usage, const char *fmt, const char *arg)
{
  fprintf(stderr, "rebound %s: ", o->name);
  fprintf(stderr, fmt, arg); /* fmt is always one of this file's literals */
  fprintf(stderr, " (%s)\n", usage);
  return EXIT_USAGE;
}

static int parse_duration(const struct cmd_opts *o, const char *usage, const char *text, int64_t *out)
{
  if(!rb_duration_parse(text, out) || *out <= 0)
    return usage_error(o, usage, "bad duration '%s'", text);
  return 0;
}

static const struct option all_options[] = {
  { "timeout", required_argument, NULL, OPT_TIMEOUT },
  { "json", required_argument, NULL, OPT_JSON },
  { "duration", required_argument, NULL, OPT_DURATION },
  { "media", required_argument, NULL, OPT_MEDIA },
  { "verify", no_argument, NULL, OPT_VERIFY },
};

#define NOPTIONS (sizeof(all_options) / sizeof(all_options[0]))

/* --help and the options this command allows, for getopt_long. */
static void allowed_options(unsigned allowed, struct option *opts)
{
  size_t n = 0;

  opts[n++] = (struct option){ "help", no_argument, NULL, 'h' };
  for(size_t i = 0; i < NOPTIONS; i++)
    if(allowed & (unsigned)all_options[i].val)
      opts[n++] = all_options[i];
  opts[n] = (struct option){ NULL, 0, NULL, 0 };
}

/* getopt_long's messages are off: one line in this file's format instead. */
static int getopt_error(const struct cmd_opts *o, const char *usage, char **argv, int c)
{
  char shortopt[3] = { '-', (char)optopt, '\0' };
  const char *arg = c == '?' && optopt > 0 && optopt < 256 ? shortopt : argv[optind - 1];

  if(c == '?')
    return usage_error(o, usage, "unknown option '%s'", arg);
  if(optopt == OPT_JSON || optopt == OPT_MEDIA)
    return usage_error(o, usage, "%s needs a file name", arg);
  return usage_error(o, usage, "%s needs a value", arg);
}

static int take_option(const char *usage, int c, struct cmd_opts *o)
{
  switch(c) {
  case OPT_TIMEOUT: return parse_duration(o, usage, optarg, &o->timeout_ns);
  case OPT_DURATION: return parse_duration(o, usage, optarg, &o->duration_ns);
  case OPT_JSON:
  case OPT_MEDIA:
    if(!*optarg)
      return usage_error(o, usage, "%s needs a file name", c == OPT_JSON ? "--json" : "--media");
    *(c == OPT_JSON ? &o->json : &o->media) = optarg;
    return 0;
  case OPT_VERIFY: o->verify = true; return 0;
  }
  return 0;
}

/* Returns 0 or the exit code of a usage error (also for --help: 0 is printed as usage). */
static int parse_options(int argc, char **argv, unsigned allowed, const char *usage,
                         struct cmd_opts *o)
{
  struct option opts[NOPTIONS + 2];
  int c, rc;

  o->name = argc > 0 ? argv[0] : "?";
  o->timeout_ns = 5 * RB_NS_PER_S;
  o->duration_ns = 5 * RB_NS_PER_S;
  allowed_options(allowed, opts);
  optind = 1;
  opterr = 0;
  while((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
    if(c == 'h') {
      printf("%s\n", usage);
      return -1;
    }
    if(c == '?' || c == ':')
      return getopt_error(o, usage, argv, c);
    if((rc = take_option(usage, c, o)))
      return rc;
  }
  if(optind < argc)
    o->url = argv[optind++];
  if(optind < argc)
    return usage_error(o, usage, "unexpected argument '%s'", argv[optind]);
  if(!o->url)
    return usage_error(o, usage, "%s", "missing URL");
  if(strlen(o->url) >= URL_MAX)
    return usage_error(o, usage, "%s", "URL too long");
  return 0;
}

/* rtmp://host[:port]/app[/inst]/stream[ options] -> the application URL (with
   the options) and the stream name, the way librtmp users write them. */
static bool split_stream_url(const char *url, char *app_url, size_t applen, char *stream,
                             size_t streamlen)
{
  const char *space = strchr(url, ' ');
  size_t base = space ? (size_t)(space - url) : strlen(url);
  const char *scheme = strstr(url, "://"), *path, *last;
  size_t name_len;

  if(!scheme || scheme >= url + base)
    return false;
  path = memchr(scheme + 3, '/', base - (size_t)(scheme + 3 - url));
  if(!path)
    return false;
  last = path;
  for(const char *p = path; p < url + base; p++)
    if(*p == '/')
      last = p;
  name_len = base - (size_t)(last + 1 - url);
  if(last == path || name_len == 0 || name_len >= streamlen ||
     (size_t)(last - url) + strlen(url + base) >= applen)
    return false;
  memcpy(stream, last + 1, name_len);
  stream[name_len] = '\0';
  snprintf(app_url, applen, "%.*s%s", (int)(last - url), url, url + base);
  return true;
}

static int fail(const struct cmd_opts *o, const char *what)
{
  fprintf(stderr, "rebound %s: %s: %s\n", o->name, o->url, what);
  return 1;
}

static rb_err open_client(struct rb_client **c, const char *url, const struct cmd_opts *o,
                          char *msg, size_t msglen)
{
  struct rb_client_opts copts = { .url = url, .step_timeout_ns = o->timeout_ns };
  rb_err err;

  signal(SIGPIPE, SIG_IGN); /* librtmp sends without MSG_NOSIGNAL */
  err = rb_client_create(c, &copts, msg, msglen);
  if(!err)
    err = rb_client_connect(*c, msg, msglen);
  return err;
}

/* ---- probe -------------------------------------------------------------- */

static int write_probe_json(const struct cmd_opts *o, const struct rb_client_timings *t,
                            rb_err err, const char *msg, const struct rb_client_status *st)
{
  json_t *root = json_pack("{s:s, s:s}", "url", o->url, "result", err ? "fail" : "ok");
  char wmsg[1024];
  int rc = 0;

  if(!root)
    return fail(o, "cannot build the JSON result");
  json_object_set_new(root, "tcp_ms", json_real(t->tcp_ms));
  json_object_set_new(root, "handshake_ms", json_real(t->handshake_ms));
  json_object_set_new(root, "connect_ms", json_real(t->connect_ms));
  json_object_set_new(root, "create_stream_ms", json_real(t->create_stream_ms));
  if(err) {
    json_object_set_new(root, "error", json_string(rb_strerror(err)));
    json_object_set_new(root, "reason", json_string(msg));
    if(st && st->code[0])
      json_object_set_new(root, "status_code", json_string(st->code));
  }
  if(rb_output_write(o->json, rb_report_dump_json, root, wmsg, sizeof(wmsg))) {
    fprintf(stderr, "rebound %s: --json %s\n", o->name, wmsg);
    rc = 1;
  }
  json_decref(root);
  return rc;
}

int rb_cmd_probe(int argc, char **argv)
{
  struct cmd_opts o = { 0 };
  struct rb_client *c = NULL;
  struct rb_client_timings t = { 0 };
  char msg[512] = "";
  rb_err err;
  int rc = parse_options(argc, argv, OPT_TIMEOUT | OPT_JSON, usages[0], &o);

  if(rc)
    return rc < 0 ? 0 : rc;
  err = open_client(&c, o.url, &o, msg, sizeof(msg));
  if(!err)
    err = rb_client_create_stream(c, msg, sizeof(msg));
  if(c)
    t = *rb_client_last_timings(c);
  if(err) {
    rc = fail(&o, msg);
  } else {
    printf("%s: tcp %.1fms handshake %.1fms connect %.1fms createStream %.1fms\n", o.url,
           t.tcp_ms, t.handshake_ms, t.connect_ms, t.create_stream_ms);
    fflush(stdout);
  }
  if(o.json && write_probe_json(&o, &t, err, msg, c ? rb_client_last_status(c) : NULL))
    rc = 1;
  rb_client_destroy(c);
  return rc;
}

/* ---- publish ------------------------------------------------------------ */

struct publish_counts {
  uint64_t frames, video, audio;
};

static rb_err send_headers(struct rb_client *c, struct rb_media_source *src, char *msg,
                           size_t msglen)
{
  struct rb_media_frame headers[3];
  size_t n = rb_media_headers(src, headers, 3);
  rb_err err = RB_OK;

  for(size_t i = 0; i < n && !err; i++)
    err = rb_client_write(c, &headers[i], msg, msglen);
  return err;
}

/* Frames at the pace of their timestamps until duration has passed. */
static rb_err publish_loop(struct rb_client *c, struct rb_media_source *src, int64_t duration_ns,
                           struct publish_counts *n, char *msg, size_t msglen)
{
  int64_t start = rb_clock_now();
  uint32_t first_ts = rb_media_next_timestamp(src);
  uint64_t seq = 0;
  rb_err err = RB_OK;

  while(!err) {
    struct rb_media_frame f;
    bool is_video;
    int64_t due = start + (int64_t)(rb_media_next_timestamp(src) - first_ts) * RB_NS_PER_MS;

    if(due - start >= duration_ns)
      break;
    rb_clock_sleep(due - rb_clock_now());
    err = rb_media_next(src, seq, rb_clock_now(), &f, &is_video, msg, msglen);
    if(!err)
      err = rb_client_write(c, &f, msg, msglen);
    if(err)
      break;
    seq += is_video;
    n->frames++;
    n->video += f.type == RB_MEDIA_VIDEO;
    n->audio += f.type == RB_MEDIA_AUDIO;
  }
  return err;
}

int rb_cmd_publish(int argc, char **argv)
{
  struct cmd_opts o = { 0 };
  struct rb_client *c = NULL;
  struct rb_media_source *src = NULL;
  struct publish_counts n = { 0 };
  char app_url[URL_MAX], stream[URL_MAX], msg[512] = "";
  int64_t t0;
  rb_err err;
  int rc = parse_options(argc, argv, OPT_TIMEOUT | OPT_DURATION | OPT_MEDIA, usages[1], &o);

  if(rc)
    return rc < 0 ? 0 : rc;
  if(!split_stream_url(o.url, app_url, sizeof(app_url), stream, sizeof(stream)))
    return usage_error(&o, usages[1], "'%s' has no stream name (rtmp://host[:port]/app/stream)",
                       o.url);
  err = rb_media_source_open(&src, o.media, msg, sizeof(msg));
  if(err) {
    fprintf(stderr, "rebound publish: %s\n", msg);
    return 1;
  }
  err = open_client(&c, app_url, &o, msg, sizeof(msg));
  if(!err)
    err = rb_client_publish(c, stream, msg, sizeof(msg));
  t0 = rb_clock_now();
  if(!err)
    err = send_headers(c, src, msg, sizeof(msg));
  if(!err)
    err = publish_loop(c, src, o.duration_ns, &n, msg, sizeof(msg));
  if(err) {
    char line[700];

    if(n.frames)
      snprintf(line, sizeof(line), "%s (after %llu frames)", msg, (unsigned long long)n.frames);
    else
      snprintf(line, sizeof(line), "%s", msg);
    rc = fail(&o, line);
  } else {
    rb_client_close(c, true);
    printf("published %s: %llu frames (%llu video, %llu audio) in %.2fs\n", o.url,
           (unsigned long long)n.frames, (unsigned long long)n.video,
           (unsigned long long)n.audio, rb_clock_ms(t0, rb_clock_now()) / 1000.0);
    fflush(stdout);
  }
  rb_client_destroy(c);
  rb_media_source_close(src);
  return rc;
}

/* ---- play --------------------------------------------------------------- */

struct play_counts {
  uint64_t frames, video, audio, data;
};

static rb_err play_loop(struct rb_client *c, int64_t deadline, struct rb_media_verifier *v,
                        struct play_counts *n, char *msg, size_t msglen)
{
  for(;;) {
    struct rb_media_frame f;
    rb_err err = rb_client_read(c, &f, deadline, msg, msglen);

    if(err == RB_ERR_TIMEOUT && rb_clock_now() >= deadline)
      return RB_OK; /* the duration is over */
    if(err)
      return err;
    n->frames++;
    n->video += f.type == RB_MEDIA_VIDEO;
    n->audio += f.type == RB_MEDIA_AUDIO;
    n->data += f.type == RB_MEDIA_DATA;
    rb_media_verifier_feed(v, &f, rb_clock_now());
  }
}

static void print_play_summary(const struct cmd_opts *o, const struct play_counts *n,
                               const struct rb_media_verifier *v, double secs)
{
  struct rb_summary lat;

  rb_stats_summarize(v->latencies_ms, v->nlatencies, &lat);
  printf("played %s: %llu frames (%llu video, %llu audio) in %.2fs; received %llu, gaps %llu, "
         "duplicates %llu, latency p50 %.1fms p99 %.1fms\n",
         o->url, (unsigned long long)n->frames, (unsigned long long)n->video,
         (unsigned long long)n->audio, secs, (unsigned long long)v->received,
         (unsigned long long)v->gaps, (unsigned long long)v->duplicates, lat.p50, lat.p99);
  fflush(stdout);
}

int rb_cmd_play(int argc, char **argv)
{
  struct cmd_opts o = { 0 };
  struct rb_client *c = NULL;
  struct rb_media_verifier *v = NULL;
  struct play_counts n = { 0 };
  char app_url[URL_MAX], stream[URL_MAX], msg[512] = "", reason[600];
  int64_t t0 = 0;
  rb_err err;
  int rc = parse_options(argc, argv, OPT_TIMEOUT | OPT_DURATION | OPT_VERIFY, usages[2], &o);

  if(rc)
    return rc < 0 ? 0 : rc;
  if(!split_stream_url(o.url, app_url, sizeof(app_url), stream, sizeof(stream)))
    return usage_error(&o, usages[2], "'%s' has no stream name (rtmp://host[:port]/app/stream)",
                       o.url);
  v = malloc(sizeof(*v)); /* 32 KB of latency samples: not for the stack */
  if(!v)
    return fail(&o, "out of memory");
  rb_media_verifier_init(v);
  err = open_client(&c, app_url, &o, msg, sizeof(msg));
  if(!err)
    err = rb_client_play(c, stream, msg, sizeof(msg));
  if(!err) {
    t0 = rb_clock_now();
    err = play_loop(c, t0 + o.duration_ns, v, &n, msg, sizeof(msg));
    print_play_summary(&o, &n, v, rb_clock_ms(t0, rb_clock_now()) / 1000.0);
  }
  if(err) {
    snprintf(reason, sizeof(reason), "%s%s", t0 ? "stream ended early: " : "", msg);
    rc = fail(&o, reason);
  } else if(o.verify && (v->received == 0 || v->gaps || v->duplicates)) {
    snprintf(reason, sizeof(reason), "verify failed: %llu sequenced frames, %llu gaps, %llu duplicates",
             (unsigned long long)v->received, (unsigned long long)v->gaps,
             (unsigned long long)v->duplicates);
    rc = fail(&o, reason);
  }
  rb_client_destroy(c);
  free(v);
  return rc;
}
