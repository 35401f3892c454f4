/*
 * random: the one pseudo-random generator (xorshift64*). Seeded explicitly, so a
 * scenario's `seed` replays every random choice; one state per user, no locking.
 */
#ifndef REBOUND_RANDOM_H
#define REBOUND_RANDOM_H

#include <stdint.h>

/* Next value; *state must be non-zero (a zero seed is replaced by 1). */
uint64_t rb_random_next(uint64_t *state);

#endif
