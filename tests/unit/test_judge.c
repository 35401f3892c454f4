/* Unit tests of the engine's judging (judge): reconnect evidence -> cycle failures,
   thresholds, and the scenario verdict, all from made-up results. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/wait.h>

#include "rb_test.h"
#include "rebound/judge.h"

static struct rb_cycle_result fresh_cycle(unsigned index)
{
  struct rb_cycle_result c;

  memset(&c, 0, sizeof(c));
  rb_cycle_result_begin(&c, index);
  return c;
}

static struct rb_reconnect_evidence all_back(double ms)
{
  struct rb_reconnect_evidence ev;

  memset(&ev, 0, sizeof(ev));
  ev.wait_err = RB_OK;
  ev.window_ms = 10000;
  ev.reconnect_ms = ms;
  ev.counts.publishers_up = 2;
  ev.counts.players_up = 1;
  ev.counts.frames_sent = 91;
  ev.counts.frames_received = 90;
  return ev;
}

static bool has_failure(const struct rb_cycle_result *c, const char *needle)
{
  for(size_t i = 0; i < c->nfailures; i++)
    if(strstr(c->failures[i], needle))
      return true;
  return false;
}

static void test_reconnect_pass(void)
{
  struct rb_cycle_result c = fresh_cycle(1);
  struct rb_reconnect_evidence ev = all_back(3.6);

  rb_judge_reconnect(&ev, &c);
  CU_ASSERT(c.pass);
  CU_ASSERT_EQUAL(c.nfailures, 0);
  CU_ASSERT_DOUBLE_EQUAL(c.reconnect_ms, 3.6, 1e-9);
  CU_ASSERT_EQUAL(c.publishers_ok, 2);
  CU_ASSERT_EQUAL(c.players_ok, 1);
  CU_ASSERT_EQUAL(c.frames_sent, 91);
  CU_ASSERT_EQUAL(c.frames_received, 90);
}

static void test_reconnect_timeout(void)
{
  struct rb_cycle_result c = fresh_cycle(2);
  struct rb_reconnect_evidence ev = all_back(0);

  ev.wait_err = RB_ERR_TIMEOUT;
  ev.why = "publisher 0: connect refused";
  rb_judge_reconnect(&ev, &c);
  CU_ASSERT_FALSE(c.pass);
  CU_ASSERT(c.reconnect_ms < 0);
  CU_ASSERT(has_failure(&c, "clients did not reconnect within 10000 ms: publisher 0: connect refused"));
  CU_ASSERT_PTR_NOT_NULL(strstr(c.diagnosis, "the restarted server listens but the clients could not "
                                             "publish/play again: publisher 0"));
}

static void test_reconnect_rejected_keeps_diagnosis(void)
{
  struct rb_cycle_result c = fresh_cycle(3);
  struct rb_reconnect_evidence ev = all_back(0);

  ev.wait_err = RB_ERR_REJECTED;
  ev.why = "NetStream.Publish.BadName";
  rb_judge_reconnect(&ev, &c);
  CU_ASSERT_PTR_NOT_NULL(strstr(c.diagnosis, "kept refusing the clients' republish"));
  /* a rebind diagnosis written earlier stays: it names the first cause */
  c = fresh_cycle(3);
  strcpy(c.diagnosis, "port 1935 still LISTENed by pid 7");
  rb_judge_reconnect(&ev, &c);
  CU_ASSERT_STRING_EQUAL(c.diagnosis, "port 1935 still LISTENed by pid 7");
  CU_ASSERT_FALSE(c.pass);
}

/* Reconnect profiles: the failure names the profile; clients that gave up and a
   protocol failure (state kept across the reconnect) get their own diagnosis. */
static void test_reconnect_profile_gave_up_and_protocol(void)
{
  struct rb_cycle_result c = fresh_cycle(1);
  struct rb_reconnect_evidence ev = all_back(0);

  ev.wait_err = RB_ERR_TIMEOUT;
  ev.profile = "obs:retries=2";
  ev.why = "0/1 publishers and 0/0 players up; 1 gave up (retries exhausted); publisher 0: gave up";
  ev.counts.gave_up = 1;
  rb_judge_reconnect(&ev, &c);
  CU_ASSERT(has_failure(&c, "clients did not reconnect within 10000 ms (reconnect = obs:retries=2): 0/1 publishers"));
  CU_ASSERT_PTR_NOT_NULL(strstr(c.diagnosis, "clients gave up before the restarted server took them back"));
  CU_ASSERT_EQUAL(c.gave_up, 1);
  c = fresh_cycle(1);
  ev = all_back(0);
  ev.wait_err = RB_ERR_PROTOCOL;
  ev.why = "publisher 0: protocol failure: this client kept chunk size 4096";
  rb_judge_reconnect(&ev, &c);
  CU_ASSERT(strncmp(c.diagnosis, "a protocol failure after the reconnect: ", 40) == 0);
  CU_ASSERT_EQUAL(c.gave_up, 0);
}

static void test_reconnect_interrupted_is_no_failure(void)
{
  struct rb_cycle_result c = fresh_cycle(1);
  struct rb_reconnect_evidence ev = all_back(0);

  ev.wait_err = RB_ERR_INTERRUPTED;
  rb_judge_reconnect(&ev, &c);
  CU_ASSERT(c.pass);
  CU_ASSERT(c.reconnect_ms < 0);
}

/* Per client kind, and the frames of the resumed streams (issue 12.4). */
static void test_reconnect_by_kind(void)
{
  struct rb_cycle_result c = fresh_cycle(1);
  struct rb_reconnect_evidence ev = all_back(988);
  const int64_t ms = 1000000;

  ev.restart_at = 5000 * ms;
  ev.counts.publishers = 2;
  ev.counts.players = 1;
  ev.counts.publishers_up_at = 5006 * ms;
  ev.counts.players_playing = 1;
  ev.counts.players_playing_at = 5007 * ms;
  ev.counts.players_up_at = 5988 * ms;
  ev.counts.lost_in_outage = 1;
  ev.counts.skipped_after_restart = 24;
  rb_judge_reconnect(&ev, &c);
  CU_ASSERT(c.pass); /* skipped frames are the scenario's warning, not the cycle's failure */
  CU_ASSERT_DOUBLE_EQUAL(c.reconnect_publishers_ms, 6, 1e-9);
  CU_ASSERT_DOUBLE_EQUAL(c.reconnect_players_ms, 7, 1e-9);
  CU_ASSERT_DOUBLE_EQUAL(c.first_frame_ms, 988, 1e-9);
  CU_ASSERT_EQUAL(c.lost_in_outage, 1);
  CU_ASSERT_EQUAL(c.skipped_after_restart, 24);

  /* a kind not all back, or absent, has no time */
  c = fresh_cycle(2);
  ev.counts.publishers_up = 1;
  ev.counts.players = 0;
  ev.counts.players_up = 0;
  rb_judge_reconnect(&ev, &c);
  CU_ASSERT(c.reconnect_publishers_ms < 0);
  CU_ASSERT(c.reconnect_players_ms < 0);
  CU_ASSERT(c.first_frame_ms < 0);
}

static void test_reconnect_lost_frames(void)
{
  struct rb_cycle_result c = fresh_cycle(1);
  struct rb_reconnect_evidence ev = all_back(4);

  ev.counts.lost_after_reconnect = 3;
  rb_judge_reconnect(&ev, &c);
  CU_ASSERT_FALSE(c.pass);
  CU_ASSERT(has_failure(&c, "players lost 3 frames after reconnecting"));
}

/* HTTP players: per-kind figures, recovery from the restart, and their failures. */
static void test_reconnect_http_players(void)
{
  struct rb_cycle_result c = fresh_cycle(1);
  struct rb_reconnect_evidence ev = all_back(40);

  ev.counts.publishers = 2;
  ev.counts.players = 1;
  ev.restart_at = 1000000000;
  ev.counts.kinds[RB_PLAYER_FLV] = (struct rb_fleet_kind_counts){ .planned = 2, .up = 2, .last_up_at = 1030000000,
                                                                   .frames_received = 50 };
  ev.counts.kinds[RB_PLAYER_HLS] = (struct rb_fleet_kind_counts){ .planned = 1, .up = 1, .last_up_at = 2500000000,
                                                                   .frames_received = 75, .segments = 3,
                                                                   .restarts = 1 };
  rb_judge_reconnect(&ev, &c);
  CU_ASSERT(c.pass);
  CU_ASSERT_EQUAL(c.flv.planned, 2);
  CU_ASSERT_EQUAL(c.flv.ok, 2);
  CU_ASSERT_DOUBLE_EQUAL(c.flv.recovery_ms, 30, 1e-9);
  CU_ASSERT_DOUBLE_EQUAL(c.hls.recovery_ms, 1500, 1e-9);
  CU_ASSERT_EQUAL(c.hls.segments, 3);
  CU_ASSERT_EQUAL(c.hls.restarts_signalled, 1);
  /* a reset fails the cycle with its sentence, even though every player came back */
  c = fresh_cycle(2);
  ev.counts.kinds[RB_PLAYER_HLS].resets = 1;
  strcpy(ev.counts.kinds[RB_PLAYER_HLS].reset_why, "the HLS media sequence went back from 6 to 0 without ...");
  rb_judge_reconnect(&ev, &c);
  CU_ASSERT_FALSE(c.pass);
  CU_ASSERT_STRING_EQUAL(c.diagnosis, "the HLS media sequence went back from 6 to 0 without ...");
  CU_ASSERT(has_failure(&c, "went back from 6 to 0"));
  /* segments that carry no SEI or do not decode, frames lost by an HTTP player */
  c = fresh_cycle(3);
  ev.counts.kinds[RB_PLAYER_HLS] = (struct rb_fleet_kind_counts){ .planned = 1, .up = 1, .segments_without_sei = 2,
                                                                   .decode_errors = 5, .lost_after_reconnect = 4 };
  rb_judge_reconnect(&ev, &c);
  CU_ASSERT(has_failure(&c, "2 HLS segments carried none of the publisher's SEI"));
  CU_ASSERT(has_failure(&c, "the H.264 decoder refused 5 packets"));
  CU_ASSERT(has_failure(&c, "HTTP players lost 4 frames after reconnecting (HTTP-FLV 0, HLS 4)"));
}

/* The ingest came back but an HTTP viewer did not: the diagnosis names the delivery. */
static void test_reconnect_http_dark(void)
{
  struct rb_cycle_result c = fresh_cycle(1);
  struct rb_reconnect_evidence ev = all_back(0);

  ev.counts.publishers = 2;
  ev.counts.players = 1;
  ev.counts.kinds[RB_PLAYER_FLV].planned = 1;
  ev.wait_err = RB_ERR_TIMEOUT;
  ev.why = "HTTP-FLV player 0: no data";
  snprintf(ev.counts.first_problem, sizeof(ev.counts.first_problem), "HTTP-FLV player 0 (u): no data for 2500 ms");
  rb_judge_reconnect(&ev, &c);
  CU_ASSERT_FALSE(c.pass);
  CU_ASSERT_STRING_EQUAL(c.diagnosis, "the restarted server took the publisher back but its HTTP-FLV output "
                                      "delivered no media to 1 of 1 players within 10000 ms: HTTP-FLV player 0 (u): "
                                      "no data for 2500 ms");
  CU_ASSERT(c.flv.recovery_ms < 0);
  /* no HLS segment: said so */
  c = fresh_cycle(1);
  ev.counts.kinds[RB_PLAYER_FLV].planned = 0;
  ev.counts.kinds[RB_PLAYER_HLS].planned = 2;
  ev.counts.kinds[RB_PLAYER_HLS].up = 1;
  rb_judge_reconnect(&ev, &c);
  CU_ASSERT_PTR_NOT_NULL(strstr(c.diagnosis, "served no new HLS segment to 1 of 2 players"));
  /* the publisher did not come back either: the generic sentence, not the delivery's */
  c = fresh_cycle(1);
  ev.counts.publishers_up = 1;
  rb_judge_reconnect(&ev, &c);
  CU_ASSERT_PTR_NOT_NULL(strstr(c.diagnosis, "the restarted server listens but the clients could not"));
}

/* A scenario result with the given rebind/reconnect times (one cycle each). */
static struct rb_scenario_result scenario_of(size_t n, const double *rebind, const double *reconnect)
{
  struct rb_scenario_result res;

  memset(&res, 0, sizeof(res));
  res.cycles = calloc(n ? n : 1, sizeof(*res.cycles));
  CU_ASSERT_FATAL(res.cycles != NULL);
  res.ncycles = res.cycles_planned = n;
  for(size_t i = 0; i < n; i++) {
    res.cycles[i] = fresh_cycle((unsigned)i + 1);
    res.cycles[i].rebind_ms = rebind[i];
    res.cycles[i].reconnect_ms = reconnect[i];
    res.cycles[i].states_at_restart[RB_TCP_FIN_WAIT2] = 1;
  }
  return res;
}

/* Judge res; how many warnings it added. */
static size_t judge(const struct rb_judge_rules *rules, struct rb_scenario_result *res)
{
  size_t before = res->nwarnings;

  rb_judge_scenario(rules, res);
  return res->nwarnings - before;
}

static void test_thresholds(void)
{
  const double rebind[] = { 2, 3, 40 }, reconnect[] = { 5, 6, 900 };
  struct rb_judge_rules rules = { .max_rebind_ms = 10, .max_reconnect_ms = 100 };
  struct rb_scenario_result res = scenario_of(3, rebind, reconnect);

  CU_ASSERT_EQUAL(judge(&rules, &res), 0);
  CU_ASSERT_EQUAL(res.verdict, RB_VERDICT_FAIL);
  CU_ASSERT_PTR_NOT_NULL(strstr(res.error, "rebind p99 "));
  CU_ASSERT_PTR_NOT_NULL(strstr(res.error, "exceeds max_rebind_ms 10"));
  CU_ASSERT_PTR_NOT_NULL(strstr(res.error, "; reconnect p99 "));
  CU_ASSERT_PTR_NOT_NULL(strstr(res.error, "exceeds max_reconnect_ms 100"));
  free(res.cycles);

  /* within bounds, and 0 = no bound */
  rules.max_rebind_ms = 50;
  rules.max_reconnect_ms = 0;
  res = scenario_of(3, rebind, reconnect);
  rb_judge_scenario(&rules, &res);
  CU_ASSERT_EQUAL(res.verdict, RB_VERDICT_PASS);
  CU_ASSERT_STRING_EQUAL(res.error, "");
  CU_ASSERT_EQUAL(res.rebind.count, 3);
  CU_ASSERT_DOUBLE_EQUAL(res.rebind.max, 40, 1e-9);
  free(res.cycles);
}

static void test_skipped_frames_warning(void)
{
  const double rebind[] = { 2, 3, 4 }, reconnect[] = { 5, 990, 6 };
  struct rb_judge_rules rules = { 0 };
  struct rb_scenario_result res = scenario_of(3, rebind, reconnect);

  for(size_t i = 0; i < 3; i++) {
    res.cycles[i].reconnect_players_ms = 4 + (double)i;
    res.cycles[i].first_frame_ms = reconnect[i];
  }
  res.cycles[0].lost_in_outage = 3; /* sent while the server was down: allowed, no warning */
  res.cycles[1].skipped_after_restart = 25;
  CU_ASSERT_EQUAL(judge(&rules, &res), 1);
  CU_ASSERT_EQUAL(res.verdict, RB_VERDICT_PASS);
  CU_ASSERT_STRING_EQUAL(res.warnings[0], "players missed 25 frames sent to the restarted server before their first "
                         "frame (1 of 3 cycles; first frame up to 990 ms after the restart, playing again after at "
                         "most 5 ms): the server starts players at a later keyframe or drops frames; only frames "
                         "sent while it was down may be lost");
  CU_ASSERT_EQUAL(res.first_frame.count, 3);
  CU_ASSERT_DOUBLE_EQUAL(res.first_frame.max, 990, 1e-9);
  CU_ASSERT_EQUAL(res.reconnect_players.count, 3);
  free(res.cycles);

  /* only outage losses: no warning */
  res = scenario_of(3, rebind, reconnect);
  res.cycles[2].lost_in_outage = 1;
  CU_ASSERT_EQUAL(judge(&rules, &res), 0);
  free(res.cycles);
}

static void test_failed_cycle_fails_scenario(void)
{
  const double rebind[] = { 2, -1 }, reconnect[] = { 5, -1 };
  struct rb_judge_rules rules = { 0 };
  struct rb_scenario_result res = scenario_of(2, rebind, reconnect);

  rb_cycle_add_failure(&res.cycles[1], "port 1935 not rebound");
  rb_judge_scenario(&rules, &res);
  CU_ASSERT_EQUAL(res.verdict, RB_VERDICT_FAIL);
  CU_ASSERT_EQUAL(res.rebind.count, 1); /* cycles that never rebound carry no sample */
  free(res.cycles);
}

static void test_expect_fail(void)
{
  const double rebind[] = { 2 }, reconnect[] = { 5 };
  struct rb_judge_rules rules = { 0 };
  struct rb_scenario_result res = scenario_of(1, rebind, reconnect);

  res.expect_fail = true;
  rb_cycle_add_failure(&res.cycles[0], "x");
  rb_judge_scenario(&rules, &res);
  CU_ASSERT_EQUAL(res.verdict, RB_VERDICT_XFAIL);
  free(res.cycles);
  res = scenario_of(1, rebind, reconnect);
  res.expect_fail = true;
  rb_judge_scenario(&rules, &res);
  CU_ASSERT_EQUAL(res.verdict, RB_VERDICT_XPASS);
  free(res.cycles);
  /* an environment error stays one, expected failure or not */
  res = scenario_of(0, rebind, reconnect);
  res.expect_fail = true;
  res.verdict = RB_VERDICT_ERROR;
  rb_judge_scenario(&rules, &res);
  CU_ASSERT_EQUAL(res.verdict, RB_VERDICT_ERROR);
  free(res.cycles);
}

static void test_classic_warning(void)
{
  const double rebind[] = { 2, 3 }, reconnect[] = { 5, 6 };
  struct rb_judge_rules rules = { .holders = true };
  struct rb_scenario_result res = scenario_of(2, rebind, reconnect);

  CU_ASSERT_EQUAL(judge(&rules, &res), 0);
  CU_ASSERT(res.exercised_classic);
  free(res.cycles);

  res = scenario_of(2, rebind, reconnect);
  memset(res.cycles[0].states_at_restart, 0, sizeof(res.cycles[0].states_at_restart));
  memset(res.cycles[1].states_at_restart, 0, sizeof(res.cycles[1].states_at_restart));
  res.cycles[1].states_at_restart[RB_TCP_CLOSE_WAIT] = 4; /* not the classic condition */
  CU_ASSERT_EQUAL(judge(&rules, &res), 1);
  CU_ASSERT_PTR_NOT_NULL(strstr(res.warnings[0], "did not exercise the classic rebind bug"));
  CU_ASSERT_FALSE(res.exercised_classic);
  CU_ASSERT_EQUAL(res.verdict, RB_VERDICT_PASS);
  free(res.cycles);

  /* no holders, or interrupted: nothing to warn about */
  rules.holders = false;
  res = scenario_of(2, rebind, reconnect);
  memset(res.cycles[0].states_at_restart, 0, sizeof(res.cycles[0].states_at_restart));
  memset(res.cycles[1].states_at_restart, 0, sizeof(res.cycles[1].states_at_restart));
  CU_ASSERT_EQUAL(judge(&rules, &res), 0);
  rules.holders = true;
  res.verdict = RB_VERDICT_INTERRUPTED;
  CU_ASSERT_EQUAL(judge(&rules, &res), 0);
  CU_ASSERT_EQUAL(res.verdict, RB_VERDICT_INTERRUPTED);
  free(res.cycles);
}

/* ---- the first start: evidence -> verdict (exit 1 or 3) and sentence ------- */

static struct rb_first_start_evidence first_start(void)
{
  struct rb_first_start_evidence ev;

  memset(&ev, 0, sizeof(ev));
  ev.port = 29451;
  ev.waited_ms = 10000;
  ev.exited = true;
  ev.status = 1 << 8; /* exited with status 1 */
  ev.log_tail = "starting\nbind() to 127.0.0.1:29451 failed (98: Address already in use)\n";
  return ev;
}

/* sentence "" = the judge must leave it empty (the caller's own message stands). */
static void expect_first_start(const struct rb_first_start_evidence *ev, enum rb_verdict verdict, const char *sentence)
{
  char buf[RB_DIAGNOSIS_LEN];
  enum rb_verdict got = rb_judge_first_start(ev, buf, sizeof(buf));
  bool ok = got == verdict && (sentence[0] ? strstr(buf, sentence) != NULL : buf[0] == '\0');

  CU_ASSERT(ok);
  if(!ok)
    fprintf(stderr, "verdict %s, sentence '%s'; expected %s '%s'\n", rb_verdict_name(got), buf,
            rb_verdict_name(verdict), sentence);
}

static void test_first_start_time_wait_is_the_servers(void)
{
  struct rb_first_start_evidence ev = first_start();

  ev.states_before[RB_TCP_TIME_WAIT] = 6;
  ev.states_at_failure[RB_TCP_TIME_WAIT] = 6;
  expect_first_start(&ev, RB_VERDICT_FAIL, "bind() failed with EADDRINUSE while 6 sockets on the port were in "
                     "TIME_WAIT before the first start (left by an earlier server): the server does not set "
                     "SO_REUSEADDR");
  ev.states_before[RB_TCP_FIN_WAIT2] = 1;
  expect_first_start(&ev, RB_VERDICT_FAIL, "while 1 socket on the port was in FIN_WAIT2 and 6 in TIME_WAIT before "
                     "the first start");
}

static void test_first_start_other_lingering_states(void)
{
  struct rb_first_start_evidence ev = first_start();

  ev.states_before[RB_TCP_CLOSE_WAIT] = 2;
  expect_first_start(&ev, RB_VERDICT_FAIL, "2 sockets on the port were in CLOSE_WAIT before the first start");
  ev = first_start();
  ev.states_before[RB_TCP_FIN_WAIT1] = 1;
  expect_first_start(&ev, RB_VERDICT_FAIL, "1 socket on the port was in FIN_WAIT1");
  /* seen only when the start failed */
  ev = first_start();
  ev.states_at_failure[RB_TCP_TIME_WAIT] = 3;
  expect_first_start(&ev, RB_VERDICT_FAIL, "3 sockets on the port were in TIME_WAIT when the first start failed");
}

static void test_first_start_without_log_evidence(void)
{
  struct rb_first_start_evidence ev = first_start();

  ev.states_before[RB_TCP_TIME_WAIT] = 6;
  ev.log_tail = "fatal: cannot start\n";
  expect_first_start(&ev, RB_VERDICT_FAIL, "the server exited with status 1 before listening on port 29451 while 6 "
                     "sockets on the port were in TIME_WAIT before the first start (left by an earlier server): "
                     "the server most likely does not set SO_REUSEADDR; last log line: fatal: cannot start");
  /* still running, not listening: timed out */
  ev.exited = false;
  ev.log_tail = NULL;
  expect_first_start(&ev, RB_VERDICT_FAIL, "port 29451 not listening after 10000 ms at the first start while 6 "
                     "sockets on the port were in TIME_WAIT");
}

static void test_first_start_environment(void)
{
  struct rb_first_start_evidence ev = first_start();

  /* nothing on the port: whatever stopped the server, it is not the classic bug */
  expect_first_start(&ev, RB_VERDICT_ERROR, "");
  ev.states_before[RB_TCP_ESTABLISHED] = 1;
  expect_first_start(&ev, RB_VERDICT_ERROR, "");
  /* a foreign listener: named */
  ev = first_start();
  ev.states_before[RB_TCP_TIME_WAIT] = 6;
  ev.states_at_failure[RB_TCP_LISTEN] = 1;
  ev.nforeign = 1;
  ev.foreign_pid = 4242;
  strcpy(ev.foreign_cmdline, "nginx: master process");
  expect_first_start(&ev, RB_VERDICT_ERROR, "port 29451 is LISTENed by pid 4242 (nginx: master process), which "
                     "rebound did not start");
  /* the target itself listens (a ready probe other than listen timed out): not a bind failure */
  ev.nforeign = 0;
  expect_first_start(&ev, RB_VERDICT_ERROR, "");
  /* a missing program or one that cannot be executed, TIME_WAIT or not */
  ev = first_start();
  ev.states_before[RB_TCP_TIME_WAIT] = 6;
  ev.status = 127 << 8;
  ev.log_tail = "sh: 1: exec: /opt/nope: not found\n";
  expect_first_start(&ev, RB_VERDICT_ERROR, "");
  ev.status = 126 << 8;
  expect_first_start(&ev, RB_VERDICT_ERROR, "");
  /* killed by a signal is no exec failure: the sockets decide */
  ev.status = SIGSEGV;
  CU_ASSERT(WIFSIGNALED(ev.status));
  expect_first_start(&ev, RB_VERDICT_FAIL, "the server killed by signal");
}

int main(void)
{
  static const struct rb_test_case cases[] = {
    RB_TEST(test_reconnect_pass),
    RB_TEST(test_reconnect_timeout),
    RB_TEST(test_reconnect_rejected_keeps_diagnosis),
    RB_TEST(test_reconnect_profile_gave_up_and_protocol),
    RB_TEST(test_reconnect_interrupted_is_no_failure),
    RB_TEST(test_reconnect_lost_frames),
    RB_TEST(test_reconnect_http_players),
    RB_TEST(test_reconnect_http_dark),
    RB_TEST(test_reconnect_by_kind),
    RB_TEST(test_skipped_frames_warning),
    RB_TEST(test_thresholds),
    RB_TEST(test_failed_cycle_fails_scenario),
    RB_TEST(test_expect_fail),
    RB_TEST(test_classic_warning),
    RB_TEST(test_first_start_time_wait_is_the_servers),
    RB_TEST(test_first_start_other_lingering_states),
    RB_TEST(test_first_start_without_log_evidence),
    RB_TEST(test_first_start_environment),
    RB_TEST_END
  };

  return rb_test_main("judge", cases);
}
