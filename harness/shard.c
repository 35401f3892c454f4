/* shard: `--shard I/N` and `--shard auto` (see shard.h). */
#include "rebound/shard.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A decimal number in lo..hi, nothing else. */
static bool parse_num(const char *text, unsigned long lo, unsigned long hi, unsigned *out)
{
  char *end;
  unsigned long v;

  if(!text || *text < '0' || *text > '9')
    return false;
  errno = 0;
  v = strtoul(text, &end, 10);
  if(errno || *end || v < lo || v > hi)
    return false;
  *out = (unsigned)v;
  return true;
}

rb_err rb_shard_parse(const char *text, struct rb_shard *out, char *msg, size_t msglen)
{
  const char *slash = strchr(text, '/');
  char index[32];

  if(!slash || (size_t)(slash - text) >= sizeof(index))
    return rb_fail(msg, msglen, RB_ERR_USAGE, "shard '%s': expected I/N, e.g. 2/4", text);
  memcpy(index, text, (size_t)(slash - text));
  index[slash - text] = '\0';
  if(!parse_num(slash + 1, 1, RB_SHARD_MAX, &out->total) || !parse_num(index, 1, out->total, &out->index))
    return rb_fail(msg, msglen, RB_ERR_USAGE, "shard '%s': expected I/N with 1 <= I <= N <= %d", text,
                   RB_SHARD_MAX);
  return RB_OK;
}

rb_err rb_shard_from_env(char *(*getenv_fn)(const char *), unsigned shards, struct rb_shard *out, char *msg,
                         size_t msglen)
{
  const char *rs = getenv_fn("REBOUND_SHARD"), *gi = getenv_fn("CI_NODE_INDEX"), *gt = getenv_fn("CI_NODE_TOTAL");
  const char *ki = getenv_fn("JOB_COMPLETION_INDEX");
  char text[64];

  if(rs && *rs)
    return rb_shard_parse(rs, out, msg, msglen);
  if(gi && *gi && gt && *gt) {
    snprintf(text, sizeof(text), "%.20s/%.20s", gi, gt);
    if(rb_shard_parse(text, out, NULL, 0))
      return rb_fail(msg, msglen, RB_ERR_USAGE, "--shard auto: CI_NODE_INDEX=%.20s CI_NODE_TOTAL=%.20s: expected "
                     "1 <= index <= total", gi, gt);
    return RB_OK;
  }
  if(ki && *ki) {
    unsigned k;

    if(!shards)
      return rb_fail(msg, msglen, RB_ERR_USAGE, "--shard auto: JOB_COMPLETION_INDEX is set: give the Job's "
                     "completions with --shards N");
    if(!parse_num(ki, 0, shards - 1, &k))
      return rb_fail(msg, msglen, RB_ERR_USAGE, "--shard auto: JOB_COMPLETION_INDEX=%.20s: expected 0..%u", ki,
                     shards - 1);
    out->index = k + 1;
    out->total = shards;
    return RB_OK;
  }
  return rb_fail(msg, msglen, RB_ERR_USAGE, "--shard auto: none of REBOUND_SHARD, CI_NODE_INDEX/CI_NODE_TOTAL "
                 "(GitLab) or JOB_COMPLETION_INDEX (Kubernetes, with --shards N) is set");
}

bool rb_shard_has(const struct rb_shard *s, size_t k)
{
  return !s || !s->total || k % s->total == s->index - 1;
}
