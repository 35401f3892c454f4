/*
 * report: what people and machines read after (and during) a run.
 *
 * Console progress and summary, JSON results (schema 1, interface.md), JSON Lines
 * events. Report only reads results; it decides nothing. Files are written
 * atomically (temp file + rename) so a reader never sees half a result.
 */
#ifndef REBOUND_REPORT_H
#define REBOUND_REPORT_H

#include <stdbool.h>
#include <stdio.h>

#include "rebound/error.h"
#include "rebound/results.h"

struct rb_reporter {
  FILE *out;          /* progress and summary (stdout) */
  bool quiet;         /* summary only */
  bool verbose;       /* every event */
  bool color;         /* ANSI colours (a TTY without NO_COLOR) */
  FILE *events;       /* --events: JSON Lines, flushed per event; NULL = off */
  bool progress;      /* redraw one live status line (a TTY without --no-progress) */
  /* live-line state, kept by rb_report_event */
  int64_t started_at;
  unsigned failures;
  double last_rebind_ms, last_reconnect_ms;
  bool line_drawn;
};

/* rb_event_fn for rb_engine_opts.on_event; arg is a struct rb_reporter. */
void rb_report_event(const struct rb_event *ev, void *arg);

/* Final summary of every scenario: verdict, p50/p95/p99/max, failures, seed. */
void rb_report_summary(const struct rb_reporter *rep, const struct rb_run_result *run);

/* --json FILE (schema 1). */
rb_err rb_report_write_json(const char *path, const struct rb_run_result *run, char *msg, size_t msglen);

/* --junit FILE: a testsuite per scenario, a testcase per cycle; a failing cycle gets a
   <failure> with its diagnosis and the server's log tail in <system-out>. Text is
   made valid XML 1.0 (control characters and invalid UTF-8 become '?'). */
rb_err rb_report_write_junit(const char *path, const struct rb_run_result *run, char *msg, size_t msglen);

/* --html FILE: one self-contained XHTML page: per scenario a chart of rebind and
   reconnect times per cycle (failures marked), the phase timeline of a cycle, the
   socket states at restart, and the failures with diagnosis and log tail. */
rb_err rb_report_write_html(const char *path, const struct rb_run_result *run, char *msg, size_t msglen);

/* text made XML-safe and with & < > " ' escaped; caller frees. */
char *rb_report_html_escape(const char *text);

/* Copy text with every byte that XML 1.0 cannot carry replaced by '?'; caller frees. */
char *rb_report_xml_clean(const char *text);

/* Build the schema-1 document; the caller json_decref()s it. Exposed for tests. */
struct json_t *rb_report_json(const struct rb_run_result *run);

#endif
