/*
 * libFuzzer target: the scenario loader on any text, then the expansion of
 * every key of every scenario it accepted. Loading never starts anything, so
 * this runs no command. A first line "--set K=V" becomes an override.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rebound/scenario.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct rb_scenario_set set;
  struct rb_scenario_vars vars = { "/nonexistent/run", "/nonexistent/run/x.conf", 3, 1 };
  char msg[512], *text = malloc(size + 1), *body, *sets[2] = { NULL, NULL };

  if(!text)
    return 0;
  memcpy(text, data, size);
  text[size] = '\0';
  body = text;
  if(!strncmp(text, "--set ", 6)) {
    char *nl = strchr(text, '\n');

    if(nl) {
      *nl = '\0';
      sets[0] = text + 6;
      body = nl + 1;
    }
  }
  if(rb_scenario_load_string(body, "fuzz.ini", "/nonexistent", sets, NULL, &set, msg,
                             sizeof(msg)) == RB_OK) {
    for(size_t i = 0; i < set.count; i++)
      for(int id = 0; id < RB_OPT__COUNT; id++) {
        char *out = NULL;

        if(rb_scenario_expand_key(&set.items[i], (enum rb_opt_id)id, &vars, &out, msg,
                                  sizeof(msg)) == RB_OK)
          free(out);
      }
    rb_scenario_set_free(&set);
  } else if(!strchr(msg, ':') && strncmp(msg, "--set", 5)) {
    __builtin_trap(); /* every error names its place */
  }
  free(text);
  return 0;
}
