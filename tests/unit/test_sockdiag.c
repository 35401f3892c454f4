/* Unit tests for sockdiag: /proc/net/tcp parsing, and live snapshots of real
   loopback sockets driven through LISTEN, ESTABLISHED, FIN_WAIT2 and TIME_WAIT. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rb_test.h"
#include "rebound/clock.h"
#include "rebound/sockdiag.h"

#define WAIT_NS (5 * RB_NS_PER_S)

/* Port 1935 = 0x078F. Lines 4 and 5 are other ports (a client's side of a
   connection to 1935, and another listener): they must be ignored. */
static const char proc_tcp[] =
  "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
  "   0: 0100007F:078F 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 11111 1 "
  "0000000000000000 100 0 0 10 0\n"
  "   1: 0100007F:078F 0100007F:D2F0 01 00000000:00000000 02:000AFC7E 00000000     0        0 22222 2 "
  "0000000000000000 20 4 30 10 -1\n"
  "   2: 0100007F:078F 0100007F:D2F2 06 00000000:00000000 03:00000F9E 00000000     0        0 0 3 "
  "0000000000000000\n"
  "   3: 0100007F:078F 0100007F:D2F4 05 00000000:00000000 00:00000000 00000000     0        0 0 1 "
  "0000000000000000 20 4 0 10 -1\n"
  "   4: 0100007F:D2F0 0100007F:078F 01 00000000:00000000 00:00000000 00000000     0        0 33333 1 "
  "0000000000000000 20 4 30 10 -1\n"
  "   5: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 44444 1 "
  "0000000000000000 100 0 0 10 0\n";

static const char proc_tcp6[] =
  "  sl  local_address                         remote_address                        st tx_queue rx_queue tr "
  "tm->when retrnsmt   uid  timeout inode\n"
  "   0: 00000000000000000000000000000000:078F 00000000000000000000000000000000:0000 0A 00000000:00000000 "
  "00:00000000 00000000     0        0 55555 1 0000000000000000 100 0 0 10 0\n"
  "   1: 00000000000000000000000001000000:078F 00000000000000000000000001000000:C350 08 00000000:00000000 "
  "00:00000000 00000000  1000        0 66666 1 0000000000000000 20 4 0 10 -1\n"
  "   2: 00000000000000000000000001000000:C350 00000000000000000000000001000000:078F 01 00000000:00000000 "
  "00:00000000 00000000  1000        0 77777 1 0000000000000000 20 4 0 10 -1\n";

static void test_state_names(void)
{
  CU_ASSERT_STRING_EQUAL(rb_tcp_state_name(RB_TCP_LISTEN), "LISTEN");
  CU_ASSERT_STRING_EQUAL(rb_tcp_state_name(RB_TCP_FIN_WAIT2), "FIN_WAIT2");
  CU_ASSERT_STRING_EQUAL(rb_tcp_state_name(RB_TCP_TIME_WAIT), "TIME_WAIT");
  CU_ASSERT_STRING_EQUAL(rb_tcp_state_name(RB_TCP_ESTABLISHED), "ESTABLISHED");
  CU_ASSERT_STRING_EQUAL(rb_tcp_state_name(RB_TCP_NEW_SYN_RECV), "NEW_SYN_RECV");
  CU_ASSERT_STRING_EQUAL(rb_tcp_state_name(0), "UNKNOWN");
  CU_ASSERT_STRING_EQUAL(rb_tcp_state_name(RB_TCP_STATE_MAX), "UNKNOWN");
  CU_ASSERT_STRING_EQUAL(rb_tcp_state_name(-1), "UNKNOWN");
}

static void test_parse_proc(void)
{
  struct rb_port_snapshot s;
  unsigned long inodes[8];
  size_t n = 0;

  memset(&s, 0, sizeof(s));
  CU_ASSERT_EQUAL(rb_sockdiag_parse_proc(proc_tcp, 1935, &s, inodes, 8, &n), RB_OK);
  CU_ASSERT_EQUAL(s.counts[RB_TCP_LISTEN], 1);
  CU_ASSERT_EQUAL(s.counts[RB_TCP_ESTABLISHED], 1);
  CU_ASSERT_EQUAL(s.counts[RB_TCP_TIME_WAIT], 1);
  CU_ASSERT_EQUAL(s.counts[RB_TCP_FIN_WAIT2], 1);
  CU_ASSERT_EQUAL(n, 1);
  CU_ASSERT_EQUAL(inodes[0], 11111);
  /* tcp6 adds to the same snapshot */
  CU_ASSERT_EQUAL(rb_sockdiag_parse_proc(proc_tcp6, 1935, &s, inodes, 8, &n), RB_OK);
  CU_ASSERT_EQUAL(s.counts[RB_TCP_LISTEN], 2);
  CU_ASSERT_EQUAL(s.counts[RB_TCP_CLOSE_WAIT], 1);
  CU_ASSERT_EQUAL(s.counts[RB_TCP_ESTABLISHED], 1);
  CU_ASSERT_EQUAL(n, 2);
  CU_ASSERT_EQUAL(inodes[1], 55555);
  /* another port sees only its own socket */
  memset(&s, 0, sizeof(s));
  n = 0;
  CU_ASSERT_EQUAL(rb_sockdiag_parse_proc(proc_tcp, 0x1F90, &s, inodes, 8, &n), RB_OK);
  CU_ASSERT_EQUAL(s.counts[RB_TCP_LISTEN], 1);
  CU_ASSERT_EQUAL(s.counts[RB_TCP_ESTABLISHED], 0);
  CU_ASSERT_EQUAL(n, 1);
  CU_ASSERT_EQUAL(inodes[0], 44444);
  /* no room for inodes: counts still right */
  memset(&s, 0, sizeof(s));
  n = 0;
  CU_ASSERT_EQUAL(rb_sockdiag_parse_proc(proc_tcp6, 1935, &s, NULL, 0, &n), RB_OK);
  CU_ASSERT_EQUAL(s.counts[RB_TCP_LISTEN], 1);
  CU_ASSERT_EQUAL(n, 0);
  /* empty text is fine, garbage is not */
  CU_ASSERT_EQUAL(rb_sockdiag_parse_proc("", 1935, &s, NULL, 0, NULL), RB_OK);
  CU_ASSERT_NOT_EQUAL(rb_sockdiag_parse_proc("hello world\n", 1935, &s, NULL, 0, NULL), RB_OK);
}

static void test_format_counts(void)
{
  struct rb_port_snapshot s;
  char buf[128], small[12];

  memset(&s, 0, sizeof(s));
  rb_sockdiag_format_counts(&s, buf, sizeof(buf));
  CU_ASSERT_STRING_EQUAL(buf, "none");
  s.counts[RB_TCP_FIN_WAIT2] = 2;
  s.counts[RB_TCP_LISTEN] = 1;
  rb_sockdiag_format_counts(&s, buf, sizeof(buf));
  CU_ASSERT_STRING_EQUAL(buf, "LISTEN=1 FIN_WAIT2=2");
  s.counts[RB_TCP_TIME_WAIT] = 3;
  s.counts[RB_TCP_ESTABLISHED] = 4;
  rb_sockdiag_format_counts(&s, buf, sizeof(buf));
  CU_ASSERT_STRING_EQUAL(buf, "LISTEN=1 ESTABLISHED=4 FIN_WAIT2=2 TIME_WAIT=3");
  rb_sockdiag_format_counts(&s, small, sizeof(small));
  CU_ASSERT_STRING_EQUAL(small, "LISTEN=1"); /* whole entries only */
}

static int listen_loopback(int family, uint16_t *port)
{
  struct sockaddr_storage ss;
  socklen_t len;
  int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);

  memset(&ss, 0, sizeof(ss));
  if(family == AF_INET) {
    struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

    sin->sin_family = AF_INET;
    sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    len = sizeof(*sin);
  } else {
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

    sin6->sin6_family = AF_INET6;
    sin6->sin6_addr = in6addr_loopback;
    len = sizeof(*sin6);
  }
  if(fd < 0)
    return -1;
  if(bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 8) < 0 ||
     getsockname(fd, (struct sockaddr *)&ss, &len) < 0) {
    close(fd);
    return -1;
  }
  *port = ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port : ((struct sockaddr_in6 *)&ss)->sin6_port);
  return fd;
}

static bool snapshot(uint16_t port, bool owners, struct rb_port_snapshot *s)
{
  char msg[256] = "";
  rb_err err = rb_sockdiag_snapshot(port, owners, s, msg, sizeof(msg));

  if(err)
    fprintf(stderr, "snapshot: %s\n", msg);
  return err == RB_OK;
}

/* Poll until the port shows count sockets in state (and, if other_state, none in it). */
static bool wait_state(uint16_t port, int state, unsigned count, int other_state)
{
  int64_t deadline = rb_clock_deadline(WAIT_NS);
  struct rb_port_snapshot s;

  for(;;) {
    if(snapshot(port, false, &s) && s.counts[state] == count && (!other_state || !s.counts[other_state]))
      return true;
    if(rb_clock_now() >= deadline)
      return false;
    rb_clock_sleep(RB_NS_PER_MS);
  }
}

static bool has_owner(const struct rb_port_snapshot *s, pid_t pid)
{
  for(size_t i = 0; i < s->nowners; i++)
    if(s->owners[i].pid == pid)
      return true;
  return false;
}

static char *read_file(const char *path)
{
  size_t cap = 1 << 20, len;
  char *buf = malloc(cap);
  FILE *f = fopen(path, "r");

  if(!buf || !f) {
    free(buf);
    if(f)
      fclose(f);
    return NULL;
  }
  len = fread(buf, 1, cap - 1, f);
  buf[len] = '\0';
  fclose(f);
  return buf;
}

static void test_live_listen(void)
{
  struct rb_port_snapshot s;
  unsigned long inodes[8];
  struct stat st;
  uint16_t port = 0;
  int fd = listen_loopback(AF_INET, &port);
  size_t n = 0;
  char *text;

  CU_ASSERT_FATAL(fd >= 0);
  CU_ASSERT(rb_sockdiag_is_listening(port));
  CU_ASSERT(snapshot(port, true, &s));
  CU_ASSERT_EQUAL(s.port, port);
  CU_ASSERT_EQUAL(s.counts[RB_TCP_LISTEN], 1);
  CU_ASSERT_EQUAL(s.nowners, 1);
  CU_ASSERT_EQUAL(s.owners[0].pid, getpid());
  CU_ASSERT_PTR_NOT_NULL(strstr(s.owners[0].cmdline, "test_sockdiag"));
  /* without owners: same counts, no /proc walk */
  CU_ASSERT(snapshot(port, false, &s));
  CU_ASSERT_EQUAL(s.counts[RB_TCP_LISTEN], 1);
  CU_ASSERT_EQUAL(s.nowners, 0);
  /* the /proc fallback parser agrees with netlink on the real table */
  text = read_file("/proc/net/tcp");
  CU_ASSERT_PTR_NOT_NULL_FATAL(text);
  memset(&s, 0, sizeof(s));
  CU_ASSERT_EQUAL(rb_sockdiag_parse_proc(text, port, &s, inodes, 8, &n), RB_OK);
  free(text);
  CU_ASSERT_EQUAL(s.counts[RB_TCP_LISTEN], 1);
  CU_ASSERT_EQUAL(n, 1);
  CU_ASSERT(fstat(fd, &st) == 0 && n == 1 && inodes[0] == (unsigned long)st.st_ino);
  close(fd);
  CU_ASSERT_FALSE(rb_sockdiag_is_listening(port));
  CU_ASSERT(snapshot(port, true, &s));
  CU_ASSERT_EQUAL(s.counts[RB_TCP_LISTEN], 0);
  CU_ASSERT_EQUAL(s.nowners, 0);
}

static void test_live_ipv6(void)
{
  struct rb_port_snapshot s;
  uint16_t port = 0;
  int fd = listen_loopback(AF_INET6, &port);

  if(fd < 0) {
    fprintf(stderr, "(no IPv6 loopback, skipped) ");
    return;
  }
  CU_ASSERT(rb_sockdiag_is_listening(port));
  CU_ASSERT(snapshot(port, true, &s));
  CU_ASSERT_EQUAL(s.counts[RB_TCP_LISTEN], 1);
  CU_ASSERT(has_owner(&s, getpid()));
  close(fd);
  CU_ASSERT_FALSE(rb_sockdiag_is_listening(port));
}

/* A listening socket shared by two processes (like nginx master and worker). */
static void test_two_owners(void)
{
  struct rb_port_snapshot s;
  uint16_t port = 0;
  int fd = listen_loopback(AF_INET, &port), pipefd[2];
  pid_t child;
  char c;

  CU_ASSERT_FATAL(fd >= 0 && pipe(pipefd) == 0);
  child = fork();
  CU_ASSERT_FATAL(child >= 0);
  if(child == 0) {
    close(pipefd[1]);
    alarm(10);
    if(read(pipefd[0], &c, 1) < 0) /* until the parent closes its end */
      _exit(1);
    _exit(0);
  }
  close(pipefd[0]);
  CU_ASSERT(snapshot(port, true, &s));
  CU_ASSERT_EQUAL(s.counts[RB_TCP_LISTEN], 1);
  CU_ASSERT_EQUAL(s.nowners, 2);
  CU_ASSERT(has_owner(&s, getpid()));
  CU_ASSERT(has_owner(&s, child));
  close(pipefd[1]);
  waitpid(child, NULL, 0);
  close(fd);
}

/* Drive the server's side of one connection through its states. */
static void test_live_connection_states(void)
{
  struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
  struct rb_port_snapshot s;
  uint16_t port = 0;
  int listener = listen_loopback(AF_INET, &port), client, server;

  CU_ASSERT_FATAL(listener >= 0);
  sa.sin_port = htons(port);
  client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  CU_ASSERT_FATAL(client >= 0 && connect(client, (struct sockaddr *)&sa, sizeof(sa)) == 0);
  server = accept(listener, NULL, NULL);
  CU_ASSERT_FATAL(server >= 0);
  CU_ASSERT(snapshot(port, false, &s));
  CU_ASSERT_EQUAL(s.counts[RB_TCP_LISTEN], 1);
  /* only the server's side has local port == port; the client's is ephemeral */
  CU_ASSERT_EQUAL(s.counts[RB_TCP_ESTABLISHED], 1);
  /* the server closes first: FIN_WAIT2 while the client keeps its end open */
  close(server);
  CU_ASSERT(wait_state(port, RB_TCP_FIN_WAIT2, 1, 0));
  /* the client closes too: the server's side goes to TIME_WAIT */
  close(client);
  CU_ASSERT(wait_state(port, RB_TCP_TIME_WAIT, 1, RB_TCP_FIN_WAIT2));
  CU_ASSERT(snapshot(port, false, &s));
  CU_ASSERT_EQUAL(s.counts[RB_TCP_ESTABLISHED], 0);
  close(listener);
  CU_ASSERT(snapshot(port, true, &s));
  CU_ASSERT_EQUAL(s.counts[RB_TCP_LISTEN], 0);
  CU_ASSERT_EQUAL(s.counts[RB_TCP_TIME_WAIT], 1); /* outlives the listener */
}

/* is_listening is polled in tight loops: it must stay cheap (a loose bound that
   holds even under valgrind, yet catches a /proc walk per call). */
static void test_is_listening_is_cheap(void)
{
  uint16_t port = 0;
  int fd = listen_loopback(AF_INET, &port);
  int64_t t0 = rb_clock_now();
  int hits = 0;

  CU_ASSERT_FATAL(fd >= 0);
  for(int i = 0; i < 200; i++)
    hits += rb_sockdiag_is_listening(port);
  CU_ASSERT_EQUAL(hits, 200);
  CU_ASSERT(rb_clock_now() - t0 < 2 * RB_NS_PER_S);
  close(fd);
}

/* The ports a set of processes LISTENs on: ours (IPv4 and IPv6), not a child's
   unless the child is asked about, and not a connected socket. */
static void test_listen_ports_of(void)
{
  uint16_t a = 0, b = 0, c = 0, ports[16];
  int fa = listen_loopback(AF_INET, &a), fb = listen_loopback(AF_INET6, &b), pipefd[2], fd;
  size_t n = 99;
  char msg[256] = "";
  pid_t me = getpid(), child, both[2];
  bool has_a = false, has_b = false, has_c = false;

  CU_ASSERT_FATAL(fa >= 0 && pipe(pipefd) == 0);
  if(fb < 0)
    b = 0; /* no IPv6 loopback */
  child = fork();
  CU_ASSERT_FATAL(child >= 0);
  if(child == 0) {
    close(pipefd[0]);
    fd = listen_loopback(AF_INET, &c);
    if(fd < 0 || write(pipefd[1], &c, sizeof(c)) != (ssize_t)sizeof(c))
      _exit(1);
    pause(); /* until the parent kills it */
    _exit(0);
  }
  close(pipefd[1]);
  CU_ASSERT_FATAL(read(pipefd[0], &c, sizeof(c)) == (ssize_t)sizeof(c) && c);
  /* the child listens on c, but it is not asked about */
  CU_ASSERT_EQUAL(rb_sockdiag_listen_ports_of(&me, 1, ports, 16, &n, msg, sizeof(msg)), RB_OK);
  for(size_t i = 0; i < n; i++) {
    has_a |= ports[i] == a;
    has_b |= b && ports[i] == b;
    has_c |= ports[i] == c;
  }
  CU_ASSERT(has_a);
  CU_ASSERT(!b || has_b);
  CU_ASSERT_FALSE(has_c);
  /* asked about both: c too, each port once */
  both[0] = me;
  both[1] = child;
  has_a = has_c = false;
  CU_ASSERT_EQUAL(rb_sockdiag_listen_ports_of(both, 2, ports, 16, &n, msg, sizeof(msg)), RB_OK);
  for(size_t i = 0; i < n; i++) {
    CU_ASSERT(ports[i] != a || !has_a);
    has_a |= ports[i] == a;
    has_c |= ports[i] == c;
  }
  CU_ASSERT(has_a && has_c);
  /* max bounds what is written */
  CU_ASSERT_EQUAL(rb_sockdiag_listen_ports_of(both, 2, ports, 1, &n, msg, sizeof(msg)), RB_OK);
  CU_ASSERT_EQUAL(n, 1);
  kill(child, SIGKILL);
  waitpid(child, NULL, 0);
  close(pipefd[0]);
  close(fa);
  if(fb >= 0)
    close(fb);
  /* closed: no longer listed */
  CU_ASSERT_EQUAL(rb_sockdiag_listen_ports_of(&me, 1, ports, 16, &n, msg, sizeof(msg)), RB_OK);
  for(size_t i = 0; i < n; i++)
    CU_ASSERT(ports[i] != a);
}

int main(void)
{
  static const struct rb_test_case cases[] = {
    RB_TEST(test_state_names),
    RB_TEST(test_parse_proc),
    RB_TEST(test_format_counts),
    RB_TEST(test_live_listen),
    RB_TEST(test_live_ipv6),
    RB_TEST(test_two_owners),
    RB_TEST(test_live_connection_states),
    RB_TEST(test_is_listening_is_cheap),
    RB_TEST(test_listen_ports_of),
    RB_TEST_END
  };

  return rb_test_main("sockdiag", cases);
}
