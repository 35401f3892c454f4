/* Unit tests of report: JSON schema 1 fields, JUnit well-formedness with hostile
   server text, and the XML cleaner. */
#include <jansson.h>
#include <libxml/parser.h>
#include <libxml/xpath.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rb_test.h"
#include "rebound/report.h"

static struct rb_cycle_result cycles[2];
static struct rb_scenario_result scenario;
static struct rb_run_result run;

static void make_run(void)
{
  memset(cycles, 0, sizeof(cycles));
  memset(&scenario, 0, sizeof(scenario));
  memset(&run, 0, sizeof(run));
  cycles[0].index = 1;
  cycles[0].pass = true;
  cycles[0].rebind_ms = 8.5;
  cycles[0].reconnect_ms = 31;
  cycles[0].ready_ms = 8.5;
  cycles[0].states_at_restart[RB_TCP_FIN_WAIT2] = 2;
  cycles[0].holders = 2;
  cycles[0].publishers_ok = 1;
  cycles[1].index = 2;
  cycles[1].pass = false;
  cycles[1].rebind_ms = -1;
  cycles[1].reconnect_ms = -1;
  cycles[1].ready_ms = -1;
  snprintf(cycles[1].diagnosis, sizeof(cycles[1].diagnosis), "bind() failed <&> \"quoted\" \x01 end");
  rb_cycle_add_failure(&cycles[1], "port 1 not rebound: %s", "x\x02y");
  cycles[1].pass = false;
  /* a log tail with controls, invalid UTF-8 and markup */
  snprintf(cycles[1].log_tail, sizeof(cycles[1].log_tail), "line\x1b[31m red\n\xff\xfe bad ]]> <tag> \xc3\xa9");
  snprintf(scenario.name, sizeof(scenario.name), "kill <one>");
  scenario.verdict = RB_VERDICT_FAIL;
  scenario.ncycles = 2;
  scenario.cycles = cycles;
  scenario.seed = 7;
  scenario.port = 1935;
  rb_scenario_result_summarize(&scenario);
  snprintf(run.scenario_file, sizeof(run.scenario_file), "s.ini");
  run.seed = 7;
  run.verdict = RB_VERDICT_FAIL;
  run.nscenarios = 1;
  run.scenarios = &scenario;
}

static void test_json_schema(void)
{
  json_t *doc, *c0, *c1;
  char *text;
  json_error_t jerr;

  make_run();
  doc = rb_report_json(&run);
  CU_ASSERT_PTR_NOT_NULL_FATAL(doc);
  text = json_dumps(doc, 0);
  json_decref(doc);
  doc = json_loads(text, 0, &jerr); /* round trip: what we write parses */
  free(text);
  CU_ASSERT_PTR_NOT_NULL_FATAL(doc);
  CU_ASSERT_EQUAL(json_integer_value(json_object_get(doc, "schema")), 1);
  CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(doc, "result")), "fail");
  CU_ASSERT_EQUAL(json_integer_value(json_object_get(doc, "seed")), 7);
  c0 = json_array_get(json_object_get(json_array_get(json_object_get(doc, "scenarios"), 0), "cycles"), 0);
  c1 = json_array_get(json_object_get(json_array_get(json_object_get(doc, "scenarios"), 0), "cycles"), 1);
  CU_ASSERT_DOUBLE_EQUAL(json_real_value(json_object_get(c0, "rebind_ms")), 8.5, 1e-9);
  CU_ASSERT_EQUAL(json_integer_value(json_object_get(json_object_get(c0, "port_states_at_restart"), "FIN_WAIT2")), 2);
  CU_ASSERT_EQUAL(json_integer_value(json_object_get(json_object_get(c0, "clients"), "holders")), 2);
  CU_ASSERT_TRUE(json_is_null(json_object_get(c1, "rebind_ms")));
  CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(c1, "result")), "fail");
  CU_ASSERT_EQUAL(json_array_size(json_object_get(c1, "failures")), 1);
  CU_ASSERT_PTR_NOT_NULL(strstr(json_string_value(json_object_get(c1, "diagnosis")), "<&> \"quoted\""));
  CU_ASSERT_EQUAL(json_integer_value(json_object_get(json_object_get(json_object_get(json_array_get(
                  json_object_get(doc, "scenarios"), 0), "summary"), "rebind_ms"), "count")), 1);
  json_decref(doc);
}

static int count_nodes(xmlDocPtr doc, const char *xpath)
{
  xmlXPathContextPtr ctx = xmlXPathNewContext(doc);
  xmlXPathObjectPtr obj = xmlXPathEvalExpression(BAD_CAST xpath, ctx);
  int n = obj && obj->nodesetval ? obj->nodesetval->nodeNr : -1;

  xmlXPathFreeObject(obj);
  xmlXPathFreeContext(ctx);
  return n;
}

static void test_junit_well_formed(void)
{
  char path[] = "/tmp/rb-junit-XXXXXX", msg[256];
  int fd = mkstemp(path);
  xmlDocPtr doc;

  CU_ASSERT_FATAL(fd >= 0);
  close(fd);
  make_run();
  CU_ASSERT_EQUAL_FATAL(rb_report_write_junit(path, &run, msg, sizeof(msg)), RB_OK);
  doc = xmlReadFile(path, NULL, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
  CU_ASSERT_PTR_NOT_NULL_FATAL(doc);
  CU_ASSERT_EQUAL(count_nodes(doc, "/testsuites/testsuite"), 1);
  CU_ASSERT_EQUAL(count_nodes(doc, "/testsuites/testsuite[@name='kill <one>']/testcase"), 2);
  CU_ASSERT_EQUAL(count_nodes(doc, "//testcase[@name='cycle 2']/failure"), 1);
  CU_ASSERT_EQUAL(count_nodes(doc, "//testcase[@name='cycle 1']/failure"), 0);
  CU_ASSERT_EQUAL(count_nodes(doc, "//testcase[@name='cycle 2']/system-out"), 1);
  CU_ASSERT_EQUAL(count_nodes(doc, "/testsuites[@failures='1']"), 1);
  xmlFreeDoc(doc);
  unlink(path);
}

static void test_xml_clean(void)
{
  char *s = rb_report_xml_clean("a\x01" "b\tc\n\xc3\xa9\xff\xed\xa0\x80z");

  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  /* control -> ?, tab/newline kept, é kept, 0xff -> ?, a UTF-16 surrogate -> ??? */
  CU_ASSERT_STRING_EQUAL(s, "a?b\tc\n\xc3\xa9?" "???z");
  free(s);
}

/* Topologies: a line per target (rebind per port, recovery) and its JSON. */
static void test_targets(void)
{
  struct rb_cycle_result c;
  char line[320];
  json_t *doc, *t;

  memset(&c, 0, sizeof(c));
  c.ntargets = 1;
  snprintf(c.targets[0].name, sizeof(c.targets[0].name), "target");
  c.targets[0].restarted = true;
  c.targets[0].nports = 1;
  c.targets[0].ports[0].port = 1935;
  c.targets[0].ports[0].rebind_ms = 4.12;
  CU_ASSERT_FALSE(rb_report_has_targets(&c)); /* one target, one port: the cycle line says it all */
  c.targets[0].nports = 2;
  c.targets[0].ports[1].port = 8080;
  c.targets[0].ports[1].rebind_ms = -1;
  CU_ASSERT(rb_report_has_targets(&c));
  rb_report_target_line(&c.targets[0], line, sizeof(line));
  CU_ASSERT_STRING_EQUAL(line, "target: restarted, rebind port 1935 4.1 ms, port 8080 not rebound");
  c.ntargets = 2;
  snprintf(c.targets[1].name, sizeof(c.targets[1].name), "edge");
  c.targets[1].plays = true;
  c.targets[1].recovery_ms = 1025.04;
  rb_report_target_line(&c.targets[1], line, sizeof(line));
  CU_ASSERT_STRING_EQUAL(line, "edge: not restarted, players recovered 1025.0 ms after the restart");
  c.targets[1].recovery_ms = -1;
  rb_report_target_line(&c.targets[1], line, sizeof(line));
  CU_ASSERT_STRING_EQUAL(line, "edge: not restarted, players did not recover");
  /* a line that does not fit is cut, not overrun */
  rb_report_target_line(&c.targets[0], line, 10);
  CU_ASSERT_EQUAL(strlen(line), 9);
  /* JSON: every target, every port; recovery only for the players' target */
  make_run();
  cycles[0].ntargets = 2;
  memcpy(cycles[0].targets, c.targets, sizeof(c.targets));
  cycles[0].targets[1].recovery_ms = 990.5;
  cycles[0].recovery_ms = 990.5;
  doc = rb_report_json(&run);
  CU_ASSERT_PTR_NOT_NULL_FATAL(doc);
  t = json_object_get(json_array_get(json_object_get(json_array_get(json_object_get(doc, "scenarios"), 0), "cycles"), 0),
                      "targets");
  CU_ASSERT_EQUAL(json_array_size(t), 2);
  CU_ASSERT_EQUAL(json_integer_value(json_object_get(json_array_get(json_object_get(json_array_get(t, 0), "ports"), 1),
                                                     "port")), 8080);
  CU_ASSERT(json_is_null(json_object_get(json_array_get(json_object_get(json_array_get(t, 0), "ports"), 1),
                                         "rebind_ms")));
  CU_ASSERT_PTR_NULL(json_object_get(json_array_get(t, 0), "recovery_ms"));
  CU_ASSERT_DOUBLE_EQUAL(json_real_value(json_object_get(json_array_get(t, 1), "recovery_ms")), 990.5, 0.001);
  CU_ASSERT(json_is_true(json_object_get(json_array_get(t, 1), "players")));
  json_decref(doc);
}

int main(void)
{
  static const struct rb_test_case cases[] = {
    RB_TEST(test_json_schema), RB_TEST(test_junit_well_formed), RB_TEST(test_xml_clean), RB_TEST(test_targets), RB_TEST_END
  };
  int rc = rb_test_main("report", cases);

  xmlCleanupParser();
  return rc;
}
