/*
 * libFuzzer target: what an HLS server answers for a playlist. The parser must
 * take any text (bounded, NUL-terminated copy), and the tracker any sequence of
 * playlists: the input is split at form feeds into successive polls.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rebound/hls.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static struct rb_hls_playlist pl; /* large: not on the stack */
  struct rb_hls_tracker t = { 0 };
  char *text = malloc(size + 1), *p, *next;
  char why[320];

  if(!text)
    return 0;
  memcpy(text, data, size);
  text[size] = '\0';
  for(p = text; p; p = next) {
    size_t first;

    next = strchr(p, '\f');
    if(next)
      *next++ = '\0';
    if(rb_hls_parse(p, &pl, why, sizeof(why)) == RB_OK) {
      rb_hls_track(&t, &pl, &first, why, sizeof(why));
      if(first > pl.nsegments)
        abort(); /* the index handed to the player must be in range */
      (void)rb_hls_reload_ns(&pl, first < pl.nsegments);
    }
  }
  free(text);
  return 0;
}
