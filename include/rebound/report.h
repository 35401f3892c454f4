/*
 * report: what people and machines read after (and during) a run.
 *
 * Console progress and summary, JSON results (schema 1, interface.md), JSON Lines
 * events, JUnit, HTML. Report only reads results; it decides nothing. Files are written
 * through output.h (atomically where they are regular files).
 */
#ifndef REBOUND_REPORT_H
#define REBOUND_REPORT_H

#include <stdbool.h>
#include <stdio.h>

#include "rebound/error.h"
#include "rebound/output.h"
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

/* The report files, one row each: the option that asks for it and its writer (arg: a
   const struct rb_run_result *). Every file goes through rb_output_write, so "-",
   devices, FIFOs and symlinks are handled once for all of them (output.h). */
enum rb_report_kind {
  RB_REPORT_JSON,  /* --json: schema 1 (interface.md) */
  RB_REPORT_JUNIT, /* --junit: a testsuite per scenario, a testcase per cycle; a failing cycle
                      gets a <failure> with its diagnosis and the server's log tail */
  RB_REPORT_HTML,  /* --html: one self-contained XHTML page: charts of rebind and reconnect per
                      cycle, the phase timeline, socket states, failures with log tails */
  RB_REPORT_METRICS, /* --metrics: Prometheus text format (node exporter's textfile collector) */
  RB_REPORT__COUNT
};

struct rb_report_format {
  const char *flag;   /* "--json" */
  rb_output_fn write;
};

extern const struct rb_report_format rb_report_formats[RB_REPORT__COUNT];

/* Write the report of kind to path (rb_output_write). msg: "PATH: reason". */
rb_err rb_report_write(enum rb_report_kind kind, const char *path, const struct rb_run_result *run, char *msg,
                       size_t msglen);

/* Write every report whose path is set; each failure is one line "rebound: FLAG PATH: reason"
   on err. Returns how many failed. */
size_t rb_report_write_all(const char *const paths[RB_REPORT__COUNT], const struct rb_run_result *run, FILE *err);

/* The writers of the table (rb_output_fn; arg is the run). */
rb_err rb_report_json_to(FILE *f, const void *run, char *msg, size_t msglen);
rb_err rb_report_junit_to(FILE *f, const void *run, char *msg, size_t msglen);
rb_err rb_report_html_to(FILE *f, const void *run, char *msg, size_t msglen);
rb_err rb_report_metrics_to(FILE *f, const void *run, char *msg, size_t msglen);

/* Read a schema-1 results file back into run (rb_run_result_free it); the summaries are
   recomputed from the cycles. RB_ERR_USAGE with "PATH[:LINE]: reason" for a file that
   is missing, truncated, not JSON, of another schema or not rebound's results. */
rb_err rb_report_load_json(const char *path, struct rb_run_result *run, char *msg, size_t msglen);

/* The same from len bytes of buf (name is used in messages); for the fuzzer. */
rb_err rb_report_load_json_buffer(const char *buf, size_t len, const char *name, struct rb_run_result *run,
                                  char *msg, size_t msglen);

/* rb_output_fn for any JSON document (a json_t *), indented, ASCII, one final newline. */
rb_err rb_report_dump_json(FILE *f, const void *doc, char *msg, size_t msglen);

/* Shorthands of rb_report_write. */
rb_err rb_report_write_json(const char *path, const struct rb_run_result *run, char *msg, size_t msglen);
rb_err rb_report_write_junit(const char *path, const struct rb_run_result *run, char *msg, size_t msglen);
rb_err rb_report_write_html(const char *path, const struct rb_run_result *run, char *msg, size_t msglen);

/* Copy text with every byte that XML 1.0 cannot carry replaced by '?'; caller frees.
   Server text (log tails, status descriptions) and invalid UTF-8 go through it before
   libxml2's writer, which escapes markup but cannot carry such bytes. */
char *rb_report_xml_clean(const char *text);

/* An xmlTextWriter on f (the caller xmlFreeTextWriter()s it; f stays open), and
   clean text and attributes for it. Shared by the JUnit and HTML writers. */
struct _xmlTextWriter *rb_report_xml_writer(FILE *f);
int rb_report_xml_text(struct _xmlTextWriter *w, const char *text);
int rb_report_xml_attr(struct _xmlTextWriter *w, const char *name, const char *value);

/* Build the schema-1 document; the caller json_decref()s it. Exposed for tests. */
struct json_t *rb_report_json(const struct rb_run_result *run);

/* Is there more to say about the cycle's targets than its own line does (several
   targets, or a target with several ports)? */
bool rb_report_has_targets(const struct rb_cycle_result *c);

/* "edge: not restarted, players recovered 1025.1 ms after the restart",
   "origin: restarted, rebind port 1935 4.1 ms, port 8080 4.3 ms": console, JUnit
   and HTML show each target of a cycle with this line. */
void rb_report_target_line(const struct rb_target_result *t, char *buf, size_t len);

#endif
