/*
 * shard: the I-th of N disjoint, stable slices of a scenario set (`--shard I/N`), so
 * an engine that already runs N copies of a job (a GitHub Actions matrix, GitLab's
 * parallel:, a Kubernetes Indexed Job) runs each scenario exactly once.
 *
 * Slices are by position in file order (after --only): scenario k (0-based) belongs to
 * shard (k mod N) + 1. Position, not a hash of the name: shards differ in size by at
 * most one (a hash leaves small sets lopsided, often with empty shards), and every
 * machine that reads the same file gets the same slices. I is 1-based, as GitLab's
 * CI_NODE_INDEX; Kubernetes' 0-based JOB_COMPLETION_INDEX is converted.
 */
#ifndef REBOUND_SHARD_H
#define REBOUND_SHARD_H

#include <stdbool.h>
#include <stddef.h>

#include "rebound/error.h"

#define RB_SHARD_MAX 10000

struct rb_shard {
  unsigned index; /* 1..total */
  unsigned total; /* 0: not sharded */
};

/* "I/N" with 1 <= I <= N <= RB_SHARD_MAX; RB_ERR_USAGE with a message otherwise. */
rb_err rb_shard_parse(const char *text, struct rb_shard *out, char *msg, size_t msglen);

/* `--shard auto`, from the first of: REBOUND_SHARD=I/N; GitLab CI_NODE_INDEX (1-based)
   and CI_NODE_TOTAL; Kubernetes JOB_COMPLETION_INDEX (0-based) with shards (--shards N,
   0 when not given). getenv_fn is getenv (a stub in tests). RB_ERR_USAGE naming the
   variables when none is set or a value is wrong. */
rb_err rb_shard_from_env(char *(*getenv_fn)(const char *), unsigned shards, struct rb_shard *out, char *msg,
                         size_t msglen);

/* Whether scenario k (0-based, file order) is in shard s (always when not sharded). */
bool rb_shard_has(const struct rb_shard *s, size_t k);

#endif
