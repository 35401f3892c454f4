/* Unit tests of net: rb_net_connect against real loopback sockets. */
#include "rebound/net.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rb_test.h"
#include "rebound/clock.h"

/* A loopback socket bound to a free port; listening with backlog, or not at all
   (backlog < 0: the port is held, so a connect to it is refused). */
static int bound_socket(int backlog, uint16_t *port)
{
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
  socklen_t len = sizeof(a);
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

  CU_ASSERT_FATAL(fd >= 0);
  CU_ASSERT_FATAL(bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
  CU_ASSERT_FATAL(getsockname(fd, (struct sockaddr *)&a, &len) == 0);
  if(backlog >= 0)
    CU_ASSERT_FATAL(listen(fd, backlog) == 0);
  *port = ntohs(a.sin_port);
  return fd;
}

static void test_connects_to_a_listener(void)
{
  uint16_t port;
  int lfd = bound_socket(8, &port), fd = -1, peer;
  char msg[256] = "";
  struct sockaddr_in local, remote;
  socklen_t l1 = sizeof(local), l2 = sizeof(remote);

  CU_ASSERT_EQUAL(rb_net_connect("127.0.0.1", port, rb_clock_deadline(5 * RB_NS_PER_S), NULL, &fd,
                                 msg, sizeof(msg)), RB_OK);
  CU_ASSERT_FATAL(fd >= 0);
  peer = accept(lfd, NULL, NULL);
  CU_ASSERT(peer >= 0);
  /* really connected to that listener: our local end is its peer */
  CU_ASSERT_EQUAL(getsockname(fd, (struct sockaddr *)&local, &l1), 0);
  CU_ASSERT_EQUAL(getpeername(peer, (struct sockaddr *)&remote, &l2), 0);
  CU_ASSERT_EQUAL(local.sin_port, remote.sin_port);
  close(peer);
  close(fd);
  /* no host means 127.0.0.1; a name from /etc/hosts resolves too */
  CU_ASSERT_EQUAL(rb_net_connect(NULL, port, rb_clock_deadline(5 * RB_NS_PER_S), NULL, &fd, msg,
                                 sizeof(msg)), RB_OK);
  close(fd);
  CU_ASSERT_EQUAL(rb_net_connect("localhost", port, rb_clock_deadline(5 * RB_NS_PER_S), NULL, &fd,
                                 msg, sizeof(msg)), RB_OK);
  close(fd);
  close(lfd);
}

static void test_closed_port_is_refused(void)
{
  uint16_t port;
  int held = bound_socket(-1, &port), fd = 0;
  char msg[256] = "";

  CU_ASSERT_EQUAL(rb_net_connect("127.0.0.1", port, rb_clock_deadline(5 * RB_NS_PER_S), NULL, &fd,
                                 msg, sizeof(msg)), RB_ERR_REFUSED);
  CU_ASSERT_EQUAL(fd, -1);
  CU_ASSERT_PTR_NOT_NULL(strstr(msg, "connection refused"));
  CU_ASSERT_PTR_NOT_NULL(strstr(msg, "127.0.0.1 port"));
  close(held);
}

/* A listener whose accept queue is full drops further SYNs (Linux does so
   whatever tcp_syncookies says), so a connect to it stays pending: each fill
   connection is made and left unaccepted until one no longer gets in. */
struct full_listener {
  int lfd;
  uint16_t port;
  int fills[8];
  int n;
};

static void full_listener_open(struct full_listener *f)
{
  char msg[256];
  rb_err last = RB_OK;

  f->lfd = bound_socket(0, &f->port);
  for(f->n = 0; f->n < 8; f->n++)
    if((last = rb_net_connect("127.0.0.1", f->port, rb_clock_deadline(300 * RB_NS_PER_MS), NULL,
                              &f->fills[f->n], msg, sizeof(msg))))
      break;
  CU_ASSERT_EQUAL_FATAL(last, RB_ERR_TIMEOUT);
}

static void full_listener_close(struct full_listener *f)
{
  for(int i = 0; i < f->n; i++)
    close(f->fills[i]);
  close(f->lfd);
}

static void test_deadline_against_a_full_backlog(void)
{
  struct full_listener fl;
  int fd = 0;
  char msg[256] = "";
  int64_t t0;

  full_listener_open(&fl);
  t0 = rb_clock_now();
  CU_ASSERT_EQUAL(rb_net_connect("127.0.0.1", fl.port, t0 + 500 * RB_NS_PER_MS, NULL, &fd, msg,
                                 sizeof(msg)), RB_ERR_TIMEOUT);
  CU_ASSERT_EQUAL(fd, -1);
  CU_ASSERT(rb_clock_now() - t0 >= 500 * RB_NS_PER_MS); /* not before the deadline */
  CU_ASSERT(rb_clock_now() - t0 < 10 * RB_NS_PER_S);    /* and not never */
  CU_ASSERT_PTR_NOT_NULL(strstr(msg, "TCP connect timed out after 500ms"));
  full_listener_close(&fl);
}

static void *abort_later(void *arg)
{
  rb_clock_sleep(100 * RB_NS_PER_MS);
  atomic_store((atomic_bool *)arg, true);
  return NULL;
}

static void test_abort_flag(void)
{
  struct full_listener fl;
  int fd = 0;
  char msg[256] = "";
  atomic_bool stop;
  pthread_t t;
  int64_t t0;

  full_listener_open(&fl);
  /* already set: no wait at all */
  atomic_init(&stop, true);
  t0 = rb_clock_now();
  CU_ASSERT_EQUAL(rb_net_connect("127.0.0.1", fl.port, rb_clock_deadline(60 * RB_NS_PER_S), &stop,
                                 &fd, msg, sizeof(msg)), RB_ERR_INTERRUPTED);
  CU_ASSERT_PTR_NOT_NULL(strstr(msg, "aborted"));
  /* set while waiting: ends long before the 60 s deadline */
  atomic_store(&stop, false);
  CU_ASSERT_FATAL(pthread_create(&t, NULL, abort_later, &stop) == 0);
  CU_ASSERT_EQUAL(rb_net_connect("127.0.0.1", fl.port, rb_clock_deadline(60 * RB_NS_PER_S), &stop,
                                 &fd, msg, sizeof(msg)), RB_ERR_INTERRUPTED);
  CU_ASSERT_EQUAL(fd, -1);
  pthread_join(t, NULL);
  CU_ASSERT(rb_clock_now() - t0 < 30 * RB_NS_PER_S);
  full_listener_close(&fl);
}

static void test_blocking_switch(void)
{
  uint16_t port;
  int lfd = bound_socket(8, &port), fd;
  char msg[256];

  CU_ASSERT_EQUAL_FATAL(rb_net_connect("127.0.0.1", port, rb_clock_deadline(5 * RB_NS_PER_S), NULL,
                                       &fd, msg, sizeof(msg)), RB_OK);
  CU_ASSERT(fcntl(fd, F_GETFL) & O_NONBLOCK);
  CU_ASSERT_TRUE(rb_net_set_blocking(fd, true));
  CU_ASSERT_FALSE(fcntl(fd, F_GETFL) & O_NONBLOCK);
  CU_ASSERT_TRUE(rb_net_set_blocking(fd, false));
  CU_ASSERT(fcntl(fd, F_GETFL) & O_NONBLOCK);
  CU_ASSERT_FALSE(rb_net_set_blocking(-1, true));
  close(fd);
  close(lfd);
}

int main(void)
{
  static const struct rb_test_case cases[] = {
    RB_TEST(test_connects_to_a_listener),
    RB_TEST(test_closed_port_is_refused),
    RB_TEST(test_deadline_against_a_full_backlog),
    RB_TEST(test_abort_flag),
    RB_TEST(test_blocking_switch),
    RB_TEST_END
  };

  return rb_test_main("net", cases);
}
