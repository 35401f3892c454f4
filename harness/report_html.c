/*
 * report (HTML): one self-contained page per run, no external assets, no script.
 *
 * The page is XHTML so that it is also well-formed XML (the tests parse it with
 * xmllint). Every piece of text that can come from a server or a scenario file
 * goes through put_text(), which makes it valid XML first (rb_report_xml_clean)
 * and then escapes the five markup characters. Charts are inline SVG.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rebound/report.h"

#define CHART_W 720
#define CHART_H 220
#define PAD 40

char *rb_report_html_escape(const char *text)
{
  char *clean = rb_report_xml_clean(text), *out, *o;

  if(!clean || !(out = malloc(strlen(clean) * 6 + 1))) {
    free(clean);
    return NULL;
  }
  o = out;
  for(const char *p = clean; *p; p++) {
    switch(*p) {
    case '&': o += sprintf(o, "&amp;"); break;
    case '<': o += sprintf(o, "&lt;"); break;
    case '>': o += sprintf(o, "&gt;"); break;
    case '"': o += sprintf(o, "&quot;"); break;
    case '\'': o += sprintf(o, "&#39;"); break;
    default: *o++ = *p; break;
    }
  }
  *o = '\0';
  free(clean);
  return out;
}

static void put_text(FILE *f, const char *text)
{
  char *esc = rb_report_html_escape(text ? text : "");

  if(esc)
    fputs(esc, f);
  free(esc);
}

static const char *verdict_class(enum rb_verdict v)
{
  return v == RB_VERDICT_PASS || v == RB_VERDICT_XFAIL ? "pass" : v == RB_VERDICT_INTERRUPTED ? "warn" : "fail";
}

static void summary_table(FILE *f, const struct rb_scenario_result *s)
{
  const struct { const char *name; const struct rb_summary *sum; } rows[] = {
    { "ready", &s->ready }, { "rebind", &s->rebind }, { "reconnect", &s->reconnect },
  };

  fputs("<table><tr><th></th><th>p50</th><th>p95</th><th>p99</th><th>max</th><th>samples</th></tr>\n", f);
  for(size_t i = 0; i < 3; i++) {
    const struct rb_summary *m = rows[i].sum;

    if(m->count)
      fprintf(f, "<tr><td>%s</td><td>%.1f</td><td>%.1f</td><td>%.1f</td><td>%.1f</td><td>%zu</td></tr>\n",
              rows[i].name, m->p50, m->p95, m->p99, m->max, m->count);
    else
      fprintf(f, "<tr><td>%s</td><td>-</td><td>-</td><td>-</td><td>-</td><td>0</td></tr>\n", rows[i].name);
  }
  fputs("</table>\n", f);
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

static void polyline(FILE *f, const struct rb_scenario_result *s, size_t offset, const char *cls, double max)
{
  fprintf(f, "<polyline class=\"%s\" points=\"", cls);
  for(size_t i = 0; i < s->ncycles; i++) {
    double v = *(const double *)(const void *)((const char *)&s->cycles[i] + offset);

    if(v >= 0)
      fprintf(f, "%.1f,%.1f ", x_of(i, s->ncycles), y_of(v, max));
  }
  fputs("\"/>\n", f);
}

/* Rebind and reconnect time per cycle; failed cycles marked with a red cross. */
static void cycle_chart(FILE *f, const struct rb_scenario_result *s)
{
  double max = chart_max(s);

  fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" class=\"chart\">\n", CHART_W,
          CHART_H);
  fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" class=\"axis\"/>\n", PAD, CHART_H - PAD, CHART_W - PAD,
          CHART_H - PAD);
  fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" class=\"axis\"/>\n", PAD, PAD, PAD, CHART_H - PAD);
  fprintf(f, "<text x=\"4\" y=\"%d\">%.0f ms</text><text x=\"4\" y=\"%d\">0</text>\n", PAD, max, CHART_H - PAD);
  fprintf(f, "<text x=\"%d\" y=\"%d\">cycle 1..%zu</text>\n", CHART_W / 2 - 30, CHART_H - 8, s->ncycles);
  polyline(f, s, offsetof(struct rb_cycle_result, rebind_ms), "rebind", max);
  polyline(f, s, offsetof(struct rb_cycle_result, reconnect_ms), "reconnect", max);
  for(size_t i = 0; i < s->ncycles; i++)
    if(!s->cycles[i].pass)
      fprintf(f, "<text class=\"failmark\" x=\"%.1f\" y=\"%d\">&#10007;<title>cycle %u failed</title></text>\n",
              x_of(i, s->ncycles) - 5, PAD - 8, s->cycles[i].index);
  fprintf(f, "<text class=\"rebind\" x=\"%d\" y=\"16\">rebind</text>"
             "<text class=\"reconnect\" x=\"%d\" y=\"16\">reconnect</text>\n", CHART_W - 220, CHART_W - 140);
  fputs("</svg>\n", f);
}

/* The phases of one cycle on a time line: steady, fault, down, rebind, reconnect (or
   "no rebind" up to the cycle's end when the port never came back). Labels go in a
   legend under the bar: short phases would make labels on the bar collide. */
static void timeline(FILE *f, const struct rb_cycle_result *c)
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
  int64_t begin = c->start_at_ns, end = begin;
  double lx = 10;

  for(size_t i = 0; i < n; i++)
    if(phases[i].to > end)
      end = phases[i].to;
  if(!begin || end <= begin)
    return;
  fprintf(f, "<h3>Phases of cycle %u</h3>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"64\" "
             "class=\"timeline\">\n", c->index, CHART_W);
  for(size_t i = 0; i < n; i++) {
    double ms = (double)(phases[i].to - phases[i].from) / 1e6, x, w;

    if(!phases[i].from || phases[i].to <= phases[i].from)
      continue;
    x = 10 + (double)(phases[i].from - begin) / (double)(end - begin) * (CHART_W - 20);
    w = (double)(phases[i].to - phases[i].from) / (double)(end - begin) * (CHART_W - 20);
    fprintf(f, "<rect class=\"%s\" x=\"%.1f\" y=\"6\" width=\"%.1f\" height=\"24\"><title>%s %.1f ms</title></rect>\n",
            phases[i].name, x, w < 1 ? 1 : w, phases[i].name, ms);
    fprintf(f, "<rect class=\"%s\" x=\"%.1f\" y=\"42\" width=\"10\" height=\"10\"/><text x=\"%.1f\" y=\"51\">%s %.1f ms"
               "</text>\n", phases[i].name, lx, lx + 14, strcmp(phases[i].name, "norebind") ? phases[i].name :
               "no rebind", ms);
    lx += 130;
  }
  fputs("</svg>\n", f);
}

static void states_table(FILE *f, const struct rb_scenario_result *s)
{
  fputs("<h3>Socket states of the port at restart</h3>\n<table><tr><th>cycle</th><th>states</th></tr>\n", f);
  for(size_t i = 0; i < s->ncycles; i++) {
    char text[256];

    rb_tcp_states_format(s->cycles[i].states_at_restart, text, sizeof(text));
    fprintf(f, "<tr><td>%u</td><td>", s->cycles[i].index);
    put_text(f, text);
    fputs("</td></tr>\n", f);
  }
  fputs("</table>\n", f);
}

static void failures(FILE *f, const struct rb_scenario_result *s)
{
  bool any = false;

  for(size_t i = 0; i < s->ncycles; i++) {
    const struct rb_cycle_result *c = &s->cycles[i];

    if(c->pass)
      continue;
    if(!any)
      fputs("<h3>Failures</h3>\n", f);
    any = true;
    fprintf(f, "<div class=\"failure\"><h4>cycle %u</h4><p class=\"diagnosis\">", c->index);
    put_text(f, c->diagnosis);
    fputs("</p><ul>", f);
    for(size_t k = 0; k < c->nfailures; k++) {
      fputs("<li>", f);
      put_text(f, c->failures[k]);
      fputs("</li>", f);
    }
    fputs("</ul>", f);
    if(c->log_tail[0]) {
      fputs("<pre>", f);
      put_text(f, c->log_tail);
      fputs("</pre>", f);
    }
    fputs("</div>\n", f);
  }
}

static void scenario_section(FILE *f, const struct rb_scenario_result *s)
{
  size_t passed = 0, shown = 0;

  for(size_t i = 0; i < s->ncycles; i++) {
    passed += s->cycles[i].pass;
    if(!s->cycles[i].pass && !shown)
      shown = i + 1;
  }
  fputs("<section><h2>", f);
  put_text(f, s->name);
  fprintf(f, " <span class=\"%s\">%s</span></h2>\n<p>%zu/%zu cycles passed, port %u, seed %llu</p>\n",
          verdict_class(s->verdict), rb_verdict_name(s->verdict), passed, s->ncycles, s->port,
          (unsigned long long)s->seed);
  if(s->error[0]) {
    fputs("<p class=\"diagnosis\">", f);
    put_text(f, s->error);
    fputs("</p>\n", f);
  }
  for(size_t i = 0; i < s->nwarnings; i++) {
    fputs("<p class=\"warn\">warning: ", f);
    put_text(f, s->warnings[i]);
    fputs("</p>\n", f);
  }
  if(s->ncycles) {
    summary_table(f, s);
    cycle_chart(f, s);
    /* the first failed cycle tells the most; otherwise the last one */
    timeline(f, &s->cycles[shown ? shown - 1 : s->ncycles - 1]);
    states_table(f, s);
    failures(f, s);
  }
  fputs("</section>\n", f);
}

static const char style[] =
  "body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:1em 0}"
  "td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}"
  ".pass{color:#1a7f37}.fail{color:#cf222e}.warn{color:#9a6700}"
  "polyline{fill:none;stroke-width:2}polyline.rebind{stroke:#0969da}polyline.reconnect{stroke:#bc4c00}"
  "text.rebind{fill:#0969da}text.reconnect{fill:#bc4c00}.axis{stroke:#888}.failmark{fill:#cf222e;font-size:16px}"
  "svg text{font-size:11px}rect.steady{fill:#8c959f}rect.fault{fill:#cf222e}rect.down{fill:#d4a72c}"
  "rect.rebind{fill:#0969da}rect.reconnect{fill:#bc4c00}rect.norebind{fill:#ff8182}pre{background:#f6f8fa;padding:8px;overflow:auto}"
  ".diagnosis{font-weight:bold}";

rb_err rb_report_write_html(const char *path, const struct rb_run_result *run, char *msg, size_t msglen)
{
  char tmp[4096];
  FILE *f;

  snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
  if(!(f = fopen(tmp, "w")))
    return rb_fail(msg, msglen, RB_ERR_IO, "%s: %s", path, strerror(errno));
  fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE html>\n"
        "<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\"><head><meta charset=\"UTF-8\"/>"
        "<title>rebound: ", f);
  put_text(f, run->scenario_file);
  fprintf(f, "</title><style>%s</style></head><body>\n<h1>rebound <span class=\"%s\">%s</span></h1>\n<p>", style,
          verdict_class(run->verdict), rb_verdict_name(run->verdict));
  put_text(f, run->scenario_file);
  fprintf(f, ", seed %llu (replay with --set seed=%llu)</p>\n", (unsigned long long)run->seed,
          (unsigned long long)run->seed);
  for(size_t i = 0; i < run->nscenarios; i++)
    scenario_section(f, &run->scenarios[i]);
  fputs("</body></html>\n", f);
  if(ferror(f) | fclose(f) || rename(tmp, path)) {
    unlink(tmp);
    return rb_fail(msg, msglen, RB_ERR_IO, "%s: cannot write", path);
  }
  return RB_OK;
}
