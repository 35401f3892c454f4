/* Unit tests of the scenario loader: inheritance, overrides, expansion, and every
   class of error with its FILE:LINE. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rb_test.h"
#include "rebound/clock.h"
#include "rebound/scenario.h"

static rb_err load(const char *text, char *const *sets, char *const *only, struct rb_scenario_set *set,
                   char *msg, size_t msglen)
{
  return rb_scenario_load_string(text, "t.ini", "/tmp", sets, only, set, msg, msglen);
}

static void test_inheritance_and_defaults(void)
{
  struct rb_scenario_set set;
  char msg[512];
  const char *text =
    "; comment\n"
    "# another\n"
    "[global]\n"
    "command = exec server --port ${port}\n"
    "cycles = 3\n"
    "grace = 250ms\n"
    "\n"
    "[a]\n"
    "port = auto\n"
    "[b]\n"
    "cycles = 7\n"
    "port = 19350\n"
    "fault = sigkill-main\n"
    "hang_for = 1m\n";

  CU_ASSERT_EQUAL_FATAL(load(text, NULL, NULL, &set, msg, sizeof(msg)), RB_OK);
  CU_ASSERT_EQUAL_FATAL(set.count, 2);
  CU_ASSERT_STRING_EQUAL(set.items[0].name, "a");
  CU_ASSERT_EQUAL(set.items[0].cycles, 3);
  CU_ASSERT_TRUE(set.items[0].port_auto);
  CU_ASSERT_EQUAL(set.items[0].grace_ns, 250 * RB_NS_PER_MS);
  CU_ASSERT_EQUAL(set.items[0].fault, RB_FAULT_SIGKILL);
  CU_ASSERT_EQUAL(set.items[0].publishers, 1);
  CU_ASSERT_EQUAL(set.items[0].holders, 2);
  CU_ASSERT_EQUAL(set.items[0].rebind_timeout_ns, 5 * RB_NS_PER_S);
  CU_ASSERT_EQUAL(set.items[0].line, 8);
  CU_ASSERT_STRING_EQUAL(set.items[1].name, "b");
  CU_ASSERT_EQUAL(set.items[1].cycles, 7);
  CU_ASSERT_EQUAL(set.items[1].port, 19350);
  CU_ASSERT_FALSE(set.items[1].port_auto);
  CU_ASSERT_EQUAL(set.items[1].fault, RB_FAULT_SIGKILL_MAIN);
  CU_ASSERT_EQUAL(set.items[1].hang_for_ns, 60 * RB_NS_PER_S);
  CU_ASSERT_STRING_EQUAL(set.items[1].raw[RB_OPT_RESTART_COMMAND], "${command}");
  rb_scenario_set_free(&set);
}

static void test_overrides_and_only(void)
{
  struct rb_scenario_set set;
  char msg[512];
  char *sets[] = { "cycles=2", "publish_for=0", NULL };
  char *only[] = { "b", NULL };
  const char *text = "[global]\ncommand = x\ncycles = 9\n[a]\n[b]\ncycles = 5\n";

  CU_ASSERT_EQUAL_FATAL(load(text, sets, only, &set, msg, sizeof(msg)), RB_OK);
  CU_ASSERT_EQUAL_FATAL(set.count, 1);
  CU_ASSERT_STRING_EQUAL(set.items[0].name, "b");
  CU_ASSERT_EQUAL(set.items[0].cycles, 2);
  CU_ASSERT_EQUAL(set.items[0].publish_for_ns, 0);
  rb_scenario_set_free(&set);
}

static void test_fault_exec_and_typed_reference(void)
{
  struct rb_scenario_set set;
  char msg[512];
  const char *text = "[s]\nfault = exec:systemctl restart x\nhang_for = 3s\ngrace = ${hang_for}\n"
                     "[t]\ncommand = x\nport = auto\nfault = exec:pkill -f 'srv --port ${port}'\n"
                     "ready = http://${host}:${port}/stat\n";

  CU_ASSERT_EQUAL_FATAL(load(text, NULL, NULL, &set, msg, sizeof(msg)), RB_OK);
  CU_ASSERT_EQUAL(set.items[0].fault, RB_FAULT_EXEC);
  CU_ASSERT_STRING_EQUAL(set.items[0].fault_exec, "systemctl restart x");
  CU_ASSERT_EQUAL(set.items[0].grace_ns, 3 * RB_NS_PER_S);
  CU_ASSERT_EQUAL_FATAL(set.count, 2);
  CU_ASSERT_EQUAL(set.items[1].fault, RB_FAULT_EXEC);
  CU_ASSERT_STRING_EQUAL(set.items[1].fault_exec, "pkill -f 'srv --port ${port}'");
  rb_scenario_set_free(&set);
}

static void test_expansion(void)
{
  struct rb_scenario_set set;
  struct rb_scenario_vars vars = { .run_dir = "/run/x", .config = "/run/x/n.conf", .cycle = 4, .client = 2 };
  char msg[512], *out = NULL;
  const char *text =
    "[s]\ncommand = exec srv -p ${port} -d ${run_dir} -c ${config} $${HOME} $PATH ${cycle}\n"
    "port = 2000\napp = app-${name}\n";

  CU_ASSERT_EQUAL_FATAL(load(text, NULL, NULL, &set, msg, sizeof(msg)), RB_OK);
  CU_ASSERT_EQUAL(rb_scenario_expand_key(&set.items[0], RB_OPT_COMMAND, &vars, &out, msg, sizeof(msg)), RB_OK);
  CU_ASSERT_STRING_EQUAL(out, "exec srv -p 2000 -d /run/x -c /run/x/n.conf ${HOME} $PATH 4");
  free(out);
  CU_ASSERT_EQUAL(rb_scenario_expand_key(&set.items[0], RB_OPT_URL, &vars, &out, msg, sizeof(msg)), RB_OK);
  CU_ASSERT_STRING_EQUAL(out, "rtmp://127.0.0.1:2000/app-s");
  free(out);
  CU_ASSERT_EQUAL(rb_scenario_expand_key(&set.items[0], RB_OPT_STREAM, &vars, &out, msg, sizeof(msg)), RB_OK);
  CU_ASSERT_STRING_EQUAL(out, "rebound-2");
  free(out);
  /* run-time built-ins are unavailable without vars */
  CU_ASSERT_EQUAL(rb_scenario_expand_key(&set.items[0], RB_OPT_COMMAND, NULL, &out, msg, sizeof(msg)),
                  RB_ERR_SCENARIO);
  CU_ASSERT_PTR_NOT_NULL(strstr(msg, "run_dir"));
  rb_scenario_set_free(&set);
}

static void test_expansion_loop_is_an_error(void)
{
  struct rb_scenario_set set;
  char msg[512], *out = NULL;
  const char *text = "[s]\ncommand = x\napp = ${stream}\nstream = ${app}\n";

  CU_ASSERT_EQUAL_FATAL(load(text, NULL, NULL, &set, msg, sizeof(msg)), RB_OK);
  CU_ASSERT_EQUAL(rb_scenario_expand_key(&set.items[0], RB_OPT_APP, NULL, &out, msg, sizeof(msg)), RB_ERR_SCENARIO);
  CU_ASSERT_PTR_NULL(out);
  CU_ASSERT_PTR_NOT_NULL(strstr(msg, "too deep"));
  rb_scenario_set_free(&set);
}

static void test_expansion_bomb_is_bounded(void)
{
  struct rb_scenario_set set;
  char msg[512], *out = NULL;
  /* each level doubles: 2^16 copies would be far past the cap */
  const char *text =
    "[s]\ncommand = ${host}${host}${host}${host}${host}${host}${host}${host}\n"
    "host = ${app}${app}${app}${app}${app}${app}${app}${app}\n"
    "app = ${stream}${stream}${stream}${stream}${stream}${stream}${stream}${stream}\n"
    "stream = ${url}${url}${url}${url}${url}${url}${url}${url}\n"
    "url = xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n";

  CU_ASSERT_EQUAL_FATAL(load(text, NULL, NULL, &set, msg, sizeof(msg)), RB_OK);
  CU_ASSERT_EQUAL(rb_scenario_expand_key(&set.items[0], RB_OPT_COMMAND, NULL, &out, msg, sizeof(msg)),
                  RB_ERR_SCENARIO);
  CU_ASSERT_PTR_NOT_NULL(strstr(msg, "longer than"));
  rb_scenario_set_free(&set);
}

struct error_case {
  const char *text;
  const char *where;   /* expected "t.ini:LINE" prefix, or "--set" */
  const char *needle;  /* expected part of the message */
};

static void test_net_fault_keys(void)
{
  static const struct error_case bad[] = {
    { "[s]\ncommand = x\nnet_fault = wifi\n", "t.ini:3:", "bad net_fault 'wifi'" },
    { "[s]\ncommand = x\nnet_fault = latency:soon\n", "t.ini:3:", "needs a duration" },
    { "[s]\ncommand = x\nnet_fault = bandwidth:fast\n", "t.ini:3:", "bytes per second" },
    { "[s]\ncommand = x\nnet_fault_clients = some\n", "t.ini:3:", "bad net_fault_clients" },
    { "[s]\ncommand = x\nfault = network\n", "t.ini:1:", "fault = network needs net_fault" },
    { "[s]\ncommand = x\nfault = network\nnet_fault = latency:5ms\n", "t.ini:1:", "needs net_fault" },
  };
  struct rb_scenario_set set;
  char msg[512];
  const char *text = "[a]\ncommand = x\n"
                     "[b]\ncommand = x\nfault = network\nnet_fault = blackhole\nnet_fault_clients = publishers\n"
                     "[c]\ncommand = x\nnet_fault = partition:2s\nnet_fault_clients = 3\n"
                     "[d]\ncommand = x\nnet_fault = bandwidth:500k\n";

  CU_ASSERT_EQUAL_FATAL(load(text, NULL, NULL, &set, msg, sizeof(msg)), RB_OK);
  CU_ASSERT_EQUAL_FATAL(set.count, 4);
  CU_ASSERT_EQUAL(set.items[0].net_fault.kind, RB_NETFAULT_NONE); /* no proxy unless asked */
  CU_ASSERT_EQUAL(set.items[0].net_clients, RB_NET_CLIENTS_ALL);
  CU_ASSERT_EQUAL(set.items[1].fault, RB_FAULT_NETWORK);
  CU_ASSERT_STRING_EQUAL(rb_fault_name(set.items[1].fault), "network");
  CU_ASSERT_EQUAL(set.items[1].net_fault.kind, RB_NETFAULT_BLACKHOLE);
  CU_ASSERT_EQUAL(set.items[1].net_clients, RB_NET_CLIENTS_PUBLISHERS);
  CU_ASSERT_EQUAL(set.items[2].fault, RB_FAULT_SIGKILL); /* with a kill: a host crash */
  CU_ASSERT_EQUAL(set.items[2].net_fault.kind, RB_NETFAULT_PARTITION);
  CU_ASSERT_EQUAL(set.items[2].net_fault.ns, 2 * RB_NS_PER_S);
  CU_ASSERT_EQUAL(set.items[2].net_clients, RB_NET_CLIENTS_COUNT);
  CU_ASSERT_EQUAL(set.items[2].net_clients_n, 3);
  CU_ASSERT_EQUAL(set.items[3].net_fault.rate, 500000);
  rb_scenario_set_free(&set);
  for(size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    char m[512] = "";

    CU_ASSERT_EQUAL(load(bad[i].text, NULL, NULL, &set, m, sizeof(m)), RB_ERR_SCENARIO);
    if(strncmp(m, bad[i].where, strlen(bad[i].where)) || !strstr(m, bad[i].needle)) {
      fprintf(stderr, "net case %zu: got '%s', want '%s...%s'\n", i, m, bad[i].where, bad[i].needle);
      CU_FAIL("error message");
    }
  }
}

static void test_error_table(void)
{
  static const struct error_case cases[] = {
    { "[s]\ncommand = x\nbogus = 1\n", "t.ini:3:", "unknown key 'bogus'" },
    { "[s]\ncommand = x\ngrace = 5 parsecs\n", "t.ini:3:", "bad duration" },
    { "[s]\ncommand = x\ngrace = -1s\n", "t.ini:3:", "bad duration" },
    { "[s]\ncommand = x\nport = 70000\n", "t.ini:3:", "bad port" },
    { "[s]\ncommand = x\nport = 0\n", "t.ini:3:", "bad port" },
    { "[s]\ncommand = x\ncycles = 99999999999999999999999\n", "t.ini:3:", "bad value" },
    { "[s]\ncommand = x\ncycles = 2000000\n", "t.ini:3:", "bad value" },
    { "[s]\ncommand = x\nseed = 99999999999999999999999\n", "t.ini:3:", "bad value" },
    { "[s]\ncommand = x\ncycles = ten\n", "t.ini:3:", "bad value" },
    { "[s]\ncommand = x ${port\n", "t.ini:2:", "unterminated ${" },
    { "[s]\ncommand = x ${nope}\n", "t.ini:2:", "unknown variable ${nope}" },
    { "[s]\ncommand = x\n[s]\n", "t.ini:3:", "duplicate section [s] (first at line 1)" },
    { "[]\ncommand = x\n", "t.ini:1:", "empty section name" },
    { "[s\ncommand = x\n", "t.ini:1:", "unterminated section header" },
    { "[s] x\ncommand = x\n", "t.ini:1:", "unexpected text after section header" },
    { "[s/t]\ncommand = x\n", "t.ini:1:", "bad section name" },
    { "command = x\n[s]\n", "t.ini:1:", "outside a section" },
    { "[s]\ncommand = x\ncommand = y\n", "t.ini:3:", "duplicate key 'command'" },
    { "[s]\ncommand = x\nthis is not a key value line\n", "t.ini:3:", "syntax error" },
    { "[s]\ncommand = x\x01y\n", "t.ini:2:", "binary content" },
    { "; nothing here\n", "t.ini:", "no scenarios" },
    { "[global]\ncommand = x\n", "t.ini:", "no scenarios" },
    { "[s]\nport = 1936\n", "t.ini:1:", "has no command" },
    { "[s]\ncommand = x\nfault = sigsegv\n", "t.ini:3:", "bad fault" },
    { "[s]\ncommand = x\nfault = exec:\n", "t.ini:3:", "needs a command" },
    { "[s]\ncommand = x\nfault_at = lunchtime\n", "t.ini:3:", "expected one of publishing" },
    { "[s]\ncommand = x\nready = ftp://x\n", "t.ini:3:", "bad ready" },
    { "[s]\ncommand = x\ncycles = ${app}\n", "t.ini:3:", "bad value 'live' for cycles" },
    { "[s]\ncommand = x\ncycles = 0\n", "t.ini:1:", "at least 1" },
    { "[s]\ncommand = x\nplayers = 2\npublishers = 0\n", "t.ini:1:", "players but no publishers" },
    { "[s]\ncommand = x\nhls_players = 1\npublishers = 0\n", "t.ini:1:", "players but no publishers" },
    { "[s]\ncommand = x\nflv_players = 1\n", "t.ini:1:",
      "has HTTP-FLV players but flv_url names ${http_port}, which is not set" },
    { "[s]\ncommand = x\nhls_players = 1\n", "t.ini:1:",
      "has HLS players but hls_url names ${http_port}, which is not set" },
    { "[s]\ncommand = x\nflv_players = 1\nflv_url = http://${host}:${nope}/x.flv\n", "t.ini:4:",
      "unknown variable ${nope}" },
    { "[global]\ngrace = ${cycle}\n[s]\ncommand = x\n", "t.ini:2:", "not available" },
    { "[s]\ncommand = x\nreconnect = ffmpeg\n", "t.ini:3:", "bad reconnect 'ffmpeg'" },
    { "[s]\ncommand = x\nreconnect = obs:factor=0\n", "t.ini:3:", "reconnect parameter factor" },
    { "[s]\ncommand = x\nkeep_across_reconnect = everything\n", "t.ini:3:", "expected one of nothing" },
  };

  for(size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    struct rb_scenario_set set;
    char msg[512] = "";
    rb_err err = load(cases[i].text, NULL, NULL, &set, msg, sizeof(msg));

    CU_ASSERT_EQUAL(err, RB_ERR_SCENARIO);
    CU_ASSERT_EQUAL(set.count, 0);
    if(strncmp(msg, cases[i].where, strlen(cases[i].where)) || !strstr(msg, cases[i].needle)) {
      fprintf(stderr, "case %zu: got '%s', want '%s...%s'\n", i, msg, cases[i].where, cases[i].needle);
      CU_FAIL("error message");
    }
  }
}

static void test_long_line(void)
{
  size_t n = 1024 * 1024;
  char *text = malloc(n + 64), msg[512];
  struct rb_scenario_set set;

  CU_ASSERT_PTR_NOT_NULL_FATAL(text);
  strcpy(text, "[s]\ncommand = ");
  memset(text + strlen(text), 'a', n);
  text[14 + n] = '\0';
  CU_ASSERT_EQUAL(load(text, NULL, NULL, &set, msg, sizeof(msg)), RB_ERR_SCENARIO);
  CU_ASSERT_PTR_NOT_NULL(strstr(msg, "t.ini:2: line too long"));
  free(text);
}

/* Long but legal lines (shell commands, URLs with tokens) must load intact. */
static void test_long_legal_line(void)
{
  char text[4200], msg[512];
  struct rb_scenario_set set;
  size_t n = 4000;

  strcpy(text, "[s]\ncommand = ");
  memset(text + strlen(text), 'b', n);
  strcpy(text + 14 + n, "\n");
  CU_ASSERT_EQUAL_FATAL(load(text, NULL, NULL, &set, msg, sizeof(msg)), RB_OK);
  CU_ASSERT_EQUAL(strlen(set.items[0].raw[RB_OPT_COMMAND]), n);
  rb_scenario_set_free(&set);
}

static void test_set_errors(void)
{
  static const struct { const char *set; const char *needle; } cases[] = {
    { "bogus=1", "unknown key 'bogus'" },
    { "cycles", "expected KEY=VALUE" },
    { "=3", "expected KEY=VALUE" },
    { "grace=forever", "bad duration" },
    { "port=http", "bad port" },
  };

  for(size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    struct rb_scenario_set set;
    char msg[512] = "";
    char *sets[] = { (char *)cases[i].set, NULL };

    CU_ASSERT_EQUAL(load("[s]\ncommand = x\n", sets, NULL, &set, msg, sizeof(msg)), RB_ERR_SCENARIO);
    if(strncmp(msg, "--set", 5) || !strstr(msg, cases[i].needle)) {
      fprintf(stderr, "set case %zu: got '%s'\n", i, msg);
      CU_FAIL("--set error message");
    }
  }
}

static void test_only_unknown(void)
{
  struct rb_scenario_set set;
  char msg[512];
  char *only[] = { "nope", NULL };

  CU_ASSERT_EQUAL(load("[s]\ncommand = x\n", NULL, only, &set, msg, sizeof(msg)), RB_ERR_SCENARIO);
  CU_ASSERT_PTR_NOT_NULL(strstr(msg, "no scenario named 'nope'"));
}

static char *write_temp(const char *data, size_t len)
{
  static char path[64];
  int fd;

  strcpy(path, "/tmp/rb-scenario-XXXXXX");
  fd = mkstemp(path);
  if(fd < 0)
    return NULL;
  if(write(fd, data, len) != (ssize_t)len) {
    close(fd);
    return NULL;
  }
  close(fd);
  return path;
}

static void test_files(void)
{
  struct rb_scenario_set set;
  char msg[512], *path;

  CU_ASSERT_EQUAL(rb_scenario_load("/nonexistent/x.ini", NULL, NULL, &set, msg, sizeof(msg)), RB_ERR_NOT_FOUND);
  CU_ASSERT_PTR_NOT_NULL(strstr(msg, "/nonexistent/x.ini"));
  CU_ASSERT_PTR_NOT_NULL_FATAL(path = write_temp("", 0));
  CU_ASSERT_EQUAL(rb_scenario_load(path, NULL, NULL, &set, msg, sizeof(msg)), RB_ERR_SCENARIO);
  CU_ASSERT_PTR_NOT_NULL(strstr(msg, "empty file"));
  unlink(path);
  CU_ASSERT_PTR_NOT_NULL_FATAL(path = write_temp("[s]\ncommand = a\0b\n", 18));
  CU_ASSERT_EQUAL(rb_scenario_load(path, NULL, NULL, &set, msg, sizeof(msg)), RB_ERR_SCENARIO);
  CU_ASSERT_PTR_NOT_NULL(strstr(msg, ":2: binary content"));
  unlink(path);
  CU_ASSERT_PTR_NOT_NULL_FATAL(path = write_temp("[s]\ncommand = x\n", 16));
  CU_ASSERT_EQUAL(rb_scenario_load(path, NULL, NULL, &set, msg, sizeof(msg)), RB_OK);
  CU_ASSERT_STRING_EQUAL(set.items[0].scenario_dir, "/tmp");
  rb_scenario_set_free(&set);
  unlink(path);
}

static void test_reconnect_profiles(void)
{
  struct rb_scenario_set set;
  char msg[512] = "";
  const char *text = "[global]\nreconnect = obs:retries=20\n[a]\ncommand = x\n[b]\ncommand = x\n"
                     "reconnect = fixed:5s,first=0\nkeep_across_reconnect = chunk-size\n[c]\ncommand = x\n"
                     "reconnect = rebound\n";

  CU_ASSERT_EQUAL_FATAL(load(text, NULL, NULL, &set, msg, sizeof(msg)), RB_OK);
  CU_ASSERT_EQUAL_FATAL(set.count, 3);
  CU_ASSERT_EQUAL(set.items[0].reconnect.kind, RB_BACKOFF_OBS);
  CU_ASSERT_EQUAL(set.items[0].reconnect.retries, 20);
  CU_ASSERT_EQUAL(set.items[0].reconnect.first_ns, 2 * RB_NS_PER_S);
  CU_ASSERT_EQUAL(set.items[0].keep_across_reconnect, RB_KEEP_NOTHING);
  CU_ASSERT_EQUAL(set.items[1].reconnect.kind, RB_BACKOFF_FIXED);
  CU_ASSERT_EQUAL(set.items[1].reconnect.first_ns, 0);
  CU_ASSERT_EQUAL(set.items[1].reconnect.interval_ns, 5 * RB_NS_PER_S);
  CU_ASSERT_EQUAL(set.items[1].keep_across_reconnect, RB_KEEP_CHUNK_SIZE);
  CU_ASSERT_EQUAL(set.items[2].reconnect.kind, RB_BACKOFF_REBOUND);
  rb_scenario_set_free(&set);
}

static void test_keys_lists_every_option(void)
{
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);

  CU_ASSERT_PTR_NOT_NULL_FATAL(f);
  rb_scenario_print_keys(f);
  fclose(f);
  for(size_t i = 0; i < RB_OPT__COUNT; i++) {
    char needle[64];

    snprintf(needle, sizeof(needle), "\n%s ", rb_options[i].name);
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, needle));
  }
  free(buf);
}

static void test_durations(void)
{
  static const struct { const char *text; int64_t ns; bool ok; } cases[] = {
    { "250ms", 250 * RB_NS_PER_MS, true }, { "2s", 2 * RB_NS_PER_S, true }, { "1m", 60 * RB_NS_PER_S, true },
    { "3", 3 * RB_NS_PER_S, true }, { "1.5s", 1500 * RB_NS_PER_MS, true }, { "0", 0, true },
    { "10us", 10000, true }, { "1h", 3600 * RB_NS_PER_S, true },
    { "", 0, false }, { "-1s", 0, false }, { "s", 0, false }, { "1x", 0, false }, { "1 s", 0, false },
    { "inf", 0, false }, { "nan", 0, false }, { "0x10", 0, false }, { "1e30s", 0, false },
    { "99999999999h", 0, false },
  };

  for(size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    int64_t ns = -1;
    bool ok = rb_duration_parse(cases[i].text, &ns);

    CU_ASSERT_EQUAL(ok, cases[i].ok);
    if(ok && cases[i].ok)
      CU_ASSERT_EQUAL(ns, cases[i].ns);
    if(ok != cases[i].ok)
      fprintf(stderr, "duration case '%s'\n", cases[i].text);
  }
}

/* Topologies (issue 14): [target NAME] sections, their keys, NAME.key in scenarios,
   ${NAME.port} across targets, fault_target / publish_to / play_from. */
static void test_topology(void)
{
  struct rb_scenario_set set;
  struct rb_scenario_vars vars = { .run_dir = "/r", .client = -1 };
  char msg[512], *out = NULL;
  static char *const sets[] = { "ready_timeout=3s", NULL };
  const char *text =
    "[global]\n"
    "port = auto\n"
    "ready_timeout = 7s\n"
    "[target origin]\n"
    "command = exec srv --port ${port}\n"
    "port = 2000\n"
    "[target edge]\n"
    "command = exec srv --port ${port} --pull rtmp://${origin.host}:${origin.port}/live/x\n"
    "host = 127.0.0.2\n"
    "[one]\n"
    "fault_target = edge\n"
    "play_from = edge\n"
    "[two]\n"
    "targets = edge, origin\n"
    "fault_target = all\n"
    "edge.command = exec other ${origin.port}\n";

  CU_ASSERT_EQUAL_FATAL(load(text, NULL, NULL, &set, msg, sizeof(msg)), RB_OK);
  CU_ASSERT_EQUAL_FATAL(set.count, 2); /* target sections are not scenarios */
  {
    struct rb_scenario *a = &set.items[0], *b = &set.items[1];

    CU_ASSERT_EQUAL_FATAL(a->ntargets, 2);
    CU_ASSERT_STRING_EQUAL(a->targets[0].target_name, "origin");
    CU_ASSERT_STRING_EQUAL(a->targets[1].target_name, "edge");
    CU_ASSERT_EQUAL(a->fault_target, 1);
    CU_ASSERT_EQUAL(a->publish_to, 0);
    CU_ASSERT_EQUAL(a->play_from, 1);
    CU_ASSERT_EQUAL(a->targets[0].port, 2000);
    CU_ASSERT(a->targets[1].port_auto);
    CU_ASSERT_EQUAL(a->targets[1].ready_timeout_ns, 7 * RB_NS_PER_S); /* [global] reaches the targets */
    a->targets[1].port = 3000; /* what the engine does with auto */
    CU_ASSERT_EQUAL(rb_scenario_expand_key(&a->targets[1], RB_OPT_COMMAND, &vars, &out, msg, sizeof(msg)), RB_OK);
    CU_ASSERT_STRING_EQUAL(out, "exec srv --port 3000 --pull rtmp://127.0.0.1:2000/live/x");
    free(out);
    CU_ASSERT_EQUAL_FATAL(b->ntargets, 2);
    CU_ASSERT_STRING_EQUAL(b->targets[0].target_name, "edge");
    CU_ASSERT_EQUAL(b->fault_target, -1);
    CU_ASSERT_EQUAL(b->play_from, b->publish_to); /* default: where publishers publish */
    CU_ASSERT_EQUAL(rb_scenario_expand_key(&b->targets[0], RB_OPT_COMMAND, &vars, &out, msg, sizeof(msg)), RB_OK);
    CU_ASSERT_STRING_EQUAL(out, "exec other 2000"); /* NAME.key in the scenario wins */
    free(out);
    CU_ASSERT_EQUAL(rb_scenario_expand(&b->targets[1], "${edge.host}", &vars, &out, msg, sizeof(msg)), RB_OK);
    CU_ASSERT_STRING_EQUAL(out, "127.0.0.2");
    free(out);
  }
  rb_scenario_set_free(&set);
  /* --set of a target key reaches every target */
  CU_ASSERT_EQUAL_FATAL(load(text, sets, NULL, &set, msg, sizeof(msg)), RB_OK);
  CU_ASSERT_EQUAL(set.items[0].targets[0].ready_timeout_ns, 3 * RB_NS_PER_S);
  rb_scenario_set_free(&set);
  /* a file without target sections: nothing changes */
  CU_ASSERT_EQUAL_FATAL(load("[a]\ncommand = x\n", NULL, NULL, &set, msg, sizeof(msg)), RB_OK);
  CU_ASSERT_EQUAL(set.items[0].ntargets, 0);
  CU_ASSERT_PTR_NULL(set.items[0].topology);
  rb_scenario_set_free(&set);
}

static void test_topology_errors(void)
{
  static const struct { const char *text; const char *want; } cases[] = {
    { "[target a]\ncycles = 2\n[s]\n", "t.ini:2: key 'cycles' is not a target key" },
    { "[target a]\ncommand = x\n[s]\nfault_target = b\n", "t.ini:4: fault_target = b: not one of this scenario's targets" },
    { "[target a]\ncommand = x\n[s]\nplay_from = all\n", "t.ini:4: play_from = all: not one of" },
    { "[target a]\ncommand = x\n[s]\ntargets = a b\n", "t.ini:4: targets: no [target b] section" },
    { "[target a]\ncommand = x\n[s]\ntargets = a a\n", "targets: a is listed twice" },
    { "[target a]\ncommand = ${b.port}\n[s]\n", "t.ini:2: command: ${b.port}: no target b" },
    { "[s]\ncommand = x ${a.port}\n", "no target a in the file" },
    { "[s]\ncommand = x\nfault_target = a\n", "fault_target needs [target NAME] sections" },
    { "[s]\ncommand = x\ntargets = a\n", "targets: no [target NAME] section in the file" },
    { "[target a]\ncommand = x\n[s]\nb.command = y\n", "t.ini:4: b.command: no target b" },
    { "[target a]\ncommand = x\n[s]\na.cycles = 2\n", "t.ini:4: bad key 'a.cycles'" },
    { "[target a]\n[s]\n", "[target a] has no command" },
    { "[target ]\ncommand = x\n[s]\n", "a target needs a name" },
    { "[target a.b]\ncommand = x\n[s]\n", "bad target name" },
    { "[target a]\ncommand = x\n", "no scenarios" },
    { "[target a]\ncommand = x\n[target b]\ncommand = y\n[s]\nfault = reload\nfault_target = all\n",
      "t.ini:7: fault = reload reloads one target: name it in fault_target" },
    /* HTTP players play from play_from, and only from the target the fault restarts */
    { "[target o]\ncommand = x\n[target e]\ncommand = y\nhttp_port = 8080\n[s]\nplay_from = e\n"
      "fault_target = o\nflv_players = 1\n",
      "t.ini:9: HTTP-FLV and HLS players play from play_from = e, which fault_target = o does not restart" },
    { "[target o]\ncommand = x\nhttp_port = 8080\n[target e]\ncommand = y\n[s]\nplay_from = e\nfault_target = e\n"
      "hls_players = 1\n",
      "has HLS players but hls_url names ${http_port}, which is not set on play_from target e" },
  };
  struct rb_scenario_set set;
  char msg[512];

  for(size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    msg[0] = '\0';
    CU_ASSERT_EQUAL(load(cases[i].text, NULL, NULL, &set, msg, sizeof(msg)), RB_ERR_SCENARIO);
    if(!strstr(msg, cases[i].want)) {
      fprintf(stderr, "case %zu: '%s' does not contain '%s'\n", i, msg, cases[i].want);
      CU_FAIL("topology error message");
    }
  }
  /* only play_from needs an http_port for HTTP players */
  CU_ASSERT_EQUAL(load("[target o]\ncommand = x\n[target e]\ncommand = y\nhttp_port = 8080\n[s]\nplay_from = e\n"
                       "fault_target = e\nflv_players = 1\n", NULL, NULL, &set, msg, sizeof(msg)), RB_OK);
  if(set.count) {
    CU_ASSERT_EQUAL(set.items[0].flv_players, 1);
    CU_ASSERT_EQUAL(set.items[0].play_from, 1);
    rb_scenario_set_free(&set);
  }
  /* a reload goes to one named target */
  CU_ASSERT_EQUAL(load("[target a]\ncommand = x\n[target b]\ncommand = y\n[s]\nfault = reload\nfault_target = b\n",
                       NULL, NULL, &set, msg, sizeof(msg)), RB_OK);
  if(set.count) {
    CU_ASSERT_EQUAL(set.items[0].fault, RB_FAULT_RELOAD);
    CU_ASSERT_EQUAL(set.items[0].fault_target, 1);
    rb_scenario_set_free(&set);
  }
  /* --only names scenarios, not targets */
  {
    static char *const only[] = { "target a", NULL };

    CU_ASSERT_EQUAL(load("[target a]\ncommand = x\n[s]\n", NULL, only, &set, msg, sizeof(msg)), RB_ERR_SCENARIO);
  }
}

int main(void)
{
  static const struct rb_test_case cases[] = {
    RB_TEST(test_inheritance_and_defaults),
    RB_TEST(test_reconnect_profiles),
    RB_TEST(test_overrides_and_only),
    RB_TEST(test_fault_exec_and_typed_reference),
    RB_TEST(test_expansion),
    RB_TEST(test_expansion_loop_is_an_error),
    RB_TEST(test_expansion_bomb_is_bounded),
    RB_TEST(test_error_table),
    RB_TEST(test_long_line),
    RB_TEST(test_long_legal_line),
    RB_TEST(test_set_errors),
    RB_TEST(test_only_unknown),
    RB_TEST(test_files),
    RB_TEST(test_keys_lists_every_option),
    RB_TEST(test_durations),
    RB_TEST(test_topology),
    RB_TEST(test_topology_errors),
    RB_TEST(test_net_fault_keys),
    RB_TEST_END
  };

  return rb_test_main("scenario", cases);
}
