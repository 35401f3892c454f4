/*
 * libFuzzer target: a results file as `rebound merge` and `rebound report` read it
 * (from another machine, so untrusted), then every report writer of the table on
 * what was accepted -- JSON, JUnit, HTML and metrics -- into /dev/null.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "rebound/report.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static FILE *sink;
  struct rb_run_result run;
  char msg[512];

  if(!sink && !(sink = fopen("/dev/null", "w")))
    return 0;
  if(rb_report_load_json_buffer((const char *)data, size, "fuzz.json", &run, msg, sizeof(msg)) != RB_OK) {
    if(strncmp(msg, "fuzz.json", 9))
      __builtin_trap(); /* every error names the file */
    return 0;
  }
  for(int k = 0; k < RB_REPORT__COUNT; k++)
    rb_report_formats[k].write(sink, &run, msg, sizeof(msg));
  rb_run_result_free(&run);
  return 0;
}
