/* Unit tests for ports: the list (first port kept first, no duplicates, bounded),
   discovery of this process's listeners, and holders that the server accept()s. */
#include <arpa/inet.h>
#include <stdio.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rb_test.h"
#include "rebound/clock.h"
#include "rebound/ports.h"
#include "rebound/sockdiag.h"

static int listen_any(uint16_t *port)
{
  struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
  socklen_t len = sizeof(sa);
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

  if(fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 16) ||
     getsockname(fd, (struct sockaddr *)&sa, &len)) {
    if(fd >= 0)
      close(fd);
    return -1;
  }
  *port = ntohs(sa.sin_port);
  return fd;
}

static void test_list(void)
{
  struct rb_ports p;

  rb_ports_init(&p, 1935);
  CU_ASSERT_EQUAL(p.n, 1);
  CU_ASSERT(rb_ports_add(&p, 8080));
  CU_ASSERT(rb_ports_add(&p, 1935)); /* already there */
  CU_ASSERT(rb_ports_add(&p, 0));    /* nothing */
  CU_ASSERT_EQUAL(p.n, 2);
  CU_ASSERT_EQUAL(p.port[0], 1935);
  CU_ASSERT_EQUAL(rb_ports_index(&p, 8080), 1);
  CU_ASSERT_EQUAL(rb_ports_index(&p, 9), -1);
  for(uint16_t i = 0; p.n < RB_MAX_PORTS; i++)
    CU_ASSERT(rb_ports_add(&p, (uint16_t)(9000 + i)));
  CU_ASSERT_FALSE(rb_ports_add(&p, 7000));
  CU_ASSERT_EQUAL(p.n, RB_MAX_PORTS);
  rb_ports_init(&p, 0);
  CU_ASSERT_EQUAL(p.n, 0);
}

/* Discovery adds this process's listeners after the first port, ascending; the
   holders connect to every port but the first and are accepted before it returns. */
static void test_discover_and_hold(void)
{
  uint16_t first = 0, a = 0, b = 0;
  int f0 = listen_any(&first), fa = listen_any(&a), fb = listen_any(&b), conn[4], nconn = 0;
  pid_t me = getpid();
  struct rb_ports p;
  struct rb_port_snapshot snap;
  size_t dropped = 9;
  char msg[256] = "";

  CU_ASSERT_FATAL(f0 >= 0 && fa >= 0 && fb >= 0);
  rb_ports_init(&p, first);
  CU_ASSERT_EQUAL(rb_ports_discover(&p, &me, 1, &dropped, msg, sizeof(msg)), RB_OK);
  CU_ASSERT_EQUAL(dropped, 0);
  CU_ASSERT_EQUAL(p.port[0], first);
  CU_ASSERT(rb_ports_index(&p, a) > 0);
  CU_ASSERT(rb_ports_index(&p, b) > 0);
  for(size_t i = 2; i < p.n; i++)
    CU_ASSERT(p.port[i - 1] < p.port[i]);
  /* only our three listeners on the list: keep the holders test to them */
  rb_ports_init(&p, first);
  rb_ports_add(&p, a);
  /* nobody accepts yet: the wait ends at the deadline, not a failure */
  CU_ASSERT_EQUAL(rb_ports_hold(&p, "127.0.0.1", 2, rb_clock_deadline(50 * RB_NS_PER_MS), msg, sizeof(msg)),
                  RB_OK);
  CU_ASSERT(p.hold_fd[1][0] >= 0 && p.hold_fd[1][1] >= 0);
  CU_ASSERT(p.hold_fd[0][0] < 0); /* the first port has the fleet's holders */
  CU_ASSERT(rb_sockdiag_snapshot(a, false, &snap, msg, sizeof(msg)) == RB_OK && snap.accepted == 0);
  while(nconn < 2 && (conn[nconn] = accept(fa, NULL, NULL)) >= 0)
    nconn++;
  CU_ASSERT(rb_sockdiag_snapshot(a, false, &snap, msg, sizeof(msg)) == RB_OK && snap.accepted == 2);
  /* holding again keeps the open ones */
  CU_ASSERT_EQUAL(rb_ports_hold(&p, "127.0.0.1", 2, rb_clock_deadline(RB_NS_PER_S), msg, sizeof(msg)), RB_OK);
  rb_ports_release(&p);
  CU_ASSERT(p.hold_fd[1][0] < 0 && p.hold_fd[1][1] < 0);
  rb_ports_release(&p);
  /* a port nobody listens on: a clear error */
  close(fb);
  rb_ports_init(&p, first);
  rb_ports_add(&p, b);
  CU_ASSERT_EQUAL(rb_ports_hold(&p, "127.0.0.1", 1, rb_clock_deadline(RB_NS_PER_S), msg, sizeof(msg)),
                  RB_ERR_REFUSED);
  CU_ASSERT_PTR_NOT_NULL(strstr(msg, "refused"));
  if(!strstr(msg, "refused"))
    fprintf(stderr, "hold: %s\n", msg);
  rb_ports_release(&p);
  for(int i = 0; i < nconn; i++)
    close(conn[i]);
  close(f0);
  close(fa);
}

/* Only ports the target was told about are judged: a random internal port is not. */
static void test_named(void)
{
  static const char *const texts[] = { "exec srv --port 1935 --extra-port 8080", "listen 127.0.0.1:9443;" };
  struct rb_ports p;

  CU_ASSERT(rb_ports_named_in("--port 8080", 8080));
  CU_ASSERT(rb_ports_named_in("listen 127.0.0.1:8080;", 8080));
  CU_ASSERT(rb_ports_named_in("8080", 8080));
  CU_ASSERT_FALSE(rb_ports_named_in("--port 18080", 8080));
  CU_ASSERT_FALSE(rb_ports_named_in("--port 80801", 8080));
  CU_ASSERT_FALSE(rb_ports_named_in("", 8080));
  CU_ASSERT_FALSE(rb_ports_named_in(NULL, 8080));
  CU_ASSERT(rb_ports_named_in("a 180801 b 8080", 8080)); /* the second occurrence counts */
  rb_ports_init(&p, 1935);
  rb_ports_add(&p, 41000); /* a backend on port 0: named nowhere */
  rb_ports_add(&p, 8080);
  rb_ports_add(&p, 9443);
  rb_ports_keep_named(&p, texts, 2);
  CU_ASSERT_EQUAL(p.n, 3);
  CU_ASSERT_EQUAL(p.port[0], 1935);
  CU_ASSERT_EQUAL(p.port[1], 8080);
  CU_ASSERT_EQUAL(p.port[2], 9443);
  /* the first port stays even when nothing names it */
  rb_ports_keep_named(&p, NULL, 0);
  CU_ASSERT_EQUAL(p.n, 1);
  CU_ASSERT_EQUAL(p.port[0], 1935);
}

int main(void)
{
  static const struct rb_test_case cases[] = {
    RB_TEST(test_list),
    RB_TEST(test_discover_and_hold),
    RB_TEST(test_named),
    RB_TEST_END
  };

  return rb_test_main("ports", cases);
}
