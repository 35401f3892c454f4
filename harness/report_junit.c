/*
 * report (JUnit): results as JUnit XML for Jenkins, GitLab and GitHub consumers.
 *
 * libxml2's text writer does the escaping; what it cannot do is carry bytes that
 * XML 1.0 forbids even as character references (most C0 controls) or invalid
 * UTF-8, which server logs do contain, so every text goes through
 * rb_report_xml_clean() first.
 */
#include <errno.h>
#include <libxml/xmlwriter.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rebound/report.h"

/* Length of the valid UTF-8 sequence at p (1..4), or 0 if invalid. */
static size_t utf8_sequence(const unsigned char *p)
{
  size_t n;
  unsigned cp;

  if(p[0] < 0x80)
    return 1;
  if(p[0] >= 0xc2 && p[0] <= 0xdf) {
    n = 2;
    cp = p[0] & 0x1f;
  }
  else if(p[0] >= 0xe0 && p[0] <= 0xef) {
    n = 3;
    cp = p[0] & 0x0f;
  }
  else if(p[0] >= 0xf0 && p[0] <= 0xf4) {
    n = 4;
    cp = p[0] & 0x07;
  }
  else
    return 0;
  for(size_t i = 1; i < n; i++) {
    if((p[i] & 0xc0) != 0x80)
      return 0;
    cp = (cp << 6) | (p[i] & 0x3f);
  }
  /* overlong forms, surrogates, beyond U+10FFFF, and U+FFFE/U+FFFF are not XML */
  if((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff ||
     cp == 0xfffe || cp == 0xffff)
    return 0;
  return n;
}

char *rb_report_xml_clean(const char *text)
{
  size_t len = text ? strlen(text) : 0, o = 0;
  char *out = malloc(len + 1);
  const unsigned char *p = (const unsigned char *)(text ? text : "");

  if(!out)
    return NULL;
  while(*p) {
    size_t n = utf8_sequence(p);

    if(n == 1 && *p < 0x20 && *p != '\t' && *p != '\n' && *p != '\r')
      n = 0;
    if(!n) {
      out[o++] = '?';
      p++;
      continue;
    }
    memcpy(out + o, p, n);
    o += n;
    p += n;
  }
  out[o] = '\0';
  return out;
}

static int write_clean(xmlTextWriterPtr w, const char *text)
{
  char *clean = rb_report_xml_clean(text);
  int rc;

  if(!clean)
    return -1;
  rc = xmlTextWriterWriteString(w, BAD_CAST clean);
  free(clean);
  return rc;
}

static int attr_clean(xmlTextWriterPtr w, const char *name, const char *value)
{
  char *clean = rb_report_xml_clean(value);
  int rc;

  if(!clean)
    return -1;
  rc = xmlTextWriterWriteAttribute(w, BAD_CAST name, BAD_CAST clean);
  free(clean);
  return rc;
}

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

static void write_cycle(xmlTextWriterPtr w, const struct rb_scenario_result *s, const struct rb_cycle_result *c)
{
  char name[64], classname[160], text[RB_FAILURE_LEN * RB_MAX_FAILURES + 64];
  size_t used = 0;

  snprintf(name, sizeof(name), "cycle %u", c->index);
  snprintf(classname, sizeof(classname), "rebound.%s", s->name);
  xmlTextWriterStartElement(w, BAD_CAST "testcase");
  attr_clean(w, "classname", classname);
  attr_clean(w, "name", name);
  attr_fmt(w, "time", "%.3f", c->duration_ms / 1000.0);
  if(!c->pass) {
    text[0] = '\0';
    for(size_t i = 0; i < c->nfailures; i++)
      used += (size_t)snprintf(text + used, used < sizeof(text) ? sizeof(text) - used : 0, "%s\n", c->failures[i]);
    /* expect = fail: a known bug is reported as skipped, visible but not red */
    xmlTextWriterStartElement(w, BAD_CAST(s->verdict == RB_VERDICT_XFAIL ? "skipped" : "failure"));
    attr_clean(w, "message", c->diagnosis[0] ? c->diagnosis : (c->nfailures ? c->failures[0] : "failed"));
    if(s->verdict != RB_VERDICT_XFAIL)
      attr_clean(w, "type", c->rebind_ms < 0 ? "rebind" : "reconnect");
    write_clean(w, text);
    xmlTextWriterEndElement(w);
    if(c->log_tail[0]) {
      xmlTextWriterStartElement(w, BAD_CAST "system-out");
      write_clean(w, c->log_tail);
      xmlTextWriterEndElement(w);
    }
  }
  xmlTextWriterEndElement(w);
}

/* The HTTP players' recovery p99 as a suite property, when the scenario has them. */
static void recovery_property(xmlTextWriterPtr w, const char *name, const struct rb_summary *sum)
{
  if(!sum->count)
    return;
  xmlTextWriterStartElement(w, BAD_CAST "property");
  attr_clean(w, "name", name);
  attr_fmt(w, "value", "%.1f", sum->p99);
  xmlTextWriterEndElement(w);
}

static void write_suite(xmlTextWriterPtr w, const struct rb_scenario_result *s)
{
  bool error = s->verdict == RB_VERDICT_ERROR;
  size_t failed = s->verdict == RB_VERDICT_XFAIL ? 0 : count_failed(s);
  char seed[32];

  xmlTextWriterStartElement(w, BAD_CAST "testsuite");
  attr_clean(w, "name", s->name);
  xmlTextWriterWriteFormatAttribute(w, BAD_CAST "tests", "%zu", s->ncycles + (error ? 1 : 0));
  xmlTextWriterWriteFormatAttribute(w, BAD_CAST "failures", "%zu", failed);
  xmlTextWriterWriteFormatAttribute(w, BAD_CAST "errors", "%d", error ? 1 : 0);
  xmlTextWriterWriteFormatAttribute(w, BAD_CAST "skipped", "%zu",
                                    s->verdict == RB_VERDICT_XFAIL ? count_failed(s) : (size_t)0);
  attr_fmt(w, "time", "%.3f", total_seconds(s));
  xmlTextWriterStartElement(w, BAD_CAST "properties");
  snprintf(seed, sizeof(seed), "%llu", (unsigned long long)s->seed);
  xmlTextWriterStartElement(w, BAD_CAST "property");
  attr_clean(w, "name", "seed");
  attr_clean(w, "value", seed);
  xmlTextWriterEndElement(w);
  xmlTextWriterStartElement(w, BAD_CAST "property");
  attr_clean(w, "name", "result");
  attr_clean(w, "value", rb_verdict_name(s->verdict));
  xmlTextWriterEndElement(w);
  recovery_property(w, "flv_recovery_p99_ms", &s->flv_recovery);
  recovery_property(w, "hls_recovery_p99_ms", &s->hls_recovery);
  xmlTextWriterEndElement(w);
  if(error) {
    xmlTextWriterStartElement(w, BAD_CAST "testcase");
    attr_clean(w, "classname", "rebound");
    attr_clean(w, "name", "start");
    xmlTextWriterStartElement(w, BAD_CAST "error");
    attr_clean(w, "message", s->error);
    write_clean(w, s->error);
    xmlTextWriterEndElement(w);
    xmlTextWriterEndElement(w);
  }
  for(size_t i = 0; i < s->ncycles; i++)
    write_cycle(w, s, &s->cycles[i]);
  xmlTextWriterEndElement(w);
}

rb_err rb_report_write_junit(const char *path, const struct rb_run_result *run, char *msg, size_t msglen)
{
  char tmp[4096];
  xmlTextWriterPtr w;
  size_t tests = 0, failures = 0, errors = 0;
  int rc;

  snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
  if(!(w = xmlNewTextWriterFilename(tmp, 0)))
    return rb_fail(msg, msglen, RB_ERR_IO, "%s: cannot write", path);
  for(size_t i = 0; i < run->nscenarios; i++) {
    tests += run->scenarios[i].ncycles + (run->scenarios[i].verdict == RB_VERDICT_ERROR);
    failures += run->scenarios[i].verdict == RB_VERDICT_XFAIL ? 0 : count_failed(&run->scenarios[i]);
    errors += run->scenarios[i].verdict == RB_VERDICT_ERROR;
  }
  xmlTextWriterSetIndent(w, 1);
  xmlTextWriterStartDocument(w, NULL, "UTF-8", NULL);
  xmlTextWriterStartElement(w, BAD_CAST "testsuites");
  attr_clean(w, "name", "rebound");
  xmlTextWriterWriteFormatAttribute(w, BAD_CAST "tests", "%zu", tests);
  xmlTextWriterWriteFormatAttribute(w, BAD_CAST "failures", "%zu", failures);
  xmlTextWriterWriteFormatAttribute(w, BAD_CAST "errors", "%zu", errors);
  for(size_t i = 0; i < run->nscenarios; i++)
    write_suite(w, &run->scenarios[i]);
  xmlTextWriterEndElement(w);
  rc = xmlTextWriterEndDocument(w);
  xmlFreeTextWriter(w);
  if(rc < 0 || rename(tmp, path)) {
    unlink(tmp);
    return rb_fail(msg, msglen, RB_ERR_IO, "%s: %s", path, rc < 0 ? "cannot write" : strerror(errno));
  }
  return RB_OK;
}
