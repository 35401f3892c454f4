/* Unit tests of diagnosis selection from recorded evidence. */
#include <string.h>
#include <sys/wait.h>

#include "rb_test.h"
#include "rebound/diagnosis.h"

static struct rb_rebind_evidence base(void)
{
  struct rb_rebind_evidence ev;

  memset(&ev, 0, sizeof(ev));
  ev.port = 1935;
  ev.waited_ms = 5000;
  return ev;
}

static void expect(const struct rb_rebind_evidence *ev, const char *needle)
{
  char buf[512];

  rb_diagnose_rebind(ev, buf, sizeof(buf));
  CU_ASSERT_PTR_NOT_NULL(strstr(buf, needle));
  if(!strstr(buf, needle))
    fprintf(stderr, "diagnosis '%s' lacks '%s'\n", buf, needle);
}

static void test_no_reuseaddr(void)
{
  struct rb_rebind_evidence ev = base();

  ev.states_at_restart[RB_TCP_FIN_WAIT2] = 2;
  ev.new_exited = true;
  ev.new_status = 1 << 8;
  ev.log_tail = "starting\nbind() to 127.0.0.1:1935 failed (98: Address already in use)\n";
  expect(&ev, "bind() failed with EADDRINUSE while 2 sockets of the killed server were in FIN_WAIT2: "
              "the server does not set SO_REUSEADDR");
  ev.states_at_restart[RB_TCP_TIME_WAIT] = 1;
  expect(&ev, "2 sockets of the killed server were in FIN_WAIT2 and 1 in TIME_WAIT");
}

static void test_survivor_named(void)
{
  struct rb_rebind_evidence ev = base();

  ev.nowners = 1;
  ev.owner_pids[0] = 4833;
  strcpy(ev.owner_cmdlines[0], "nginx: worker process");
  ev.owner_is_survivor[0] = true;
  ev.log_tail = "bind() failed (98: Address already in use)";
  expect(&ev, "port 1935 still LISTENed by pid 4833 (nginx: worker process), a surviving child of the killed server");
}

static void test_reuseport_both_listen(void)
{
  struct rb_rebind_evidence ev = base();

  ev.nowners = 2;
  ev.owner_pids[0] = 10;
  ev.owner_is_survivor[0] = false;
  ev.owner_pids[1] = 11;
  strcpy(ev.owner_cmdlines[1], "old");
  ev.owner_is_survivor[1] = true;
  expect(&ev, "also by pid 11 (old)");
  expect(&ev, "SO_REUSEPORT");
}

static void test_exit_status_and_last_line(void)
{
  struct rb_rebind_evidence ev = base();

  ev.new_exited = true;
  ev.new_status = 3 << 8;
  ev.log_tail = "line one\nconfig error: no such file\n\n";
  expect(&ev, "exited with status 3");
  expect(&ev, "last log line: config error: no such file");
}

static void test_not_listening(void)
{
  struct rb_rebind_evidence ev = base();

  ev.log_tail = "";
  expect(&ev, "port 1935 not listening after 5000 ms (the restarted server is still running)");
}

static void test_eaddrinuse_without_old_sockets(void)
{
  struct rb_rebind_evidence ev = base();

  ev.new_exited = true;
  ev.log_tail = "java.net.BindException: Address already in use";
  expect(&ev, "though no socket of the killed server");
  ev.nowners = 1;
  ev.owner_pids[0] = 77;
  strcpy(ev.owner_cmdlines[0], "other");
  expect(&ev, "LISTENed by pid 77 (other), which is not part of the target");
}

static void test_reload(void)
{
  struct rb_reload_evidence ev = { .port = 1935, .reload_timeout_ms = 5000, .log_tail = "a\nnginx: [emerg] bad\n" };
  char buf[512];

  rb_diagnose_reload(&ev, buf, sizeof(buf));
  CU_ASSERT_STRING_EQUAL(buf, ""); /* a good reload has no sentence */
  /* a worker that never drains is named, with its age */
  ev.nstuck = 2;
  ev.stuck_pids[0] = 4833;
  snprintf(ev.stuck_cmdlines[0], sizeof(ev.stuck_cmdlines[0]), "nginx: worker process is shutting down");
  ev.stuck_age_ms = 5012;
  rb_diagnose_reload(&ev, buf, sizeof(buf));
  CU_ASSERT_STRING_EQUAL(buf, "old worker pid 4833 (nginx: worker process is shutting down) has been shutting down "
                              "for 5.0 s, past reload_timeout 5000 ms, and 1 more old worker: it never drains, "
                              "keeping the connections it had (live RTMP sessions keep an nginx-rtmp worker forever; "
                              "bound it, e.g. with worker_shutdown_timeout)");
  /* a gap in LISTEN outranks it: new clients were refused */
  ev.not_listening_ms = 12.5;
  rb_diagnose_reload(&ev, buf, sizeof(buf));
  CU_ASSERT_PTR_NOT_NULL(strstr(buf, "port 1935 stopped listening for 12.5 ms during the reload"));
  /* a server that died on the signal outranks everything but a failed command */
  ev.main_exited = true;
  ev.main_status = 1 << 8;
  rb_diagnose_reload(&ev, buf, sizeof(buf));
  CU_ASSERT_PTR_NOT_NULL(strstr(buf, "exited with status 1 on the reload signal instead of reloading"));
  CU_ASSERT_PTR_NOT_NULL(strstr(buf, "nginx: [emerg] bad"));
  ev.command_error = "nginx -s reload: exited with status 1";
  rb_diagnose_reload(&ev, buf, sizeof(buf));
  CU_ASSERT_STRING_EQUAL(buf, "the reload command failed: nginx -s reload: exited with status 1");
  /* a new client that could not publish */
  memset(&ev, 0, sizeof(ev));
  ev.new_client_error = "connection refused";
  rb_diagnose_reload(&ev, buf, sizeof(buf));
  CU_ASSERT_STRING_EQUAL(buf, "a new client could not publish while the old workers drained: connection refused");
}

static void test_mentions(void)
{
  CU_ASSERT_TRUE(rb_diagnosis_mentions_eaddrinuse("listen: EADDRINUSE"));
  CU_ASSERT_TRUE(rb_diagnosis_mentions_eaddrinuse("Error: listen EADDRINUSE: address already in use :::1935"));
  CU_ASSERT_TRUE(rb_diagnosis_mentions_eaddrinuse("bind: errno 98"));
  CU_ASSERT_FALSE(rb_diagnosis_mentions_eaddrinuse("all good"));
  CU_ASSERT_FALSE(rb_diagnosis_mentions_eaddrinuse(NULL));
}

static void test_stale_refused_until_the_end(void)
{
  struct rb_stale_evidence ev = { "blackhole", "rebound-0", "NetStream.Publish.BadName", 60200, false, false, 0,
                                  "publisher 0 (rebound-0): rejected" };
  char buf[512];

  rb_diagnose_stale(&ev, buf, sizeof(buf));
  CU_ASSERT_PTR_NOT_NULL(strstr(buf, "refused the republish of rebound-0 (NetStream.Publish.BadName) for 60.2 s "
                                     "after the publisher's network died"));
  CU_ASSERT_PTR_NOT_NULL(strstr(buf, "drop_idle_publisher"));
  CU_ASSERT_PTR_NOT_NULL(strstr(buf, "never closed the dead connection"));
}

static void test_stale_refused_then_accepted(void)
{
  struct rb_stale_evidence ev = { "blackhole", "rebound-3", NULL, 2450, true, true, 2100, NULL };
  char buf[512];

  rb_diagnose_stale(&ev, buf, sizeof(buf));
  CU_ASSERT_PTR_NOT_NULL(strstr(buf, "refused the republish of rebound-3 for 2.5 s"));
  CU_ASSERT_PTR_NOT_NULL(strstr(buf, "then accepted it"));
  CU_ASSERT_PTR_NOT_NULL(strstr(buf, "closed the dead connection by itself after 2.1 s"));
  CU_ASSERT_PTR_NULL(strstr(buf, "drop_idle_publisher"));
  ev.net_fault = "reset";
  rb_diagnose_stale(&ev, buf, sizeof(buf));
  CU_ASSERT_PTR_NOT_NULL(strstr(buf, "network was reset"));
}

static void test_stale_nothing_to_say(void)
{
  struct rb_stale_evidence ev = { "partition", NULL, NULL, 0, true, false, 0, NULL };
  char buf[512] = "x";

  rb_diagnose_stale(&ev, buf, sizeof(buf));
  CU_ASSERT_STRING_EQUAL(buf, "");
  ev.why = "player 0: play timed out";
  rb_diagnose_stale(&ev, buf, sizeof(buf));
  CU_ASSERT_PTR_NOT_NULL(strstr(buf, "did not come back after their network died (nothing was refused): player 0"));
}

int main(void)
{
  static const struct rb_test_case cases[] = {
    RB_TEST(test_no_reuseaddr), RB_TEST(test_survivor_named), RB_TEST(test_reuseport_both_listen),
    RB_TEST(test_exit_status_and_last_line), RB_TEST(test_not_listening),
    RB_TEST(test_eaddrinuse_without_old_sockets), RB_TEST(test_mentions),
    RB_TEST(test_stale_refused_until_the_end), RB_TEST(test_stale_refused_then_accepted),
    RB_TEST(test_stale_nothing_to_say), RB_TEST(test_reload), RB_TEST_END
  };

  return rb_test_main("diagnosis", cases);
}
