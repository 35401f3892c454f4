/*
 * refserver: rebound's reference RTMP server, the default target and the fixture
 * that proves each failure mode is caught.
 *
 * This file owns the process: options, the listening socket (SO_REUSEADDR unless
 * --no-reuseaddr), the one-line "listening on" announcement, nginx-style workers
 * that survive a killed master, the process-level faults (--start-delay,
 * --crash-after, --hang-after) and the event loop. The loop is one thread on
 * epoll with a queue per connection: a thousand idle holders cost a few KiB each
 * and no stacks, and the whole server stays single-threaded and deterministic.
 * What is said on each connection lives in refserver_session.c.
 */
#include "rebound/clock.h"
#include "rebound/error.h"
#include "rebound/refserver.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_WORKERS 64
#define MAX_PULLS 8
#define MAX_GENERATIONS_ALIVE 4   /* worker sets alive at once across reloads (never-drain piles up) */
#define MAX_CHILDREN (MAX_WORKERS * MAX_GENERATIONS_ALIVE)
#define MAX_OUT_CHUNK (1u << 20)  /* --chunk-size: large, and within every client's limit */
#define READ_CHUNK 65536
#define WORKER_TITLE "rebound-refserver: worker process"
#define DRAINING_TITLE "rebound-refserver: worker process is shutting down"

struct options {
  const char *host;
  int port;
  bool reuseaddr;
  int extra_port;            /* --extra-port: a second listener (0 = none) */
  bool extra_reuseaddr;
  const char *pulls[MAX_PULLS]; /* --pull URL */
  int npulls;
  bool repull;
  int workers;
  const char *reject_publish_code;
  int64_t stale_ns;
  int64_t start_delay_ns;
  long crash_after;
  long hang_after;
  long chunk_size;
  int64_t drain_timeout_ns;
  bool never_drain;
  bool quiet;
  int http_flv_port;         /* -1: no HTTP-FLV output */
  bool http_flv_stall;
  int http_fd;               /* set once listening: the HTTP-FLV listener, -1 if none */
};

struct loop_conn {
  int fd;
  uint32_t events;
  struct rb_refserver_conn *rc;
  struct loop_conn *prev, *next;
};

struct loop {
  const struct options *opt;
  int epfd;
  int listen_fd;
  int extra_fd;              /* --extra-port listener, -1 if none */
  struct loop_conn extra_tag; /* epoll data of extra_fd, told apart by its address */
  int http_fd;               /* HTTP-FLV listener, -1 if none */
  int spare_fd;              /* released to accept-and-close when out of descriptors */
  struct rb_refserver *srv;
  struct loop_conn *conns;
  size_t max_conns;
  long accepted;
  sigset_t wait_mask;        /* the mask during epoll_pwait: stop signals unblocked */
  bool draining;             /* SIGQUIT seen: no more accepts */
  int64_t drain_until;
};

static volatile sig_atomic_t stop_signal;
static volatile sig_atomic_t child_exited;
static volatile sig_atomic_t reload_requested; /* SIGHUP */
static volatile sig_atomic_t drain_requested;  /* SIGQUIT: finish gracefully, as nginx's workers */
static char **saved_argv;
static size_t title_room;

static void on_stop_signal(int sig)
{
  stop_signal = sig;
}

static void on_child(int sig)
{
  (void)sig;
  child_exited = 1;
}

static void on_reload(int sig)
{
  (void)sig;
  reload_requested = 1;
}

static void on_drain(int sig)
{
  (void)sig;
  drain_requested = 1;
}

static void log_line(const struct options *opt, const char *fmt, ...)
  __attribute__((format(printf, 2, 3)));
static void set_title(const char *name, const char *title);

static void log_line(const struct options *opt, const char *fmt, ...)
{
  va_list ap;

  if(opt->quiet)
    return;
  fprintf(stderr, "refserver[%d]: ", (int)getpid());
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
}

static void usage(FILE *f)
{
  fprintf(f,
"usage: rebound-refserver [--host ADDR] [--port N] [switches]\n"
"A small RTMP server (publish, play, relay) with switches that reproduce failures\n"
"seen in real servers. Once listening it prints one line to stdout:\n"
"  listening on HOST:PORT monotonic_ns=N   (CLOCK_MONOTONIC right after listen())\n"
"\n"
"  --host ADDR            numeric IPv4/IPv6 address to listen on (default 127.0.0.1)\n"
"  --port N               port (default 1935; 0 picks a free port)\n"
"  --extra-port N         also serve RTMP on port N (a server with a second port,\n"
"                         e.g. RTMP + HTTP); announced as 'also listening on HOST:N'\n"
"  --pull URL             be an edge: relay rtmp://HOST:PORT/APP/STREAM from its origin\n"
"                         into APP/STREAM here (up to %d; not with --workers); when\n"
"                         the origin is lost it pulls again every 100 ms while the\n"
"                         local stream stays published, so players here keep playing\n"
"  --quiet                no per-connection log lines on stderr\n"
"  --http-flv-port N      also serve every stream as HTTP-FLV: GET /APP/NAME.flv on\n"
"                         port N (0 picks one); announced as 'http-flv listening on ...'\n"
"  --help                 this text\n"
"\n"
"Fault switches:\n"
"  --no-reuseaddr         do not set SO_REUSEADDR (the Red5 bug): a restart fails with\n"
"                         'bind() to HOST:PORT failed (98: Address already in use)'\n"
"                         and exit 1 while old connections are in FIN_WAIT2/TIME_WAIT\n"
"  --extra-no-reuseaddr   open the --extra-port listener without SO_REUSEADDR: after a\n"
"                         restart with old connections there, its bind() fails with\n"
"                         EADDRINUSE, which is logged, and the server goes on serving\n"
"                         the first port only (a secondary listener that silently\n"
"                         does not come back)\n"
"  --no-repull            with --pull: once the origin is lost, never pull again (the\n"
"                         edge that shows the stream but never gets frames again)\n"
"  --workers N            fork N workers (1..%d) that serve the inherited listening\n"
"                         socket while the master only waits; workers outlive a\n"
"                         SIGKILLed master (no PDEATHSIG), SIGTERM to the master stops\n"
"                         them and exits\n"
"  --reject-publish [CODE] answer every publish with onStatus level error, code CODE\n"
"                         (default NetStream.Publish.BadName)\n"
"  --stale-stream D       model a server that keeps stale publishers: for D after the\n"
"                         process starts listening every publish is refused with\n"
"                         NetStream.Publish.BadName \"Stream already publishing\" (it\n"
"                         believes the publisher from before the restart is there), and\n"
"                         a publisher that disconnects abruptly (no deleteStream or\n"
"                         FCUnpublish) keeps its name busy for D more\n"
"  --http-flv-stall       HTTP-FLV requests get 200 and the FLV header, then nothing\n"
"                         (a server whose HTTP-FLV output is dead while RTMP works)\n"
"  --start-delay D        wait D before listening\n"
"  --crash-after N        abort() as soon as the Nth connection has been accepted\n"
"  --hang-after N         once the Nth connection has been accepted, stop reading and\n"
"                         accepting but keep every socket open, until killed\n"
"  --chunk-size N         write with chunk size N (128..%u, default %u) and announce it\n"
"                         with Set Chunk Size after connect; 128, the protocol's\n"
"                         default, is never announced: a client that kept an earlier\n"
"                         server's chunk size across a reconnect then misreads this one\n"
"Reload (SIGHUP), as nginx's master: with --workers it forks a new set of workers\n"
"on the same listening socket and sends SIGQUIT to the old ones, which stop\n"
"accepting, call themselves \"worker process is shutting down\", and exit when\n"
"their last connection is gone or --drain-timeout has passed (then closing the\n"
"rest). Without --workers SIGHUP changes nothing. SIGQUIT alone: the same drain.\n"
"  --drain-timeout D      how long a shutting-down worker keeps its connections\n"
"                         (default 1s)\n"
"  --never-drain          the reload bug (nginx-rtmp#580): shutting-down workers\n"
"                         keep serving their connections forever\n"
"Durations: 250ms, 2s, 1m, or plain seconds. With --workers, counts are per worker.\n",
          MAX_PULLS, MAX_WORKERS, MAX_OUT_CHUNK, RB_REFSERVER_OUT_CHUNK_SIZE);
}

/* Options. */

static bool host_is_numeric(const char *host);

static bool parse_long(const char *text, long lo, long hi, long *out)
{
  char *end;
  long v;

  errno = 0;
  v = strtol(text, &end, 10);
  if(errno || end == text || *end || v < lo || v > hi)
    return false;
  *out = v;
  return true;
}

enum {
  OPT_QUIET = 256, OPT_NO_REUSEADDR, OPT_REJECT_PUBLISH, OPT_HOST, OPT_PORT, OPT_WORKERS,
  OPT_STALE_STREAM, OPT_START_DELAY, OPT_CRASH_AFTER, OPT_HANG_AFTER, OPT_EXTRA_PORT, OPT_EXTRA_NO_REUSEADDR,
  OPT_PULL, OPT_NO_REPULL, OPT_CHUNK_SIZE, OPT_DRAIN_TIMEOUT, OPT_NEVER_DRAIN, OPT_HTTP_FLV_PORT, OPT_HTTP_FLV_STALL
};

static const struct option long_options[] = {
  { "help", no_argument, NULL, 'h' },
  { "quiet", no_argument, NULL, OPT_QUIET },
  { "no-reuseaddr", no_argument, NULL, OPT_NO_REUSEADDR },
  { "reject-publish", optional_argument, NULL, OPT_REJECT_PUBLISH },
  { "host", required_argument, NULL, OPT_HOST },
  { "port", required_argument, NULL, OPT_PORT },
  { "workers", required_argument, NULL, OPT_WORKERS },
  { "stale-stream", required_argument, NULL, OPT_STALE_STREAM },
  { "start-delay", required_argument, NULL, OPT_START_DELAY },
  { "crash-after", required_argument, NULL, OPT_CRASH_AFTER },
  { "hang-after", required_argument, NULL, OPT_HANG_AFTER },
  { "extra-port", required_argument, NULL, OPT_EXTRA_PORT },
  { "extra-no-reuseaddr", no_argument, NULL, OPT_EXTRA_NO_REUSEADDR },
  { "pull", required_argument, NULL, OPT_PULL },
  { "no-repull", no_argument, NULL, OPT_NO_REPULL },
  { "chunk-size", required_argument, NULL, OPT_CHUNK_SIZE },
  { "drain-timeout", required_argument, NULL, OPT_DRAIN_TIMEOUT },
  { "never-drain", no_argument, NULL, OPT_NEVER_DRAIN },
  { "http-flv-port", required_argument, NULL, OPT_HTTP_FLV_PORT },
  { "http-flv-stall", no_argument, NULL, OPT_HTTP_FLV_STALL },
  { NULL, 0, NULL, 0 },
};

/* --reject-publish [CODE]: the code may also be the next word (not an option). */
static const char *reject_code(int argc, char **argv)
{
  if(optarg)
    return optarg;
  if(optind < argc && strncmp(argv[optind], "--", 2) != 0)
    return argv[optind++];
  return "NetStream.Publish.BadName";
}

static rb_err take_value(int c, const char *name, const char *val, struct options *opt, char *msg, size_t msglen)
{
  long v;

  switch(c) {
  case OPT_HOST: opt->host = val; break;
  case OPT_PORT:
  case OPT_HTTP_FLV_PORT:
    if(!parse_long(val, 0, 65535, &v))
      return rb_fail(msg, msglen, RB_ERR_USAGE, "%s %s: not a port (0..65535)", name, val);
    *(c == OPT_PORT ? &opt->port : &opt->http_flv_port) = (int)v;
    break;
  case OPT_WORKERS:
    if(!parse_long(val, 1, MAX_WORKERS, &v))
      return rb_fail(msg, msglen, RB_ERR_USAGE, "--workers %s: not in 1..%d", val, MAX_WORKERS);
    opt->workers = (int)v;
    break;
  case OPT_EXTRA_PORT:
    if(!parse_long(val, 1, 65535, &v))
      return rb_fail(msg, msglen, RB_ERR_USAGE, "--extra-port %s: not a port (1..65535)", val);
    opt->extra_port = (int)v;
    break;
  case OPT_PULL:
    if(opt->npulls == MAX_PULLS)
      return rb_fail(msg, msglen, RB_ERR_USAGE, "more than %d --pull", MAX_PULLS);
    opt->pulls[opt->npulls++] = val;
    break;
  case OPT_STALE_STREAM:
  case OPT_START_DELAY:
  case OPT_DRAIN_TIMEOUT:
    if(!rb_duration_parse(val, c == OPT_STALE_STREAM ? &opt->stale_ns
                               : c == OPT_START_DELAY ? &opt->start_delay_ns : &opt->drain_timeout_ns))
      return rb_fail(msg, msglen, RB_ERR_USAGE, "%s %s: not a duration", name, val);
    break;
  case OPT_CHUNK_SIZE:
    if(!parse_long(val, RB_REFSERVER_DEFAULT_CHUNK_SIZE, MAX_OUT_CHUNK, &opt->chunk_size))
      return rb_fail(msg, msglen, RB_ERR_USAGE, "--chunk-size %s: not in %u..%u", val,
                     RB_REFSERVER_DEFAULT_CHUNK_SIZE, MAX_OUT_CHUNK);
    break;
  default:
    if(!parse_long(val, 1, LONG_MAX, c == OPT_CRASH_AFTER ? &opt->crash_after : &opt->hang_after))
      return rb_fail(msg, msglen, RB_ERR_USAGE, "%s %s: not a positive count", name, val);
    break;
  }
  return RB_OK;
}

static rb_err parse_options(int argc, char **argv, struct options *opt, bool *help,
                            char *msg, size_t msglen)
{
  int c, index;
  rb_err err;

  *opt = (struct options){ .host = "127.0.0.1", .port = 1935, .reuseaddr = true, .extra_reuseaddr = true,
                           .repull = true, .drain_timeout_ns = RB_NS_PER_S, .http_flv_port = -1, .http_fd = -1 };
  *help = false;
  optind = 1;
  opterr = 0; /* one line in this program's format instead of getopt's */
  /* "+": no permutation -- measure_title_room() relies on argv's original order */
  while((c = getopt_long(argc, argv, "+:h", long_options, &index)) != -1) {
    if(c == '?')
      return rb_fail(msg, msglen, RB_ERR_USAGE, "unknown argument '%s'", argv[optind - 1]);
    if(c == ':')
      return rb_fail(msg, msglen, RB_ERR_USAGE, "%s needs a value", argv[optind - 1]);
    if(c == 'h')
      *help = true;
    else if(c == OPT_QUIET)
      opt->quiet = true;
    else if(c == OPT_NEVER_DRAIN)
      opt->never_drain = true;
    else if(c == OPT_NO_REUSEADDR)
      opt->reuseaddr = false;
    else if(c == OPT_EXTRA_NO_REUSEADDR)
      opt->extra_reuseaddr = false;
    else if(c == OPT_NO_REPULL)
      opt->repull = false;
    else if(c == OPT_HTTP_FLV_STALL)
      opt->http_flv_stall = true;
    else if(c == OPT_REJECT_PUBLISH)
      opt->reject_publish_code = reject_code(argc, argv);
    else {
      char name[32];

      snprintf(name, sizeof(name), "--%s", long_options[index].name);
      if((err = take_value(c, name, optarg, opt, msg, msglen)))
        return err;
    }
  }
  if(optind < argc)
    return rb_fail(msg, msglen, RB_ERR_USAGE, "unknown argument '%s'", argv[optind]);
  if(opt->npulls && opt->workers)
    return rb_fail(msg, msglen, RB_ERR_USAGE, "--pull and --workers do not go together");
  if(!host_is_numeric(opt->host))
    return rb_fail(msg, msglen, RB_ERR_USAGE, "--host %s: not a numeric IPv4 or IPv6 address",
                   opt->host);
  return RB_OK;
}

/* Listening. */

union sockaddr_any {
  struct sockaddr sa;
  struct sockaddr_in in4;
  struct sockaddr_in6 in6;
};

static bool parse_host(const char *host, int port, union sockaddr_any *sa, socklen_t *len)
{
  memset(sa, 0, sizeof(*sa));
  if(inet_pton(AF_INET, host, &sa->in4.sin_addr) == 1) {
    sa->in4.sin_family = AF_INET;
    sa->in4.sin_port = htons((uint16_t)port);
    *len = sizeof(sa->in4);
    return true;
  }
  if(inet_pton(AF_INET6, host, &sa->in6.sin6_addr) == 1) {
    sa->in6.sin6_family = AF_INET6;
    sa->in6.sin6_port = htons((uint16_t)port);
    *len = sizeof(sa->in6);
    return true;
  }
  return false;
}

static bool host_is_numeric(const char *host)
{
  union sockaddr_any sa;
  socklen_t len;

  return parse_host(host, 0, &sa, &len);
}

/* HOST:PORT as nginx prints it: IPv6 in brackets. */
static void format_endpoint(const char *host, int port, char *buf, size_t len)
{
  snprintf(buf, len, strchr(host, ':') ? "[%s]:%d" : "%s:%d", host, port);
}

/* Returns the exit code on failure (1), 0 on success. */
static int open_listener(const char *host, int port, bool reuseaddr, int *fd_out, int *port_out,
                         int64_t *listen_ns)
{
  union sockaddr_any sa;
  socklen_t salen;
  int fd = -1, one = 1, rc = 1;
  char where[96];

  parse_host(host, port, &sa, &salen);
  format_endpoint(host, port, where, sizeof(where));
  fd = socket(sa.sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if(fd < 0) {
    fprintf(stderr, "socket() failed (%d: %s)\n", errno, strerror(errno));
    goto out;
  }
  if(reuseaddr && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0) {
    fprintf(stderr, "setsockopt(SO_REUSEADDR) failed (%d: %s)\n", errno, strerror(errno));
    goto out;
  }
  if(sa.sa.sa_family == AF_INET6)
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
  if(bind(fd, &sa.sa, salen) < 0) {
    fprintf(stderr, "bind() to %s failed (%d: %s)\n", where, errno, strerror(errno));
    goto out;
  }
  if(listen(fd, 1024) < 0) {
    fprintf(stderr, "listen() on %s failed (%d: %s)\n", where, errno, strerror(errno));
    goto out;
  }
  *listen_ns = rb_clock_now();
  salen = sizeof(sa);
  if(getsockname(fd, &sa.sa, &salen) < 0) {
    fprintf(stderr, "getsockname() failed (%d: %s)\n", errno, strerror(errno));
    goto out;
  }
  *port_out = ntohs(sa.sa.sa_family == AF_INET6 ? sa.in6.sin6_port : sa.in4.sin_port);
  *fd_out = fd;
  fd = -1;
  rc = 0;
out:
  if(fd >= 0)
    close(fd);
  return rc;
}

/* Hundreds of holders need more descriptors than the usual soft limit of 1024. */
static size_t raise_fd_limit(void)
{
  struct rlimit rl;

  if(getrlimit(RLIMIT_NOFILE, &rl) < 0)
    return 1000;
  if(rl.rlim_cur < rl.rlim_max && rl.rlim_cur < 65536) {
    rl.rlim_cur = rl.rlim_max < 65536 ? rl.rlim_max : 65536;
    setrlimit(RLIMIT_NOFILE, &rl);
    getrlimit(RLIMIT_NOFILE, &rl);
  }
  return rl.rlim_cur > 64 ? (size_t)rl.rlim_cur - 32 : 32;
}

/* Faults. */

/* Alive, holding every socket, answering nothing: the default SIGTERM/SIGINT
   actions end it. */
static void hang_forever(void)
{
  sigset_t none;

  signal(SIGTERM, SIG_DFL);
  signal(SIGINT, SIG_DFL);
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  for(;;)
    pause();
}

static void count_accept(struct loop *l)
{
  l->accepted++;
  if(l->opt->crash_after && l->accepted >= l->opt->crash_after) {
    log_line(l->opt, "--crash-after %ld reached: abort()", l->opt->crash_after);
    fflush(stderr);
    abort();
  }
  if(l->opt->hang_after && l->accepted >= l->opt->hang_after) {
    log_line(l->opt, "--hang-after %ld reached: hanging until killed", l->opt->hang_after);
    fflush(stderr);
    hang_forever();
  }
}

/* Event loop. */

static void set_events(struct loop *l, struct loop_conn *lc, uint32_t events)
{
  struct epoll_event ev = { .events = events, .data.ptr = lc };

  if(lc->events == events)
    return;
  if(epoll_ctl(l->epfd, EPOLL_CTL_MOD, lc->fd, &ev) == 0)
    lc->events = events;
}

static void close_conn(struct loop *l, struct loop_conn *lc)
{
  log_line(l->opt, "conn %llu closed: %s", (unsigned long long)rb_refserver_conn_id(lc->rc),
           rb_refserver_conn_close_reason(lc->rc));
  rb_refserver_conn_free(l->srv, lc->rc);
  close(lc->fd); /* also removes it from the epoll set: workers never share conn fds */
  if(lc->prev)
    lc->prev->next = lc->next;
  else
    l->conns = lc->next;
  if(lc->next)
    lc->next->prev = lc->prev;
  free(lc);
}

static void flush_conn(struct loop *l, struct loop_conn *lc)
{
  struct rb_refserver_buf *out = rb_refserver_conn_output(lc->rc);

  while(rb_refserver_buf_pending(out) > 0) {
    ssize_t n = send(lc->fd, out->data + out->off, rb_refserver_buf_pending(out), MSG_NOSIGNAL);

    if(n > 0) {
      rb_refserver_buf_consume(out, (size_t)n);
      continue;
    }
    if(n < 0 && errno == EINTR)
      continue;
    if(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
      break;
    rb_refserver_conn_close(l->srv, lc->rc, n < 0 ? strerror(errno) : "send returned 0");
    return;
  }
  set_events(l, lc, EPOLLIN | (rb_refserver_buf_pending(out) ? EPOLLOUT : 0));
}

static void drain_pending(struct loop *l)
{
  struct rb_refserver_conn *rc;

  while((rc = rb_refserver_next_pending(l->srv))) {
    struct loop_conn *lc = rb_refserver_conn_user(rc);

    if(rb_refserver_conn_closing(rc))
      close_conn(l, lc);
    else
      flush_conn(l, lc);
  }
}

static void format_peer(const union sockaddr_any *sa, char *buf, size_t len)
{
  char ip[INET6_ADDRSTRLEN] = "?";

  if(sa->sa.sa_family == AF_INET6) {
    inet_ntop(AF_INET6, &sa->in6.sin6_addr, ip, sizeof(ip));
    snprintf(buf, len, "[%s]:%d", ip, ntohs(sa->in6.sin6_port));
  } else {
    inet_ntop(AF_INET, &sa->in4.sin_addr, ip, sizeof(ip));
    snprintf(buf, len, "%s:%d", ip, ntohs(sa->in4.sin_port));
  }
}

static void add_conn(struct loop *l, int fd, const union sockaddr_any *sa, bool http)
{
  struct loop_conn *lc = calloc(1, sizeof(*lc));
  struct epoll_event ev = { .events = EPOLLIN };
  char peer[64];
  int one = 1;

  format_peer(sa, peer, sizeof(peer));
  if(lc)
    lc->rc = http ? rb_refserver_conn_new_http(l->srv, peer, lc) : rb_refserver_conn_new(l->srv, peer, lc);
  ev.data.ptr = lc;
  if(!lc || !lc->rc || epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
    log_line(l->opt, "dropping %s: out of memory", peer);
    if(lc && lc->rc)
      rb_refserver_conn_free(l->srv, lc->rc);
    free(lc);
    close(fd);
    return;
  }
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  lc->fd = fd;
  lc->events = EPOLLIN;
  lc->next = l->conns;
  if(l->conns)
    l->conns->prev = lc;
  l->conns = lc;
  log_line(l->opt, "conn %llu %s accepted", (unsigned long long)rb_refserver_conn_id(lc->rc), peer);
}

/* Out of descriptors: free the spare, accept and close one peer so the backlog
   does not spin the loop, and take the spare back. */
static void shed_one(struct loop *l, int listen_fd)
{
  int fd;

  if(l->spare_fd >= 0)
    close(l->spare_fd);
  fd = accept(listen_fd, NULL, NULL);
  if(fd >= 0)
    close(fd);
  l->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  log_line(l->opt, "out of file descriptors: refused a connection");
}

static void accept_ready(struct loop *l, int listen_fd)
{
  for(int i = 0; i < 64; i++) {
    union sockaddr_any sa;
    socklen_t salen = sizeof(sa);
    int fd = accept4(listen_fd, &sa.sa, &salen, SOCK_NONBLOCK | SOCK_CLOEXEC);

    if(fd < 0) {
      if(errno == EMFILE || errno == ENFILE)
        shed_one(l, listen_fd);
      return; /* EAGAIN (another worker took it), or a transient error */
    }
    count_accept(l);
    if(rb_refserver_conn_count(l->srv) >= l->max_conns) {
      log_line(l->opt, "connection limit %zu reached: refused a connection", l->max_conns);
      close(fd);
      continue;
    }
    add_conn(l, fd, &sa, listen_fd == l->http_fd);
  }
}

static void read_conn(struct loop *l, struct loop_conn *lc)
{
  uint8_t buf[READ_CHUNK];
  ssize_t n;

  if(rb_refserver_conn_closing(lc->rc))
    return;
  n = recv(lc->fd, buf, sizeof(buf), 0);
  if(n > 0)
    rb_refserver_conn_input(l->srv, lc->rc, buf, (size_t)n);
  else if(n == 0)
    rb_refserver_conn_close(l->srv, lc->rc, "peer closed");
  else if(errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
    rb_refserver_conn_close(l->srv, lc->rc, strerror(errno));
}

/* SIGQUIT (the master's reload, or a graceful stop): accept nothing more, say so in
   the process title as nginx does, and keep the connections until they end or
   --drain-timeout passes; --never-drain keeps them forever (nginx-rtmp#580). */
static void start_drain(struct loop *l)
{
  l->draining = true;
  l->drain_until = rb_clock_deadline(l->opt->drain_timeout_ns);
  epoll_ctl(l->epfd, EPOLL_CTL_DEL, l->listen_fd, NULL);
  if(l->extra_fd >= 0)
    epoll_ctl(l->epfd, EPOLL_CTL_DEL, l->extra_fd, NULL);
  set_title("refserver-drain", DRAINING_TITLE);
  log_line(l->opt, "SIGQUIT: shutting down, %zu connection(s) left%s", rb_refserver_conn_count(l->srv),
           l->opt->never_drain ? ", kept forever (--never-drain)" : "");
}

static int run_loop(struct loop *l)
{
  struct epoll_event evs[256];
  struct epoll_event lev = { .events = EPOLLIN, .data.ptr = NULL };
  struct epoll_event hev = { .events = EPOLLIN, .data.ptr = &l->http_fd }; /* marks the HTTP-FLV listener */
  int rc = 0;

  l->epfd = epoll_create1(EPOLL_CLOEXEC);
  /* several workers on one socket: wake one of them per connection */
  if(l->opt->workers) {
    lev.events |= EPOLLEXCLUSIVE;
    hev.events |= EPOLLEXCLUSIVE;
  }
  if(l->epfd < 0 || epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->listen_fd, &lev) < 0 ||
     (l->http_fd >= 0 && epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->http_fd, &hev) < 0) ||
     (l->extra_fd >= 0 && (lev.data.ptr = &l->extra_tag, epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->extra_fd, &lev) < 0))) {
    fprintf(stderr, "refserver: epoll setup failed (%d: %s)\n", errno, strerror(errno));
    return 1;
  }
  while(!stop_signal) {
    int timeout = -1, n;

    if(drain_requested && !l->draining)
      start_drain(l);
    if(reload_requested) {
      reload_requested = 0;
      log_line(l->opt, "SIGHUP: nothing to reload without --workers");
    }
    if(l->draining && !l->opt->never_drain) {
      if(!rb_refserver_conn_count(l->srv))
        break;
      if(rb_clock_now() >= l->drain_until) {
        log_line(l->opt, "drain timeout: closing %zu connection(s)", rb_refserver_conn_count(l->srv));
        break;
      }
      timeout = rb_clock_ms_left(l->drain_until);
      timeout = timeout > 0 ? timeout : 1;
    }
    n = epoll_pwait(l->epfd, evs, 256, timeout, &l->wait_mask);

    if(n < 0) {
      if(errno == EINTR)
        continue;
      fprintf(stderr, "refserver: epoll_wait failed (%d: %s)\n", errno, strerror(errno));
      rc = 1;
      break;
    }
    for(int i = 0; i < n; i++) {
      struct loop_conn *lc = evs[i].data.ptr;

      if(!lc || lc == &l->extra_tag || evs[i].data.ptr == &l->http_fd) {
        accept_ready(l, !lc ? l->listen_fd : lc == &l->extra_tag ? l->extra_fd : l->http_fd);
        continue;
      }
      if(evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
        read_conn(l, lc);
      if((evs[i].events & EPOLLOUT) && !rb_refserver_conn_closing(lc->rc))
        flush_conn(l, lc);
    }
    drain_pending(l);
  }
  if(stop_signal)
    log_line(l->opt, "signal %d: shutting down", (int)stop_signal);
  return rc;
}

static void free_loop(struct loop *l)
{
  while(l->conns) {
    rb_refserver_conn_close(l->srv, l->conns->rc, "server shutting down");
    close_conn(l, l->conns);
  }
  drain_pending(l);
  rb_refserver_free(l->srv);
  l->srv = NULL;
  if(l->epfd >= 0)
    close(l->epfd);
  if(l->spare_fd >= 0)
    close(l->spare_fd);
}

static int serve(const struct options *opt, int listen_fd, int extra_fd, int64_t listen_ns,
                 const sigset_t *wait_mask)
{
  struct rb_refserver_config cfg = {
    .http_flv_stall = opt->http_flv_stall,
    .reject_publish_code = opt->reject_publish_code,
    .stale_ns = opt->stale_ns,
    .stale_all_until = opt->stale_ns ? listen_ns + opt->stale_ns : 0,
    .out_chunk_size = (uint32_t)opt->chunk_size,
    .log = opt->quiet ? NULL : stderr,
  };
  struct loop l = { .opt = opt, .epfd = -1, .listen_fd = listen_fd, .extra_fd = extra_fd, .http_fd = opt->http_fd,
                    .wait_mask = *wait_mask };
  int rc;

  l.max_conns = raise_fd_limit();
  l.spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  l.srv = rb_refserver_new(&cfg);
  if(!l.srv) {
    fprintf(stderr, "refserver: out of memory\n");
    return 1;
  }
  rc = run_loop(&l);
  free_loop(&l);
  return rc;
}

/* Workers. */

/* Shown by ps and /proc/PID/cmdline, as nginx does: overwrite the argv area. */
static void set_title(const char *name, const char *title)
{
  size_t len = strlen(title);

  prctl(PR_SET_NAME, name, 0, 0, 0);
  if(!saved_argv || !saved_argv[0] || title_room < sizeof(WORKER_TITLE) - 1)
    return;
  memset(saved_argv[0], 0, title_room);
  memcpy(saved_argv[0], title, len < title_room ? len : title_room); /* a long title is cut, as nginx's */
}

/* The argv area (contiguous strings from argv[0]), measured once before any title. */
static size_t measure_title_room(char **argv)
{
  char *end = argv[0];

  for(int i = 0; argv[i]; i++)
    if(argv[i] == end || argv[i] == end + 1)
      end = argv[i] + strlen(argv[i]);
  return (size_t)(end - argv[0]);
}

static void stop_workers(const struct options *opt, pid_t *pids, int n)
{
  int64_t deadline = rb_clock_deadline(5 * RB_NS_PER_S);

  for(int i = 0; i < n; i++)
    if(pids[i] > 0)
      kill(pids[i], SIGTERM);
  for(;;) {
    int left = 0;

    for(int i = 0; i < n; i++) {
      if(pids[i] > 0 && waitpid(pids[i], NULL, WNOHANG) != 0)
        pids[i] = 0; /* reaped now, or already (ECHILD) */
      left += pids[i] > 0;
    }
    if(left == 0)
      return;
    if(rb_clock_now() > deadline)
      break;
    rb_clock_sleep(10 * RB_NS_PER_MS);
  }
  log_line(opt, "workers ignored SIGTERM for 5s: SIGKILL");
  for(int i = 0; i < n; i++)
    if(pids[i] > 0)
      kill(pids[i], SIGKILL), waitpid(pids[i], NULL, 0), pids[i] = 0;
}

/* Reap exited workers; returns true if any of them failed. */
static bool reap_workers(const struct options *opt, pid_t *pids, int n, int *alive)
{
  int status;
  bool failed = false;
  pid_t pid;

  while((pid = waitpid(-1, &status, WNOHANG)) > 0) {
    for(int i = 0; i < n; i++)
      if(pids[i] == pid)
        pids[i] = 0, (*alive)--;
    if(WIFSIGNALED(status)) {
      log_line(opt, "worker %d killed by signal %d", (int)pid, WTERMSIG(status));
      failed = true;
    } else {
      log_line(opt, "worker %d exited with status %d", (int)pid, WEXITSTATUS(status));
      failed |= WEXITSTATUS(status) != 0;
    }
  }
  return failed;
}

/* Like nginx's master: fork the workers, keep its own copy of the listening
   socket, wait. A dead worker is logged and not replaced. */
/* Fork one set of workers into free slots of pids; false when a fork failed. */
static bool start_workers(const struct options *opt, int listen_fd, int extra_fd, int64_t listen_ns,
                          const sigset_t *wait_mask, pid_t *pids, int *alive)
{
  for(int i = 0, slot = 0; i < opt->workers; i++) {
    pid_t pid;

    while(slot < MAX_CHILDREN && pids[slot])
      slot++;
    if(slot == MAX_CHILDREN) {
      log_line(opt, "too many workers still shutting down: no new worker started");
      return false;
    }
    if((pid = fork()) < 0) {
      fprintf(stderr, "refserver: fork failed (%d: %s)\n", errno, strerror(errno));
      return false;
    }
    if(pid == 0) {
      struct sigaction sa = { .sa_handler = on_drain };

      signal(SIGCHLD, SIG_DFL);
      signal(SIGHUP, SIG_IGN); /* the master's to handle */
      sigaction(SIGQUIT, &sa, NULL);
      set_title("refserver-wrk", WORKER_TITLE);
      _exit(serve(opt, listen_fd, extra_fd, listen_ns, wait_mask));
    }
    pids[slot] = pid;
    (*alive)++;
    log_line(opt, "worker %d started", (int)pid);
  }
  return true;
}

/* SIGHUP, as nginx's master: a new set of workers on the same listening socket (the
   port never stops listening), then SIGQUIT to the old ones so they drain. */
static void reload_workers(const struct options *opt, int listen_fd, int extra_fd, int64_t listen_ns,
                           const sigset_t *wait_mask, pid_t *pids, int *alive)
{
  pid_t old[MAX_CHILDREN];

  memcpy(old, pids, sizeof(old));
  log_line(opt, "SIGHUP: reloading, %d old worker(s)", *alive);
  if(!start_workers(opt, listen_fd, extra_fd, listen_ns, wait_mask, pids, alive))
    return; /* the old ones go on serving: better than nothing */
  for(int i = 0; i < MAX_CHILDREN; i++)
    if(old[i] > 0)
      kill(old[i], SIGQUIT);
}

static int run_master(const struct options *opt, int listen_fd, int extra_fd, int64_t listen_ns,
                      const sigset_t *wait_mask)
{
  pid_t pids[MAX_CHILDREN] = { 0 };
  int alive = 0;
  bool failed = false;

  if(!start_workers(opt, listen_fd, extra_fd, listen_ns, wait_mask, pids, &alive)) {
    failed = true;
    stop_signal = SIGTERM;
  }
  while(alive > 0 && !stop_signal) {
    sigsuspend(wait_mask);
    if(child_exited) {
      child_exited = 0;
      failed |= reap_workers(opt, pids, MAX_CHILDREN, &alive);
    }
    if(reload_requested) {
      reload_requested = 0;
      reload_workers(opt, listen_fd, extra_fd, listen_ns, wait_mask, pids, &alive);
    }
    if(drain_requested) /* SIGQUIT to the master: stop */
      stop_signal = SIGQUIT;
  }
  if(alive > 0)
    log_line(opt, "stopping %d worker(s)", alive);
  stop_workers(opt, pids, MAX_CHILDREN);
  return failed && !stop_signal ? 1 : 0;
}

/* Stop signals are blocked except inside epoll_pwait/sigsuspend (wait_mask), so a
   signal arriving between the flag check and the wait is not lost. */
static void install_signal_handlers(sigset_t *wait_mask)
{
  struct sigaction sa = { .sa_handler = on_stop_signal };
  sigset_t block;

  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  sa.sa_handler = on_child;
  sigaction(SIGCHLD, &sa, NULL);
  sa.sa_handler = on_reload;
  sigaction(SIGHUP, &sa, NULL);
  sa.sa_handler = on_drain; /* alone, as nginx's QUIT: a graceful stop */
  sigaction(SIGQUIT, &sa, NULL);
  sigemptyset(&block);
  sigaddset(&block, SIGTERM);
  sigaddset(&block, SIGINT);
  sigaddset(&block, SIGCHLD);
  sigaddset(&block, SIGHUP);
  sigaddset(&block, SIGQUIT);
  sigprocmask(SIG_BLOCK, &block, wait_mask);
  sigdelset(wait_mask, SIGTERM);
  sigdelset(wait_mask, SIGINT);
  sigdelset(wait_mask, SIGCHLD);
  sigdelset(wait_mask, SIGHUP);
  sigdelset(wait_mask, SIGQUIT);
}

int main(int argc, char **argv)
{
  struct options opt;
  bool help;
  char msg[256], where[96];
  int listen_fd = -1, extra_fd = -1, http_fd = -1, port = 0, extra_port = 0, http_port = 0, rc;
  int64_t listen_ns = 0, http_ns = 0;
  sigset_t wait_mask;

  saved_argv = argv;
  title_room = argv[0] ? measure_title_room(argv) : 0;
  signal(SIGPIPE, SIG_IGN);
  if(parse_options(argc, argv, &opt, &help, msg, sizeof(msg))) {
    fprintf(stderr, "rebound-refserver: %s (see --help)\n", msg);
    return 2;
  }
  if(help) {
    usage(stdout);
    return 0;
  }
  /* Before the handlers: a SIGTERM during the delay just ends the process. */
  if(opt.start_delay_ns > 0)
    rb_clock_sleep(opt.start_delay_ns);
  install_signal_handlers(&wait_mask);
  rc = open_listener(opt.host, opt.port, opt.reuseaddr, &listen_fd, &port, &listen_ns);
  if(!rc && opt.http_flv_port >= 0)
    rc = open_listener(opt.host, opt.http_flv_port, opt.reuseaddr, &http_fd, &http_port, &http_ns);
  if(rc) {
    if(listen_fd >= 0)
      close(listen_fd);
    return rc;
  }
  format_endpoint(opt.host, port, where, sizeof(where));
  printf("listening on %s monotonic_ns=%lld\n", where, (long long)listen_ns);
  if(http_fd >= 0) {
    format_endpoint(opt.host, http_port, where, sizeof(where));
    printf("http-flv listening on %s monotonic_ns=%lld\n", where, (long long)http_ns);
  }
  opt.http_fd = http_fd;
  if(opt.extra_port) {
    int64_t extra_ns;

    /* a failed second listener is logged (by open_listener) and lived without */
    if(open_listener(opt.host, opt.extra_port, opt.extra_reuseaddr, &extra_fd, &extra_port, &extra_ns) == 0) {
      format_endpoint(opt.host, extra_port, where, sizeof(where));
      printf("also listening on %s\n", where);
    }
    else
      fprintf(stderr, "refserver: serving without port %d\n", opt.extra_port);
  }
  fflush(stdout);
  format_endpoint(opt.host, port, where, sizeof(where));
  for(int i = 0; i < opt.npulls; i++)
    if(rb_refserver_pull_start(opt.pulls[i], where, opt.repull, opt.quiet, msg, sizeof(msg))) {
      fprintf(stderr, "rebound-refserver: %s\n", msg);
      close(listen_fd);
      if(http_fd >= 0)
        close(http_fd);
      if(extra_fd >= 0)
        close(extra_fd);
      return 2;
    }
  if(opt.workers)
    rc = run_master(&opt, listen_fd, extra_fd, listen_ns, &wait_mask);
  else
    rc = serve(&opt, listen_fd, extra_fd, listen_ns, &wait_mask);
  close(listen_fd);
  if(extra_fd >= 0)
    close(extra_fd);
  if(http_fd >= 0)
    close(http_fd);
  return rc;
}
