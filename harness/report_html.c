/*
 * report (HTML): one self-contained page per run, no external assets, no script.
 *
 * The page is XHTML, written with libxml2's xmlTextWriter, so it is well-formed XML
 * by construction (the tests parse it with xmllint) and every text that can come
 * from a server or a scenario file is escaped by the writer after
 * rb_report_xml_text() made it valid XML. Charts are inline SVG.
 */
#include <libxml/xmlwriter.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "rebound/report.h"
#include "rebound/sockdiag.h"

#define CHART_W 720
#define CHART_H 220
#define PAD 40
#define SVG_NS "http://www.w3.org/2000/svg"

typedef xmlTextWriterPtr W;

/* <name class="cls"> (cls may be NULL); closed with end(). */
static void start(W w, const char *name, const char *cls)
{
  xmlTextWriterStartElement(w, BAD_CAST name);
  if(cls)
    xmlTextWriterWriteAttribute(w, BAD_CAST "class", BAD_CAST cls);
}

static void end(W w)
{
  xmlTextWriterEndElement(w);
}

/* <name class="cls">text</name> with text from anywhere (cleaned, escaped). */
static void element(W w, const char *name, const char *cls, const char *text)
{
  start(w, name, cls);
  rb_report_xml_text(w, text ? text : "");
  end(w);
}

static void attr_num(W w, const char *name, double v)
{
  xmlTextWriterWriteFormatAttribute(w, BAD_CAST name, "%.1f", v);
}

static void nl(W w)
{
  xmlTextWriterWriteString(w, BAD_CAST "\n");
}

static const char *verdict_class(enum rb_verdict v)
{
  return v == RB_VERDICT_PASS || v == RB_VERDICT_XFAIL ? "pass" : v == RB_VERDICT_INTERRUPTED ? "warn" : "fail";
}

static void summary_table(W w, const struct rb_scenario_result *s)
{
  static const char *const heads[] = { "", "p50", "p95", "p99", "max", "samples" };
  const struct { const char *name; const struct rb_summary *sum; } rows[] = {
    { "ready", &s->ready }, { "rebind", &s->rebind }, { "reconnect", &s->reconnect },
    { "HTTP-FLV recovery", &s->flv_recovery }, { "HLS recovery (first new segment)", &s->hls_recovery },
  };

  start(w, "table", NULL);
  start(w, "tr", NULL);
  for(size_t i = 0; i < 6; i++)
    element(w, "th", NULL, heads[i]);
  end(w);
  for(size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
    const struct rb_summary *m = rows[i].sum;
    const double vals[] = { m->p50, m->p95, m->p99, m->max };

    if(i >= 3 && !m->count)
      continue; /* the scenario has no players of that kind */
    start(w, "tr", NULL);
    element(w, "td", NULL, rows[i].name);
    for(size_t k = 0; k < 4; k++) {
      start(w, "td", NULL);
      if(m->count)
        xmlTextWriterWriteFormatString(w, "%.1f", vals[k]);
      else
        xmlTextWriterWriteString(w, BAD_CAST "-");
      end(w);
    }
    start(w, "td", NULL);
    xmlTextWriterWriteFormatString(w, "%zu", m->count);
    end(w);
    end(w);
  }
  end(w);
  nl(w);
}

static double chart_max(const struct rb_scenario_result *s)
{
  double max = 1;

  for(size_t i = 0; i < s->ncycles; i++) {
    if(s->cycles[i].rebind_ms > max)
      max = s->cycles[i].rebind_ms;
    if(s->cycles[i].reconnect_ms > max)
      max = s->cycles[i].reconnect_ms;
  }
  return max * 1.1;
}

static double x_of(size_t i, size_t n)
{
  return PAD + (n > 1 ? (double)i * (CHART_W - 2 * PAD) / (double)(n - 1) : (CHART_W - 2 * PAD) / 2.0);
}

static double y_of(double ms, double max)
{
  return CHART_H - PAD - ms / max * (CHART_H - 2 * PAD);
}

static void line(W w, double x1, double y1, double x2, double y2)
{
  start(w, "line", "axis");
  attr_num(w, "x1", x1);
  attr_num(w, "y1", y1);
  attr_num(w, "x2", x2);
  attr_num(w, "y2", y2);
  end(w);
}

/* <text x y class>text</text> */
static void svg_text(W w, const char *cls, double x, double y, const char *text)
{
  start(w, "text", cls);
  attr_num(w, "x", x);
  attr_num(w, "y", y);
  rb_report_xml_text(w, text);
  end(w);
}

static void polyline(W w, const struct rb_scenario_result *s, size_t offset, const char *cls, double max)
{
  char points[64];

  start(w, "polyline", cls);
  xmlTextWriterStartAttribute(w, BAD_CAST "points");
  for(size_t i = 0; i < s->ncycles; i++) {
    double v = *(const double *)(const void *)((const char *)&s->cycles[i] + offset);

    if(v < 0)
      continue;
    snprintf(points, sizeof(points), "%.1f,%.1f ", x_of(i, s->ncycles), y_of(v, max));
    xmlTextWriterWriteString(w, BAD_CAST points);
  }
  xmlTextWriterEndAttribute(w);
  end(w);
}

static void svg_start(W w, const char *cls, int height)
{
  start(w, "svg", cls);
  xmlTextWriterWriteAttribute(w, BAD_CAST "xmlns", BAD_CAST SVG_NS);
  xmlTextWriterWriteFormatAttribute(w, BAD_CAST "width", "%d", CHART_W);
  xmlTextWriterWriteFormatAttribute(w, BAD_CAST "height", "%d", height);
}

/* Rebind and reconnect time per cycle; failed cycles marked with a red cross. */
/* An <svg> with its two axes, the y axis' top label and 0, and the x axis' label;
   closed with end(). */
static void chart_frame(W w, const char *cls, const char *top, const char *xlabel, double xlabel_at)
{
  svg_start(w, cls, CHART_H);
  line(w, PAD, CHART_H - PAD, CHART_W - PAD, CHART_H - PAD);
  line(w, PAD, PAD, PAD, CHART_H - PAD);
  svg_text(w, NULL, 4, PAD, top);
  svg_text(w, NULL, 4, CHART_H - PAD, "0");
  svg_text(w, NULL, xlabel_at, CHART_H - 8, xlabel);
}

static void cycle_chart(W w, const struct rb_scenario_result *s)
{
  double max = chart_max(s);
  char label[64], xlabel[64];

  snprintf(label, sizeof(label), "%.0f ms", max);
  snprintf(xlabel, sizeof(xlabel), "cycle 1..%zu", s->ncycles);
  chart_frame(w, "chart", label, xlabel, CHART_W / 2 - 30);
  polyline(w, s, offsetof(struct rb_cycle_result, rebind_ms), "rebind", max);
  polyline(w, s, offsetof(struct rb_cycle_result, reconnect_ms), "reconnect", max);
  for(size_t i = 0; i < s->ncycles; i++) {
    if(s->cycles[i].pass)
      continue;
    start(w, "text", "failmark");
    attr_num(w, "x", x_of(i, s->ncycles) - 5);
    attr_num(w, "y", PAD - 8);
    xmlTextWriterWriteString(w, BAD_CAST "\xe2\x9c\x97"); /* U+2717 ballot x */
    snprintf(label, sizeof(label), "cycle %u failed", s->cycles[i].index);
    element(w, "title", NULL, label);
    end(w);
  }
  svg_text(w, "rebind", CHART_W - 220, 16, "rebind");
  svg_text(w, "reconnect", CHART_W - 140, 16, "reconnect");
  end(w);
  nl(w);
}

/* The arrival curve of every cycle: clients back (y) over time since the restart (x),
   as steps, with how many gave up and the reconnect profile that shaped it. */
static void arrival_chart(W w, const struct rb_scenario_result *s)
{
  double tmax = 1, nmax = 1;
  unsigned gave_up = 0;
  char label[sizeof(s->reconnect_profile) + 64];

  for(size_t i = 0; i < s->ncycles; i++) {
    const struct rb_cycle_result *c = &s->cycles[i];

    if(c->narrivals && c->arrivals[c->narrivals - 1].ms > tmax)
      tmax = c->arrivals[c->narrivals - 1].ms;
    if(c->narrivals && c->arrivals[c->narrivals - 1].back > nmax)
      nmax = c->arrivals[c->narrivals - 1].back;
    if(c->gave_up > gave_up)
      gave_up = c->gave_up;
  }
  tmax *= 1.1;
  snprintf(label, sizeof(label), "Clients back after the restart (reconnect = %s)", s->reconnect_profile);
  element(w, "h3", NULL, label);
  nl(w);
  {
    char top[32], xlabel[64];

    snprintf(top, sizeof(top), "%.0f", nmax);
    snprintf(xlabel, sizeof(xlabel), "0 .. %.0f ms after the restart", tmax);
    chart_frame(w, "chart arrivals", top, xlabel, CHART_W / 2 - 80);
  }
  for(size_t i = 0; i < s->ncycles; i++) {
    const struct rb_cycle_result *c = &s->cycles[i];
    double y = CHART_H - PAD;
    char point[64];

    if(!c->narrivals)
      continue;
    start(w, "polyline", "reconnect");
    xmlTextWriterStartAttribute(w, BAD_CAST "points");
    snprintf(point, sizeof(point), "%d,%.1f ", PAD, y);
    xmlTextWriterWriteString(w, BAD_CAST point);
    for(size_t k = 0; k < c->narrivals; k++) {
      double x = PAD + c->arrivals[k].ms / tmax * (CHART_W - 2 * PAD);

      /* a step: along at the old count, then up to the new one */
      snprintf(point, sizeof(point), "%.1f,%.1f ", x, y);
      xmlTextWriterWriteString(w, BAD_CAST point);
      y = CHART_H - PAD - c->arrivals[k].back / nmax * (CHART_H - 2 * PAD);
      snprintf(point, sizeof(point), "%.1f,%.1f ", x, y);
      xmlTextWriterWriteString(w, BAD_CAST point);
    }
    xmlTextWriterEndAttribute(w);
    snprintf(label, sizeof(label), "cycle %u: %u back, the last after %.1f ms", c->index,
             c->arrivals[c->narrivals - 1].back, c->last_back_ms);
    element(w, "title", NULL, label);
    end(w);
  }
  if(gave_up) {
    snprintf(label, sizeof(label), "%u gave up (retries exhausted)", gave_up);
    svg_text(w, "failmark", CHART_W - 260, 16, label);
  }
  end(w);
  nl(w);
}

/* The phases of one cycle on a time line: steady, fault, down, rebind, reconnect (or
   "no rebind" up to the cycle's end when the port never came back). Labels go in a
   legend under the bar: short phases would make labels on the bar collide. */
static void timeline(W w, const struct rb_cycle_result *c)
{
  int64_t cycle_end = c->start_at_ns + (int64_t)(c->duration_ms * 1e6);
  struct { const char *name; int64_t from, to; } phases[] = {
    { "steady", c->start_at_ns, c->fault_at_ns },
    { "fault", c->fault_at_ns, c->fault_done_at_ns },
    { "down", c->fault_done_at_ns, c->restart_at_ns },
    { "rebind", c->restart_at_ns, c->rebind_at_ns },
    { "reconnect", c->rebind_at_ns, c->reconnect_ms >= 0 ? c->restart_at_ns + (int64_t)(c->reconnect_ms * 1e6) : 0 },
    { "norebind", c->rebind_at_ns ? 0 : c->restart_at_ns, c->rebind_at_ns ? 0 : cycle_end },
  };
  const size_t n = sizeof(phases) / sizeof(phases[0]);
  int64_t begin = c->start_at_ns, stop = begin;
  double lx = 10;
  char text[96];

  for(size_t i = 0; i < n; i++)
    if(phases[i].to > stop)
      stop = phases[i].to;
  if(!begin || stop <= begin)
    return;
  snprintf(text, sizeof(text), "Phases of cycle %u", c->index);
  element(w, "h3", NULL, text);
  svg_start(w, "timeline", 64);
  for(size_t i = 0; i < n; i++) {
    double ms = (double)(phases[i].to - phases[i].from) / 1e6, x, width;
    const char *label = strcmp(phases[i].name, "norebind") ? phases[i].name : "no rebind";

    if(!phases[i].from || phases[i].to <= phases[i].from)
      continue;
    x = 10 + (double)(phases[i].from - begin) / (double)(stop - begin) * (CHART_W - 20);
    width = (double)(phases[i].to - phases[i].from) / (double)(stop - begin) * (CHART_W - 20);
    start(w, "rect", phases[i].name);
    attr_num(w, "x", x);
    attr_num(w, "y", 6);
    attr_num(w, "width", width < 1 ? 1 : width);
    attr_num(w, "height", 24);
    snprintf(text, sizeof(text), "%s %.1f ms", phases[i].name, ms);
    element(w, "title", NULL, text);
    end(w);
    start(w, "rect", phases[i].name);
    attr_num(w, "x", lx);
    attr_num(w, "y", 42);
    attr_num(w, "width", 10);
    attr_num(w, "height", 10);
    end(w);
    snprintf(text, sizeof(text), "%s %.1f ms", label, ms);
    svg_text(w, NULL, lx + 14, 51, text);
    lx += 130;
  }
  end(w);
  nl(w);
}

static void states_table(W w, const struct rb_scenario_result *s)
{
  element(w, "h3", NULL, "Socket states of the port at restart");
  start(w, "table", NULL);
  start(w, "tr", NULL);
  element(w, "th", NULL, "cycle");
  element(w, "th", NULL, "states");
  end(w);
  for(size_t i = 0; i < s->ncycles; i++) {
    char text[256];

    rb_tcp_states_format(s->cycles[i].states_at_restart, text, sizeof(text));
    start(w, "tr", NULL);
    start(w, "td", NULL);
    xmlTextWriterWriteFormatString(w, "%u", s->cycles[i].index);
    end(w);
    element(w, "td", NULL, text);
    end(w);
  }
  end(w);
  nl(w);
}

static void failure(W w, const struct rb_cycle_result *c)
{
  char title[32];

  start(w, "div", "failure");
  snprintf(title, sizeof(title), "cycle %u", c->index);
  element(w, "h4", NULL, title);
  element(w, "p", "diagnosis", c->diagnosis);
  start(w, "ul", NULL);
  for(size_t k = 0; k < c->nfailures; k++)
    element(w, "li", NULL, c->failures[k]);
  end(w);
  if(c->log_tail[0])
    element(w, "pre", NULL, c->log_tail);
  end(w);
  nl(w);
}

static void failures(W w, const struct rb_scenario_result *s)
{
  bool any = false;

  for(size_t i = 0; i < s->ncycles; i++) {
    if(s->cycles[i].pass)
      continue;
    if(!any)
      element(w, "h3", NULL, "Failures");
    any = true;
    failure(w, &s->cycles[i]);
  }
}

/* ---- topology --------------------------------------------------------------- */

#define BOX_W 110
#define BOX_H 36
#define GAP 50

static void box(W w, double x, const char *cls, const char *label, const char *sub)
{
  start(w, "rect", cls);
  attr_num(w, "x", x);
  attr_num(w, "y", 20);
  attr_num(w, "width", BOX_W);
  attr_num(w, "height", BOX_H);
  end(w);
  start(w, "text", NULL);
  attr_num(w, "x", x + 8);
  attr_num(w, "y", 36);
  rb_report_xml_text(w, label);
  end(w);
  if(sub) {
    start(w, "text", "sub");
    attr_num(w, "x", x + 8);
    attr_num(w, "y", 50);
    rb_report_xml_text(w, sub);
    end(w);
  }
}

static void arrow(W w, double x1, double x2)
{
  start(w, "line", "arrow");
  attr_num(w, "x1", x1);
  attr_num(w, "y1", 38);
  attr_num(w, "x2", x2 - 4);
  attr_num(w, "y2", 38);
  end(w);
  start(w, "polygon", "arrowhead");
  xmlTextWriterWriteFormatAttribute(w, BAD_CAST "points", "%.1f,38 %.1f,33 %.1f,43", x2, x2 - 8, x2 - 8);
  end(w);
}

/* publishers -> the target they publish to -> ... -> the players' target -> players,
   in start order, the targets the fault hits marked. */
static void topology(W w, const struct rb_scenario_result *s)
{
  const struct rb_cycle_result *c = s->ncycles ? &s->cycles[0] : NULL;
  double x = 10;

  if(!c || c->ntargets < 2)
    return;
  element(w, "h3", NULL, "Topology");
  start(w, "svg", NULL);
  xmlTextWriterWriteAttribute(w, BAD_CAST "xmlns", BAD_CAST SVG_NS);
  xmlTextWriterWriteFormatAttribute(w, BAD_CAST "width", "%d", (int)((c->ntargets + 2) * (BOX_W + GAP)));
  xmlTextWriterWriteFormatAttribute(w, BAD_CAST "height", "%d", 80);
  box(w, x, "clients", "publishers", NULL);
  for(size_t i = 0; i < c->ntargets; i++) {
    const struct rb_target_result *t = &c->targets[i];

    arrow(w, x + BOX_W, x + BOX_W + GAP);
    x += BOX_W + GAP;
    box(w, x, t->restarted ? "killed" : "target", t->name, t->restarted ? "killed each cycle" :
        t->publishes ? "publishers here" : t->plays ? "players here" : NULL);
  }
  arrow(w, x + BOX_W, x + BOX_W + GAP);
  box(w, x + BOX_W + GAP, "clients", "players", NULL);
  end(w);
  nl(w);
}

/* A row per cycle, a cell per target: rebind per port, recovery. */
static void targets_table(W w, const struct rb_scenario_result *s)
{
  char line[RB_FAILURE_LEN];

  if(!s->ncycles || !rb_report_has_targets(&s->cycles[0]))
    return;
  element(w, "h3", NULL, "Targets per cycle");
  start(w, "table", NULL);
  for(size_t i = 0; i < s->ncycles; i++) {
    const struct rb_cycle_result *c = &s->cycles[i];

    start(w, "tr", NULL);
    start(w, "td", NULL);
    xmlTextWriterWriteFormatString(w, "cycle %u", c->index);
    end(w);
    for(size_t k = 0; k < c->ntargets; k++) {
      rb_report_target_line(&c->targets[k], line, sizeof(line));
      element(w, "td", c->targets[k].restarted ? "killed" : NULL, line);
    }
    end(w);
    nl(w);
  }
  end(w);
  nl(w);
}

static void scenario_section(W w, const struct rb_scenario_result *s)
{
  size_t passed = 0, shown = 0;

  for(size_t i = 0; i < s->ncycles; i++) {
    passed += s->cycles[i].pass;
    if(!s->cycles[i].pass && !shown)
      shown = i + 1;
  }
  start(w, "section", NULL);
  start(w, "h2", NULL);
  rb_report_xml_text(w, s->name);
  xmlTextWriterWriteString(w, BAD_CAST " ");
  element(w, "span", verdict_class(s->verdict), rb_verdict_name(s->verdict));
  end(w);
  nl(w);
  start(w, "p", NULL);
  xmlTextWriterWriteFormatString(w, "%zu/%zu cycles passed, port %u, seed %llu", passed, s->ncycles, s->port,
                                 (unsigned long long)s->seed);
  end(w);
  nl(w);
  if(s->error[0])
    element(w, "p", "diagnosis", s->error);
  for(size_t i = 0; i < s->nwarnings; i++) {
    start(w, "p", "warn");
    xmlTextWriterWriteString(w, BAD_CAST "warning: ");
    rb_report_xml_text(w, s->warnings[i]);
    end(w);
  }
  topology(w, s);
  if(s->ncycles) {
    summary_table(w, s);
    cycle_chart(w, s);
    arrival_chart(w, s);
    /* the first failed cycle tells the most; otherwise the last one */
    timeline(w, &s->cycles[shown ? shown - 1 : s->ncycles - 1]);
    states_table(w, s);
    targets_table(w, s);
    failures(w, s);
  }
  end(w);
  nl(w);
}

static const char style[] =
  "body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:1em 0}"
  "td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}"
  ".pass{color:#1a7f37}.fail{color:#cf222e}.warn{color:#9a6700}"
  "polyline{fill:none;stroke-width:2}polyline.rebind{stroke:#0969da}polyline.reconnect{stroke:#bc4c00}"
  "text.rebind{fill:#0969da}text.reconnect{fill:#bc4c00}.axis{stroke:#888}.failmark{fill:#cf222e;font-size:16px}"
  "svg text{font-size:11px}rect.steady{fill:#8c959f}rect.fault{fill:#cf222e}rect.down{fill:#d4a72c}"
  "rect.rebind{fill:#0969da}rect.reconnect{fill:#bc4c00}rect.norebind{fill:#ff8182}pre{background:#f6f8fa;padding:8px;overflow:auto}"
  ".diagnosis{font-weight:bold}"
  "rect.target,rect.clients{fill:#eaeef2;stroke:#57606a}rect.killed{fill:#ffebe9;stroke:#cf222e;stroke-width:2}"
  "line.arrow{stroke:#57606a;stroke-width:2}polygon.arrowhead{fill:#57606a}text.sub{fill:#57606a;font-size:9px}"
  "td.killed{color:#cf222e}";

static void head(W w, const struct rb_run_result *run)
{
  char title[600];

  start(w, "head", NULL);
  start(w, "meta", NULL);
  xmlTextWriterWriteAttribute(w, BAD_CAST "charset", BAD_CAST "UTF-8");
  end(w);
  snprintf(title, sizeof(title), "rebound: %s", run->scenario_file);
  element(w, "title", NULL, title);
  element(w, "style", NULL, style);
  end(w);
}

rb_err rb_report_html_to(FILE *f, const void *arg, char *msg, size_t msglen)
{
  const struct rb_run_result *run = arg;
  W w = rb_report_xml_writer(f);
  int rc;

  if(!w)
    return rb_fail(msg, msglen, RB_ERR_NOMEM, "cannot start the XML writer");
  xmlTextWriterStartDocument(w, NULL, "UTF-8", NULL);
  xmlTextWriterWriteDTD(w, BAD_CAST "html", NULL, NULL, NULL);
  nl(w);
  start(w, "html", NULL);
  xmlTextWriterWriteAttribute(w, BAD_CAST "xmlns", BAD_CAST "http://www.w3.org/1999/xhtml");
  xmlTextWriterWriteAttribute(w, BAD_CAST "lang", BAD_CAST "en");
  head(w, run);
  start(w, "body", NULL);
  nl(w);
  start(w, "h1", NULL);
  xmlTextWriterWriteString(w, BAD_CAST "rebound ");
  element(w, "span", verdict_class(run->verdict), rb_verdict_name(run->verdict));
  end(w);
  nl(w);
  start(w, "p", NULL);
  rb_report_xml_text(w, run->scenario_file);
  xmlTextWriterWriteFormatString(w, ", seed %llu (replay with --set seed=%llu)", (unsigned long long)run->seed,
                                 (unsigned long long)run->seed);
  end(w);
  nl(w);
  for(size_t i = 0; i < run->nscenarios; i++)
    scenario_section(w, &run->scenarios[i]);
  rc = xmlTextWriterEndDocument(w); /* closes body and html */
  xmlFreeTextWriter(w);
  return rc < 0 ? rb_fail(msg, msglen, RB_ERR_IO, "cannot write the page") : RB_OK;
}
