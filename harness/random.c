/* random: xorshift64* (see include/rebound/random.h). */
#include "rebound/random.h"

uint64_t rb_random_next(uint64_t *state)
{
  if(!*state)
    *state = 1;
  *state ^= *state >> 12;
  *state ^= *state << 25;
  *state ^= *state >> 27;
  return *state * UINT64_C(2685821657736338717);
}
