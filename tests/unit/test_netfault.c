/* Unit tests of netfault: the value parser, the per-connection state machine,
   and the proxy itself over real loopback sockets. */
#include "rebound/netfault.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "rb_test.h"
#include "rebound/client.h"
#include "rebound/clock.h"
#include "rebound/media.h"
#include "rebound/net.h"
#include "rebound/probe.h"

#define WAIT_NS (5 * RB_NS_PER_S)

static void test_parse(void)
{
  struct rb_netfault_spec s;
  char why[200];

  CU_ASSERT_TRUE(rb_netfault_parse("blackhole", &s, why, sizeof(why)));
  CU_ASSERT_EQUAL(s.kind, RB_NETFAULT_BLACKHOLE);
  CU_ASSERT_TRUE(rb_netfault_parse("reset", &s, why, sizeof(why)));
  CU_ASSERT_EQUAL(s.kind, RB_NETFAULT_RESET);
  CU_ASSERT_TRUE(rb_netfault_parse("latency:20ms", &s, why, sizeof(why)));
  CU_ASSERT_EQUAL(s.kind, RB_NETFAULT_LATENCY);
  CU_ASSERT_EQUAL(s.ns, 20 * RB_NS_PER_MS);
  CU_ASSERT_TRUE(rb_netfault_parse("partition:2s", &s, why, sizeof(why)));
  CU_ASSERT_EQUAL(s.kind, RB_NETFAULT_PARTITION);
  CU_ASSERT_EQUAL(s.ns, 2 * RB_NS_PER_S);
  CU_ASSERT_TRUE(rb_netfault_parse("bandwidth:500k", &s, why, sizeof(why)));
  CU_ASSERT_EQUAL(s.rate, 500000);
  CU_ASSERT_TRUE(rb_netfault_parse("bandwidth:2MB/s", &s, why, sizeof(why)));
  CU_ASSERT_EQUAL(s.rate, 2000000);
  CU_ASSERT_FALSE(rb_netfault_parse("blackhole:1s", &s, why, sizeof(why)));
  CU_ASSERT_FALSE(rb_netfault_parse("latency", &s, why, sizeof(why)));
  CU_ASSERT_FALSE(rb_netfault_parse("latency:0", &s, why, sizeof(why)));
  CU_ASSERT_FALSE(rb_netfault_parse("bandwidth:fast", &s, why, sizeof(why)));
  CU_ASSERT_FALSE(rb_netfault_parse("bandwidth:0", &s, why, sizeof(why)));
  CU_ASSERT_FALSE(rb_netfault_parse("wifi", &s, why, sizeof(why)));
  CU_ASSERT_PTR_NOT_NULL(strstr(why, "expected blackhole"));
  CU_ASSERT_STRING_EQUAL(rb_netfault_name(RB_NETFAULT_PARTITION), "partition");
}

static void test_state_machine(void)
{
  struct rb_nf_step st;

  /* faults */
  st = rb_netfault_step(RB_NF_FORWARD, RB_NF_EV_BLACKHOLE, 0, 0, false);
  CU_ASSERT_EQUAL(st.next, RB_NF_BLACKHOLE);
  CU_ASSERT_FALSE(st.rst || st.close || st.close_server);
  st = rb_netfault_step(RB_NF_FORWARD, RB_NF_EV_RESET, 0, 0, false);
  CU_ASSERT_EQUAL(st.next, RB_NF_CLOSED);
  CU_ASSERT_TRUE(st.rst);
  st = rb_netfault_step(RB_NF_FORWARD, RB_NF_EV_PARTITION, 0, 100, false);
  CU_ASSERT_EQUAL(st.next, RB_NF_PARTITION);
  /* a partition heals at heal_at, not before */
  st = rb_netfault_step(RB_NF_PARTITION, RB_NF_EV_TICK, 99, 100, false);
  CU_ASSERT_EQUAL(st.next, RB_NF_PARTITION);
  st = rb_netfault_step(RB_NF_PARTITION, RB_NF_EV_TICK, 100, 100, false);
  CU_ASSERT_EQUAL(st.next, RB_NF_FORWARD);
  CU_ASSERT_FALSE(st.close);
  /* a blackhole never heals by itself */
  st = rb_netfault_step(RB_NF_BLACKHOLE, RB_NF_EV_TICK, INT64_MAX, 0, false);
  CU_ASSERT_EQUAL(st.next, RB_NF_BLACKHOLE);
  /* the server gives up on a dead connection: only its side goes, and it counts */
  st = rb_netfault_step(RB_NF_BLACKHOLE, RB_NF_EV_SERVER_EOF, 0, 0, false);
  CU_ASSERT_EQUAL(st.next, RB_NF_BLACKHOLE);
  CU_ASSERT_TRUE(st.server_dropped);
  CU_ASSERT_TRUE(st.close_server);
  CU_ASSERT_FALSE(st.close || st.rst);
  st = rb_netfault_step(RB_NF_BLACKHOLE, RB_NF_EV_SERVER_EOF, 0, 0, true);
  CU_ASSERT_FALSE(st.server_dropped); /* counted once */
  /* ... and a partition that heals after that passes the close on */
  st = rb_netfault_step(RB_NF_PARTITION, RB_NF_EV_TICK, 200, 100, true);
  CU_ASSERT_EQUAL(st.next, RB_NF_CLOSED);
  CU_ASSERT_TRUE(st.close);
  /* the client's end is not heard through a dead network */
  st = rb_netfault_step(RB_NF_BLACKHOLE, RB_NF_EV_CLIENT_EOF, 0, 0, false);
  CU_ASSERT_EQUAL(st.next, RB_NF_BLACKHOLE);
  CU_ASSERT_FALSE(st.close || st.rst);
  /* healthy: an end is passed on */
  st = rb_netfault_step(RB_NF_FORWARD, RB_NF_EV_SERVER_EOF, 0, 0, false);
  CU_ASSERT_EQUAL(st.next, RB_NF_CLOSED);
  CU_ASSERT_TRUE(st.close);
  CU_ASSERT_FALSE(st.server_dropped);
  st = rb_netfault_step(RB_NF_FORWARD, RB_NF_EV_CLIENT_EOF, 0, 0, false);
  CU_ASSERT_TRUE(st.close);
  /* cleanup resets dead connections only */
  st = rb_netfault_step(RB_NF_FORWARD, RB_NF_EV_CLEANUP, 0, 0, false);
  CU_ASSERT_EQUAL(st.next, RB_NF_FORWARD);
  st = rb_netfault_step(RB_NF_BLACKHOLE, RB_NF_EV_CLEANUP, 0, 0, false);
  CU_ASSERT_EQUAL(st.next, RB_NF_CLOSED);
  CU_ASSERT_TRUE(st.rst);
  /* closed stays closed */
  st = rb_netfault_step(RB_NF_CLOSED, RB_NF_EV_BLACKHOLE, 0, 0, false);
  CU_ASSERT_EQUAL(st.next, RB_NF_CLOSED);
}

/* ---- the proxy over sockets ---------------------------------------------- */

struct rig {
  int lfd;              /* the "server" listener */
  uint16_t server_port;
  struct rb_netfault *proxy;
};

static void rig_up(struct rig *r)
{
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
  socklen_t len = sizeof(a);
  char msg[200];

  r->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  CU_ASSERT_FATAL(r->lfd >= 0 && bind(r->lfd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
                  listen(r->lfd, 16) == 0 && getsockname(r->lfd, (struct sockaddr *)&a, &len) == 0);
  r->server_port = ntohs(a.sin_port);
  CU_ASSERT_EQUAL_FATAL(rb_netfault_start(&r->proxy, "127.0.0.1", r->server_port, msg, sizeof(msg)),
                        RB_OK);
}

static void rig_down(struct rig *r)
{
  rb_netfault_stop(r->proxy);
  close(r->lfd);
}

/* A client through the proxy and the server's end of it. */
static void connect_pair(struct rig *r, int *client, int *server, uint16_t *client_port)
{
  struct sockaddr_in a;
  socklen_t len = sizeof(a);
  char msg[200];

  CU_ASSERT_EQUAL_FATAL(rb_net_connect("127.0.0.1", rb_netfault_port(r->proxy),
                                       rb_clock_deadline(WAIT_NS), NULL, client, msg, sizeof(msg)),
                        RB_OK);
  rb_net_set_blocking(*client, true);
  *server = accept4(r->lfd, NULL, NULL, SOCK_CLOEXEC); /* the proxy connects at once */
  CU_ASSERT_FATAL(*server >= 0);
  getsockname(*client, (struct sockaddr *)&a, &len);
  *client_port = ntohs(a.sin_port);
}

/* Wait up to ns for fd to become readable; then recv. Returns recv's result
   (errno in *err), or -2 when nothing came. */
static ssize_t recv_within(int fd, char *buf, size_t n, int64_t ns, int *err)
{
  struct pollfd p = { fd, POLLIN, 0 };
  ssize_t got;

  *err = 0;
  if(poll(&p, 1, (int)(ns / RB_NS_PER_MS)) <= 0)
    return -2;
  got = recv(fd, buf, n, MSG_DONTWAIT);
  if(got < 0)
    *err = errno;
  return got;
}

static void check_flows(int from, int to)
{
  char b[8];
  int err;

  CU_ASSERT_EQUAL(send(from, "ping", 4, MSG_NOSIGNAL), 4);
  CU_ASSERT_EQUAL(recv_within(to, b, sizeof(b), WAIT_NS, &err), 4);
  CU_ASSERT_EQUAL(memcmp(b, "ping", 4), 0);
}

/* 1 MB from one end to the other, whole and in order. */
static void check_bulk(int from, int to)
{
  static uint8_t out[1 << 20], in[sizeof(out)];
  size_t sent = 0, got = 0;
  int64_t deadline = rb_clock_deadline(20 * RB_NS_PER_S);

  for(size_t i = 0; i < sizeof(out); i++)
    out[i] = (uint8_t)(i * 13 + (i >> 12));
  while(got < sizeof(in) && rb_clock_now() < deadline) {
    struct pollfd p[2] = { { from, sent < sizeof(out) ? POLLOUT : 0, 0 }, { to, POLLIN, 0 } };
    ssize_t n;

    if(poll(p, 2, 1000) <= 0)
      break;
    if((p[0].revents & POLLOUT) && (n = send(from, out + sent, sizeof(out) - sent, MSG_NOSIGNAL | MSG_DONTWAIT)) > 0)
      sent += (size_t)n;
    if((p[1].revents & POLLIN) && (n = recv(to, in + got, sizeof(in) - got, MSG_DONTWAIT)) > 0)
      got += (size_t)n;
  }
  CU_ASSERT_EQUAL(got, sizeof(in));
  CU_ASSERT_EQUAL(memcmp(in, out, sizeof(out)), 0);
}

static void test_proxy_forwards(void)
{
  struct rig r;
  int c, s;
  uint16_t cp;
  struct rb_netfault_stats st;

  rig_up(&r);
  connect_pair(&r, &c, &s, &cp);
  check_flows(c, s);
  check_flows(s, c);
  check_bulk(c, s); /* more than the proxy's buffer of a direction, each way */
  check_bulk(s, c);
  rb_netfault_stats(r.proxy, &st);
  CU_ASSERT_EQUAL(st.accepted, 1);
  close(c);
  close(s);
  rig_down(&r);
}

static void test_proxy_blackhole(void)
{
  struct rig r;
  struct rb_netfault_spec bh = { .kind = RB_NETFAULT_BLACKHOLE };
  struct rb_netfault_stats st;
  int c, s, err;
  uint16_t cp;
  char b[8];
  int64_t deadline;

  rig_up(&r);
  connect_pair(&r, &c, &s, &cp);
  check_flows(c, s);
  CU_ASSERT_EQUAL(rb_netfault_apply(r.proxy, &bh, NULL, 0), 1);
  /* nothing passes either way, and neither side hears an end */
  CU_ASSERT_EQUAL(send(c, "lost", 4, MSG_NOSIGNAL), 4);
  CU_ASSERT_EQUAL(send(s, "lost", 4, MSG_NOSIGNAL), 4);
  CU_ASSERT_EQUAL(recv_within(s, b, sizeof(b), 300 * RB_NS_PER_MS, &err), -2);
  CU_ASSERT_EQUAL(recv_within(c, b, sizeof(b), 300 * RB_NS_PER_MS, &err), -2);
  /* the server gives up on its side: the proxy sees it, the client still hears nothing */
  close(s);
  deadline = rb_clock_deadline(WAIT_NS);
  do {
    rb_netfault_stats(r.proxy, &st);
    if(!st.server_dropped)
      rb_clock_sleep(RB_NS_PER_MS);
  } while(!st.server_dropped && rb_clock_now() < deadline);
  CU_ASSERT_EQUAL(st.faulted, 1);
  CU_ASSERT_EQUAL(st.server_dropped, 1);
  CU_ASSERT(st.first_drop_at > 0);
  CU_ASSERT_EQUAL(recv_within(c, b, sizeof(b), 200 * RB_NS_PER_MS, &err), -2);
  /* the end of the cycle resets what is left */
  rb_netfault_cleanup(r.proxy);
  CU_ASSERT(recv_within(c, b, sizeof(b), WAIT_NS, &err) == -1 && err == ECONNRESET);
  close(c);
  rig_down(&r);
}

static void test_proxy_reset(void)
{
  struct rig r;
  struct rb_netfault_spec rst = { .kind = RB_NETFAULT_RESET };
  int c, s, err;
  uint16_t cp;
  char b[8];

  rig_up(&r);
  connect_pair(&r, &c, &s, &cp);
  check_flows(c, s);
  CU_ASSERT_EQUAL(rb_netfault_apply(r.proxy, &rst, NULL, 0), 1);
  CU_ASSERT(recv_within(c, b, sizeof(b), WAIT_NS, &err) == -1 && err == ECONNRESET);
  CU_ASSERT(recv_within(s, b, sizeof(b), WAIT_NS, &err) == -1 && err == ECONNRESET);
  close(c);
  close(s);
  rig_down(&r);
}

static void test_proxy_partition_heals(void)
{
  struct rig r;
  struct rb_netfault_spec part = { .kind = RB_NETFAULT_PARTITION, .ns = 300 * RB_NS_PER_MS };
  int c, s, err;
  uint16_t cp;
  char b[8];
  int64_t t0;

  rig_up(&r);
  connect_pair(&r, &c, &s, &cp);
  t0 = rb_clock_now();
  CU_ASSERT_EQUAL(rb_netfault_apply(r.proxy, &part, NULL, 0), 1);
  CU_ASSERT_EQUAL(send(c, "held", 4, MSG_NOSIGNAL), 4);
  /* held during the partition, delivered after it */
  CU_ASSERT_EQUAL(recv_within(s, b, sizeof(b), WAIT_NS, &err), 4);
  CU_ASSERT(rb_clock_now() - t0 >= 300 * RB_NS_PER_MS);
  check_flows(s, c);
  close(c);
  close(s);
  rig_down(&r);
}

static void test_proxy_selects_clients(void)
{
  struct rig r;
  struct rb_netfault_spec bh = { .kind = RB_NETFAULT_BLACKHOLE };
  int c1, s1, c2, s2, err;
  uint16_t p1, p2;
  char b[8];

  rig_up(&r);
  connect_pair(&r, &c1, &s1, &p1);
  connect_pair(&r, &c2, &s2, &p2);
  CU_ASSERT_EQUAL(rb_netfault_apply(r.proxy, &bh, &p2, 1), 1);
  check_flows(c1, s1); /* the other client is not hit */
  CU_ASSERT_EQUAL(send(c2, "lost", 4, MSG_NOSIGNAL), 4);
  CU_ASSERT_EQUAL(recv_within(s2, b, sizeof(b), 300 * RB_NS_PER_MS, &err), -2);
  close(c1), close(s1), close(c2), close(s2);
  rig_down(&r);
}

static void test_proxy_latency_and_refusal(void)
{
  char msg[200];
  struct rig r;
  int c, s, err;
  uint16_t cp;
  char b[8];
  int64_t t0;
  struct rb_netfault_stats st;
  int64_t deadline;

  rig_up(&r);
  rb_netfault_shape(r.proxy, 100 * RB_NS_PER_MS, 0);
  connect_pair(&r, &c, &s, &cp);
  t0 = rb_clock_now();
  CU_ASSERT_EQUAL(send(c, "slow", 4, MSG_NOSIGNAL), 4);
  CU_ASSERT_EQUAL(recv_within(s, b, sizeof(b), WAIT_NS, &err), 4);
  CU_ASSERT(rb_clock_now() - t0 >= 100 * RB_NS_PER_MS);
  close(c);
  close(s);
  /* a server that is not there: the client is reset, the proxy counts it */
  close(r.lfd);
  r.lfd = -1;
  /* (the reset may come so fast that it is what the client's connect reports) */
  if(rb_net_connect("127.0.0.1", rb_netfault_port(r.proxy), rb_clock_deadline(WAIT_NS), NULL, &c, msg,
                    sizeof(msg)) == RB_OK) {
    CU_ASSERT(recv_within(c, b, sizeof(b), WAIT_NS, &err) == -1 && err == ECONNRESET);
    close(c);
  } else {
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, "reset"));
  }
  deadline = rb_clock_deadline(WAIT_NS);
  for(rb_netfault_stats(r.proxy, &st); !st.refused && rb_clock_now() < deadline; rb_netfault_stats(r.proxy, &st))
    rb_clock_sleep(RB_NS_PER_MS);
  CU_ASSERT_EQUAL(st.refused, 1);
  rb_netfault_stop(r.proxy);
}

/* bandwidth:RATE holds a direction to RATE bytes per second (after a 50 ms burst). */
static void test_proxy_bandwidth(void)
{
  static uint8_t out[100000], in[sizeof(out)];
  struct rig r;
  int c, s;
  uint16_t cp;
  size_t got = 0;
  int64_t t0, deadline;

  for(size_t i = 0; i < sizeof(out); i++)
    out[i] = (uint8_t)(i * 31 + 7);
  rig_up(&r);
  rb_netfault_shape(r.proxy, 0, 200000);
  connect_pair(&r, &c, &s, &cp);
  t0 = rb_clock_now();
  CU_ASSERT_EQUAL(send(c, out, sizeof(out), MSG_NOSIGNAL), (ssize_t)sizeof(out));
  deadline = rb_clock_deadline(20 * RB_NS_PER_S);
  while(got < sizeof(in) && rb_clock_now() < deadline) {
    int err;
    ssize_t n = recv_within(s, (char *)in + got, sizeof(in) - got, RB_NS_PER_S, &err);

    if(n > 0)
      got += (size_t)n;
    else if(n != -2)
      break;
  }
  if(got != sizeof(in))
    fprintf(stderr, "(got %zu of %zu in %.0f ms) ", got, sizeof(in), rb_clock_ms(t0, rb_clock_now()));
  CU_ASSERT_EQUAL(got, sizeof(in));
  CU_ASSERT_EQUAL(memcmp(in, out, sizeof(out)), 0);
  /* 90 kB beyond the burst at 200 kB/s: at least 0.45 s */
  CU_ASSERT(rb_clock_now() - t0 >= 400 * RB_NS_PER_MS);
  close(c);
  close(s);
  rig_down(&r);
}

/* ---- rebound's own client through a blackhole ------------------------------ */

/* rebound-refserver on a free port, and a proxy in front of it. */
static pid_t start_refserver(uint16_t *port)
{
  static const char refserver[] = REBOUND_BINARY_DIR "/rebound-refserver";
  char port_arg[16], msg[200];
  struct rb_ready ready = { .kind = RB_READY_LISTEN };
  pid_t pid;

  CU_ASSERT_EQUAL_FATAL(rb_probe_free_port(port, msg, sizeof(msg)), RB_OK);
  snprintf(port_arg, sizeof(port_arg), "%u", *port);
  pid = fork();
  CU_ASSERT_FATAL(pid >= 0);
  if(pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the test */
    execl(refserver, refserver, "--port", port_arg, "--quiet", (char *)NULL);
    _exit(127);
  }
  ready.port = *port;
  CU_ASSERT_EQUAL_FATAL(rb_probe_wait(&ready, rb_clock_deadline(WAIT_NS), NULL, NULL, NULL, msg, sizeof(msg)),
                        RB_OK);
  return pid;
}

static struct rb_client *client_through(struct rb_netfault *p, int64_t step_ns)
{
  char url[128], msg[256];
  struct rb_client_opts o = { .url = url, .step_timeout_ns = step_ns };
  struct rb_client *c = NULL;

  snprintf(url, sizeof(url), "rtmp://127.0.0.1:%u/live", rb_netfault_port(p));
  CU_ASSERT_EQUAL_FATAL(rb_client_create(&c, &o, msg, sizeof(msg)), RB_OK);
  CU_ASSERT_EQUAL_FATAL(rb_client_connect(c, msg, sizeof(msg)), RB_OK);
  return c;
}

/* Every step of rebound's client ends at its deadline with a reason when its
   connection is blackholed: the "client hangs forever on a dead server" mode. */
static void test_client_survives_blackhole(void)
{
  struct rb_netfault_spec bh = { .kind = RB_NETFAULT_BLACKHOLE };
  struct rb_netfault *p;
  struct rb_client *pub, *play, *fresh;
  struct rb_media_source *src = NULL;
  struct rb_media_frame f;
  char msg[256] = "";
  uint16_t port;
  pid_t server = start_refserver(&port);
  bool is_video;
  rb_err err = RB_OK;
  int64_t t0, limit;

  CU_ASSERT_EQUAL_FATAL(rb_netfault_start(&p, "127.0.0.1", port, msg, sizeof(msg)), RB_OK);
  pub = client_through(p, RB_NS_PER_S);
  CU_ASSERT_EQUAL_FATAL(rb_client_publish(pub, "s", msg, sizeof(msg)), RB_OK);
  play = client_through(p, RB_NS_PER_S);
  fresh = client_through(p, RB_NS_PER_S); /* connected, not yet publishing */
  CU_ASSERT_EQUAL_FATAL(rb_client_play(play, "s", msg, sizeof(msg)), RB_OK);
  CU_ASSERT_EQUAL(rb_netfault_apply(p, &bh, NULL, 0), 3);
  /* a command step: no answer ever comes */
  t0 = rb_clock_now();
  err = rb_client_publish(fresh, "t", msg, sizeof(msg));
  CU_ASSERT_EQUAL(err, RB_ERR_TIMEOUT);
  CU_ASSERT_PTR_NOT_NULL(strstr(msg, "timed out"));
  CU_ASSERT(rb_clock_now() - t0 >= RB_NS_PER_S && rb_clock_now() - t0 < 10 * RB_NS_PER_S);
  /* a player: nothing arrives */
  t0 = rb_clock_now();
  /* (what was already in its buffer before the fault, |RtmpSampleAccess, comes first) */
  for(int i = 0; i < 8 && !(err = rb_client_read(play, &f, rb_clock_deadline(RB_NS_PER_S), msg, sizeof(msg))); i++)
    ;
  CU_ASSERT_EQUAL(err, RB_ERR_TIMEOUT);
  CU_ASSERT(msg[0] != '\0');
  CU_ASSERT(rb_clock_now() - t0 < 10 * RB_NS_PER_S);
  /* a publisher: its writes block once the dead path's buffers are full, and the
     step deadline ends the write that blocks (bounded: 60 s of frames at most) */
  CU_ASSERT_EQUAL_FATAL(rb_media_source_open(&src, NULL, msg, sizeof(msg)), RB_OK);
  limit = rb_clock_deadline(60 * RB_NS_PER_S);
  err = RB_OK;
  for(uint64_t seq = 0; !err && rb_clock_now() < limit; seq++)
    if(!(err = rb_media_next(src, seq, rb_clock_now(), &f, &is_video, msg, sizeof(msg))))
      err = rb_client_write(pub, &f, msg, sizeof(msg));
  CU_ASSERT_EQUAL(err, RB_ERR_TIMEOUT);
  CU_ASSERT_PTR_NOT_NULL(strstr(msg, "timed out"));
  rb_media_source_close(src);
  rb_client_destroy(pub);
  rb_client_destroy(play);
  rb_client_destroy(fresh);
  rb_netfault_stop(p);
  kill(server, SIGKILL);
  waitpid(server, NULL, 0);
}

int main(void)
{
  static const struct rb_test_case cases[] = {
    RB_TEST(test_parse),
    RB_TEST(test_state_machine),
    RB_TEST(test_proxy_forwards),
    RB_TEST(test_proxy_blackhole),
    RB_TEST(test_proxy_reset),
    RB_TEST(test_proxy_partition_heals),
    RB_TEST(test_proxy_selects_clients),
    RB_TEST(test_proxy_latency_and_refusal),
    RB_TEST(test_proxy_bandwidth),
    RB_TEST(test_client_survives_blackhole),
    RB_TEST_END
  };

  return rb_test_main("netfault", cases);
}
