/*
 * report (JUnit): results as JUnit XML for Jenkins, GitLab and GitHub consumers.
 *
 * Text goes through rb_report_xml_text/attr (report_xml.c): valid XML 1.0 first,
 * then libxml2's writer escapes it.
 */
#include <libxml/xmlwriter.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rebound/report.h"

static int attr_fmt(xmlTextWriterPtr w, const char *name, const char *fmt, double v)
{
  return xmlTextWriterWriteFormatAttribute(w, BAD_CAST name, fmt, v);
}

static size_t count_failed(const struct rb_scenario_result *s)
{
  size_t n = 0;

  for(size_t i = 0; i < s->ncycles; i++)
    n += !s->cycles[i].pass;
  return n;
}

static double total_seconds(const struct rb_scenario_result *s)
{
  double ms = s->first_ready_ms;

  for(size_t i = 0; i < s->ncycles; i++)
    ms += s->cycles[i].duration_ms;
  return ms / 1000.0;
}

/* <system-out>: a line per target (rebind per port, recovery), then the server's log
   tail when the cycle failed. */
static void write_output(xmlTextWriterPtr w, const struct rb_cycle_result *c)
{
  char text[RB_MAX_TARGETS * RB_FAILURE_LEN + RB_LOG_TAIL_LEN + 8];
  size_t used = 0;

  text[0] = '\0';
  for(size_t i = 0; rb_report_has_targets(c) && i < c->ntargets; i++) {
    rb_report_target_line(&c->targets[i], text + used, sizeof(text) - used);
    used += strlen(text + used);
    used += (size_t)snprintf(text + used, sizeof(text) - used, "\n");
  }
  if(!c->pass && c->log_tail[0])
    snprintf(text + used, sizeof(text) - used, "%s", c->log_tail);
  if(!text[0])
    return;
  xmlTextWriterStartElement(w, BAD_CAST "system-out");
  rb_report_xml_text(w, text);
  xmlTextWriterEndElement(w);
}

static void write_cycle(xmlTextWriterPtr w, const struct rb_scenario_result *s, const struct rb_cycle_result *c)
{
  char name[64], classname[160], text[RB_FAILURE_LEN * RB_MAX_FAILURES + 64];
  size_t used = 0;

  snprintf(name, sizeof(name), "cycle %u", c->index);
  snprintf(classname, sizeof(classname), "rebound.%s", s->name);
  xmlTextWriterStartElement(w, BAD_CAST "testcase");
  rb_report_xml_attr(w, "classname", classname);
  rb_report_xml_attr(w, "name", name);
  attr_fmt(w, "time", "%.3f", c->duration_ms / 1000.0);
  if(!c->pass) {
    text[0] = '\0';
    for(size_t i = 0; i < c->nfailures; i++)
      used += (size_t)snprintf(text + used, used < sizeof(text) ? sizeof(text) - used : 0, "%s\n", c->failures[i]);
    /* expect = fail: a known bug is reported as skipped, visible but not red */
    xmlTextWriterStartElement(w, BAD_CAST(s->verdict == RB_VERDICT_XFAIL ? "skipped" : "failure"));
    rb_report_xml_attr(w, "message", c->diagnosis[0] ? c->diagnosis : (c->nfailures ? c->failures[0] : "failed"));
    if(s->verdict != RB_VERDICT_XFAIL)
      rb_report_xml_attr(w, "type", c->rebind_ms < 0 ? "rebind" : "reconnect");
    rb_report_xml_text(w, text);
    xmlTextWriterEndElement(w);
  }
  write_output(w, c);
  xmlTextWriterEndElement(w);
}

/* The HTTP players' recovery p99 as a suite property, when the scenario has them. */
static void recovery_property(xmlTextWriterPtr w, const char *name, const struct rb_summary *sum)
{
  if(!sum->count)
    return;
  xmlTextWriterStartElement(w, BAD_CAST "property");
  rb_report_xml_attr(w, "name", name);
  attr_fmt(w, "value", "%.1f", sum->p99);
  xmlTextWriterEndElement(w);
}

static void write_suite(xmlTextWriterPtr w, const struct rb_scenario_result *s)
{
  bool error = s->verdict == RB_VERDICT_ERROR;
  size_t failed = s->verdict == RB_VERDICT_XFAIL ? 0 : count_failed(s);
  char seed[32];

  xmlTextWriterStartElement(w, BAD_CAST "testsuite");
  rb_report_xml_attr(w, "name", s->name);
  xmlTextWriterWriteFormatAttribute(w, BAD_CAST "tests", "%zu", s->ncycles + (error ? 1 : 0));
  xmlTextWriterWriteFormatAttribute(w, BAD_CAST "failures", "%zu", failed);
  xmlTextWriterWriteFormatAttribute(w, BAD_CAST "errors", "%d", error ? 1 : 0);
  xmlTextWriterWriteFormatAttribute(w, BAD_CAST "skipped", "%zu",
                                    s->verdict == RB_VERDICT_XFAIL ? count_failed(s) : (size_t)0);
  attr_fmt(w, "time", "%.3f", total_seconds(s));
  xmlTextWriterStartElement(w, BAD_CAST "properties");
  snprintf(seed, sizeof(seed), "%llu", (unsigned long long)s->seed);
  xmlTextWriterStartElement(w, BAD_CAST "property");
  rb_report_xml_attr(w, "name", "seed");
  rb_report_xml_attr(w, "value", seed);
  xmlTextWriterEndElement(w);
  xmlTextWriterStartElement(w, BAD_CAST "property");
  rb_report_xml_attr(w, "name", "result");
  rb_report_xml_attr(w, "value", rb_verdict_name(s->verdict));
  xmlTextWriterEndElement(w);
  recovery_property(w, "flv_recovery_p99_ms", &s->flv_recovery);
  recovery_property(w, "hls_recovery_p99_ms", &s->hls_recovery);
  xmlTextWriterEndElement(w);
  if(error) {
    xmlTextWriterStartElement(w, BAD_CAST "testcase");
    rb_report_xml_attr(w, "classname", "rebound");
    rb_report_xml_attr(w, "name", "start");
    xmlTextWriterStartElement(w, BAD_CAST "error");
    rb_report_xml_attr(w, "message", s->error);
    rb_report_xml_text(w, s->error);
    xmlTextWriterEndElement(w);
    xmlTextWriterEndElement(w);
  }
  for(size_t i = 0; i < s->ncycles; i++)
    write_cycle(w, s, &s->cycles[i]);
  xmlTextWriterEndElement(w);
}

rb_err rb_report_junit_to(FILE *f, const void *arg, char *msg, size_t msglen)
{
  const struct rb_run_result *run = arg;
  xmlTextWriterPtr w = rb_report_xml_writer(f);
  size_t tests = 0, failures = 0, errors = 0;
  int rc;

  if(!w)
    return rb_fail(msg, msglen, RB_ERR_NOMEM, "cannot start the XML writer");
  for(size_t i = 0; i < run->nscenarios; i++) {
    tests += run->scenarios[i].ncycles + (run->scenarios[i].verdict == RB_VERDICT_ERROR);
    failures += run->scenarios[i].verdict == RB_VERDICT_XFAIL ? 0 : count_failed(&run->scenarios[i]);
    errors += run->scenarios[i].verdict == RB_VERDICT_ERROR;
  }
  xmlTextWriterSetIndent(w, 1);
  xmlTextWriterStartDocument(w, NULL, "UTF-8", NULL);
  xmlTextWriterStartElement(w, BAD_CAST "testsuites");
  rb_report_xml_attr(w, "name", "rebound");
  xmlTextWriterWriteFormatAttribute(w, BAD_CAST "tests", "%zu", tests);
  xmlTextWriterWriteFormatAttribute(w, BAD_CAST "failures", "%zu", failures);
  xmlTextWriterWriteFormatAttribute(w, BAD_CAST "errors", "%zu", errors);
  for(size_t i = 0; i < run->nscenarios; i++)
    write_suite(w, &run->scenarios[i]);
  xmlTextWriterEndElement(w);
  rc = xmlTextWriterEndDocument(w);
  xmlFreeTextWriter(w);
  return rc < 0 ? rb_fail(msg, msglen, RB_ERR_IO, "cannot write the XML") : RB_OK;
}
