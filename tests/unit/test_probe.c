/* Unit tests for probe: readiness of sockets that appear later (opened by a
   thread after a delay, observed by the wait), deadlines, early stop, HTTP status
   handling against a tiny in-test responder, free ports, parsing. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rb_test.h"
#include "rebound/clock.h"
#include "rebound/probe.h"

#define WAIT_NS (5 * RB_NS_PER_S)

static int listen_on(uint16_t port)
{
  struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
  int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

  if(fd < 0)
    return -1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 16) < 0) {
    close(fd);
    return -1;
  }
  return fd;
}

static uint16_t free_port(void)
{
  uint16_t port = 0;
  char msg[128];

  CU_ASSERT_EQUAL_FATAL(rb_probe_free_port(&port, msg, sizeof(msg)), RB_OK);
  return port;
}

/* ---- a listener that appears after a delay ---------------------------------- */

struct late_listener {
  uint16_t port;
  int64_t delay_ns;
  int fd;
  _Atomic int64_t listening_at;
};

static void *open_later(void *arg)
{
  struct late_listener *l = arg;

  rb_clock_sleep(l->delay_ns); /* the thing under test must observe this moment */
  l->fd = listen_on(l->port);
  atomic_store(&l->listening_at, rb_clock_now());
  return NULL;
}

static void wait_for_late_listener(enum rb_ready_kind kind)
{
  struct late_listener l = { .port = free_port(), .delay_ns = 50 * RB_NS_PER_MS, .fd = -1 };
  struct rb_ready r = { .kind = kind, .host = "127.0.0.1", .port = l.port };
  int64_t ready_at = 0, t0 = rb_clock_now();
  char msg[256] = "";
  pthread_t th;
  rb_err err;

  atomic_store(&l.listening_at, 0);
  CU_ASSERT_FATAL(pthread_create(&th, NULL, open_later, &l) == 0);
  err = rb_probe_wait(&r, rb_clock_deadline(WAIT_NS), NULL, NULL, &ready_at, msg, sizeof(msg));
  pthread_join(th, NULL);
  if(err)
    fprintf(stderr, "(%s) ", msg);
  CU_ASSERT_EQUAL(err, RB_OK);
  CU_ASSERT(l.fd >= 0);
  /* seen after it happened, and promptly */
  CU_ASSERT(ready_at >= atomic_load(&l.listening_at) && atomic_load(&l.listening_at) > 0);
  CU_ASSERT(ready_at - atomic_load(&l.listening_at) < RB_NS_PER_S);
  CU_ASSERT(ready_at - t0 >= l.delay_ns);
  if(l.fd >= 0)
    close(l.fd);
}

static void test_listen_ready_later(void)
{
  wait_for_late_listener(RB_READY_LISTEN);
}

static void test_tcp_ready_later(void)
{
  wait_for_late_listener(RB_READY_TCP);
}

static void expect_timeout(const struct rb_ready *r, int64_t timeout_ns)
{
  int64_t t0 = rb_clock_now(), took;
  char msg[256] = "";
  rb_err err = rb_probe_wait(r, t0 + timeout_ns, NULL, NULL, NULL, msg, sizeof(msg));

  took = rb_clock_now() - t0;
  CU_ASSERT_EQUAL(err, RB_ERR_TIMEOUT);
  CU_ASSERT(took >= timeout_ns);
  CU_ASSERT(took < timeout_ns + 500 * RB_NS_PER_MS);
  CU_ASSERT(msg[0] != '\0');
}

static void test_timeout_when_nothing_listens(void)
{
  struct rb_ready r = { .kind = RB_READY_LISTEN, .host = "127.0.0.1", .port = free_port() };
  char msg[256] = "";

  expect_timeout(&r, 200 * RB_NS_PER_MS);
  r.kind = RB_READY_TCP;
  expect_timeout(&r, 200 * RB_NS_PER_MS);
  CU_ASSERT_FALSE(rb_probe_listen_once(r.port));
  CU_ASSERT_EQUAL(rb_probe_tcp_once("127.0.0.1", r.port, rb_clock_deadline(WAIT_NS), msg, sizeof(msg)),
                  RB_ERR_REFUSED);
  CU_ASSERT_PTR_NOT_NULL(strstr(msg, "127.0.0.1"));
  /* a deadline in the past still makes one attempt, then reports the timeout */
  expect_timeout(&r, 0);
}

static int calls;

static bool stop_at_third_call(void *arg)
{
  (void)arg;
  return ++calls < 3;
}

static void test_keep_going_false_interrupts(void)
{
  struct rb_ready r = { .kind = RB_READY_LISTEN, .port = free_port() };
  int64_t t0 = rb_clock_now();
  char msg[256] = "";

  calls = 0;
  CU_ASSERT_EQUAL(rb_probe_wait(&r, rb_clock_deadline(WAIT_NS), stop_at_third_call, NULL, NULL, msg, sizeof(msg)),
                  RB_ERR_INTERRUPTED);
  CU_ASSERT_EQUAL(calls, 3);
  CU_ASSERT(rb_clock_now() - t0 < RB_NS_PER_S);
}

/* ---- a tiny HTTP responder ------------------------------------------------- */

struct responder {
  int fd;
  uint16_t port;
  int status;
  atomic_bool stop;
  atomic_int requests;
  pthread_t thread;
};

/* Read the request head, bounded, and answer with r->status. */
static void serve_one(struct responder *r, int conn)
{
  int64_t deadline = rb_clock_deadline(RB_NS_PER_S);
  char req[2048], resp[256];
  size_t len = 0;
  int n;

  while(len < sizeof(req) - 1) {
    struct pollfd p = { .fd = conn, .events = POLLIN };
    ssize_t got;

    if(poll(&p, 1, rb_clock_ms_left(deadline)) <= 0)
      return;
    got = recv(conn, req + len, sizeof(req) - 1 - len, 0);
    if(got <= 0)
      return;
    len += (size_t)got;
    req[len] = '\0';
    if(strstr(req, "\r\n\r\n"))
      break;
  }
  atomic_fetch_add(&r->requests, 1);
  n = snprintf(resp, sizeof(resp), "HTTP/1.1 %d Status\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
               r->status);
  if(send(conn, resp, (size_t)n, MSG_NOSIGNAL) < 0)
    return;
}

static void *respond(void *arg)
{
  struct responder *r = arg;

  while(!atomic_load(&r->stop)) {
    struct pollfd p = { .fd = r->fd, .events = POLLIN };
    int conn;

    if(poll(&p, 1, 20) <= 0)
      continue;
    conn = accept(r->fd, NULL, NULL);
    if(conn < 0)
      continue;
    serve_one(r, conn);
    close(conn);
  }
  return NULL;
}

static bool responder_start(struct responder *r, int status)
{
  memset(r, 0, sizeof(*r));
  r->port = free_port();
  r->status = status;
  atomic_store(&r->stop, false);
  atomic_store(&r->requests, 0);
  r->fd = listen_on(r->port);
  if(r->fd < 0)
    return false;
  if(pthread_create(&r->thread, NULL, respond, r) != 0) {
    close(r->fd);
    return false;
  }
  return true;
}

static void responder_stop(struct responder *r)
{
  atomic_store(&r->stop, true);
  pthread_join(r->thread, NULL);
  close(r->fd);
}

static void test_http_2xx_ready(void)
{
  struct responder resp;
  struct rb_ready r = { .kind = RB_READY_HTTP };
  char url[128], msg[256] = "";
  int64_t ready_at = 0;
  rb_err err;

  CU_ASSERT_FATAL(responder_start(&resp, 204));
  snprintf(url, sizeof(url), "http://127.0.0.1:%u/health", resp.port);
  r.http_url = url;
  err = rb_probe_wait(&r, rb_clock_deadline(WAIT_NS), NULL, NULL, &ready_at, msg, sizeof(msg));
  if(err)
    fprintf(stderr, "(%s) ", msg);
  CU_ASSERT_EQUAL(err, RB_OK);
  CU_ASSERT(ready_at > 0);
  CU_ASSERT_EQUAL(rb_probe_http_once(url, rb_clock_deadline(WAIT_NS), msg, sizeof(msg)), RB_OK);
  responder_stop(&resp);
  CU_ASSERT(atomic_load(&resp.requests) >= 2);
}

static void test_http_500_keeps_polling(void)
{
  struct responder resp;
  struct rb_ready r = { .kind = RB_READY_HTTP };
  char url[128], msg[256] = "";

  CU_ASSERT_FATAL(responder_start(&resp, 500));
  snprintf(url, sizeof(url), "http://127.0.0.1:%u/", resp.port);
  r.http_url = url;
  CU_ASSERT_EQUAL(rb_probe_http_once(url, rb_clock_deadline(WAIT_NS), msg, sizeof(msg)), RB_ERR_REJECTED);
  CU_ASSERT_PTR_NOT_NULL(strstr(msg, "500"));
  expect_timeout(&r, 300 * RB_NS_PER_MS);
  responder_stop(&resp);
  CU_ASSERT(atomic_load(&resp.requests) >= 3); /* the one above, then several polls */
}

static void test_http_refused(void)
{
  char url[128], msg[256] = "";

  snprintf(url, sizeof(url), "http://127.0.0.1:%u/", free_port());
  CU_ASSERT_EQUAL(rb_probe_http_once(url, rb_clock_deadline(WAIT_NS), msg, sizeof(msg)), RB_ERR_REFUSED);
  CU_ASSERT_NOT_EQUAL(rb_probe_http_once(NULL, rb_clock_deadline(WAIT_NS), msg, sizeof(msg)), RB_OK);
}

/* An RTMP probe against a closed port fails within the deadline. */
static void test_rtmp_not_ready(void)
{
  struct rb_ready r = { .kind = RB_READY_RTMP };
  char url[128];

  snprintf(url, sizeof(url), "rtmp://127.0.0.1:%u/live", free_port());
  r.url = url;
  expect_timeout(&r, 300 * RB_NS_PER_MS);
}

/* A real RTMP server that comes up: the probe sees a full handshake + connect. */
static void test_rtmp_ready(void)
{
  static const char refserver[] = REBOUND_BINARY_DIR "/rebound-refserver";
  struct rb_ready r = { .kind = RB_READY_RTMP };
  char url[128], port_arg[16], msg[256] = "";
  uint16_t port = free_port();
  int64_t ready_at = 0;
  pid_t server;
  rb_err err;

  if(access(refserver, X_OK) != 0) {
    CU_FAIL("rebound-refserver is not built next to the tests");
    return;
  }
  snprintf(port_arg, sizeof(port_arg), "%u", port);
  snprintf(url, sizeof(url), "rtmp://127.0.0.1:%u/live", port);
  r.url = url;
  server = fork();
  CU_ASSERT_FATAL(server >= 0);
  if(server == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the test */
    execl(refserver, refserver, "--port", port_arg, "--quiet", (char *)NULL);
    _exit(127);
  }
  err = rb_probe_wait(&r, rb_clock_deadline(WAIT_NS), NULL, NULL, &ready_at, msg, sizeof(msg));
  if(err)
    fprintf(stderr, "(%s) ", msg);
  CU_ASSERT_EQUAL(err, RB_OK);
  CU_ASSERT(ready_at > 0);
  kill(server, SIGKILL);
  waitpid(server, NULL, 0);
}

static void test_free_port(void)
{
  uint16_t a = free_port(), b = free_port();
  int fd;

  CU_ASSERT(a > 0 && b > 0);
  fd = listen_on(a);
  CU_ASSERT(fd >= 0); /* it really was free */
  if(fd >= 0)
    close(fd);
}

/* Auto ports stay out of the range the kernel gives outgoing connections, so no
   client of any process can be handed the port while the server is down. */
static void test_free_port_not_ephemeral(void)
{
  unsigned lo = 32768, hi = 60999;
  FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");

  if(f) {
    CU_ASSERT_EQUAL(fscanf(f, "%u %u", &lo, &hi), 2);
    fclose(f);
  }
  if(lo <= 16384 && hi >= 60000)
    return; /* no room outside the range: the kernel's choice is the fallback */
  for(int i = 0; i < 50; i++) {
    uint16_t p = free_port();

    CU_ASSERT(p < lo || p > hi);
  }
}

static void test_ready_parse(void)
{
  enum rb_ready_kind k = RB_READY_TCP;

  CU_ASSERT(rb_ready_parse("listen", &k) && k == RB_READY_LISTEN);
  CU_ASSERT(rb_ready_parse("tcp", &k) && k == RB_READY_TCP);
  CU_ASSERT(rb_ready_parse("rtmp", &k) && k == RB_READY_RTMP);
  CU_ASSERT(rb_ready_parse("http://127.0.0.1:8080/stat", &k) && k == RB_READY_HTTP);
  k = RB_READY_LISTEN;
  CU_ASSERT(rb_ready_parse("https://localhost/health", &k) && k == RB_READY_HTTP);
  CU_ASSERT_FALSE(rb_ready_parse("http://", &k));
  CU_ASSERT_FALSE(rb_ready_parse("", &k));
  CU_ASSERT_FALSE(rb_ready_parse(NULL, &k));
  CU_ASSERT_FALSE(rb_ready_parse("LISTEN", &k));
  CU_ASSERT_FALSE(rb_ready_parse("listen ", &k));
  CU_ASSERT_FALSE(rb_ready_parse("ftp://x", &k));
  CU_ASSERT(rb_ready_parse("tcp", NULL));
}

int main(void)
{
  static const struct rb_test_case cases[] = {
    RB_TEST(test_listen_ready_later),
    RB_TEST(test_tcp_ready_later),
    RB_TEST(test_timeout_when_nothing_listens),
    RB_TEST(test_keep_going_false_interrupts),
    RB_TEST(test_http_2xx_ready),
    RB_TEST(test_http_500_keeps_polling),
    RB_TEST(test_http_refused),
    RB_TEST(test_rtmp_not_ready),
    RB_TEST(test_rtmp_ready),
    RB_TEST(test_free_port),
    RB_TEST(test_free_port_not_ephemeral),
    RB_TEST(test_ready_parse),
    RB_TEST_END
  };

  return rb_test_main("probe", cases);
}
