/*
 * libFuzzer target: the reference server's sessions over byte buffers, two peers
 * at once so that publish -> play relaying is reached. Each connection gets a
 * valid handshake first (C0, C1, C2 are not worth the fuzzer's time); the input
 * is then a list of records: one byte (bit 7: which peer, bits 0-6: length - 1)
 * and up to 128 bytes for that peer. Output is consumed as a socket would.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rebound/refserver.h"

#define PEERS 2

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int64_t fake_now_ns;

static int64_t fake_clock(void)
{
  return fake_now_ns += 1000000; /* 1 ms per look */
}

static void drain(struct rb_refserver *s, struct rb_refserver_conn *conns[PEERS])
{
  struct rb_refserver_conn *c;

  while((c = rb_refserver_next_pending(s))) {
    if(rb_refserver_conn_closing(c)) {
      for(int i = 0; i < PEERS; i++)
        if(conns[i] == c)
          conns[i] = NULL;
      rb_refserver_conn_free(s, c);
    } else {
      struct rb_refserver_buf *out = rb_refserver_conn_output(c);

      rb_refserver_buf_consume(out, rb_refserver_buf_pending(out));
    }
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static uint8_t hello[1 + 2 * RB_REFSERVER_HANDSHAKE_SIZE];
  struct rb_refserver_config cfg = { 0 };
  struct rb_refserver_conn *conns[PEERS];
  struct rb_refserver *s;
  size_t pos = 0;

  fake_now_ns = 0;
  cfg.now = fake_clock;
  cfg.stale_ns = size > 0 && (data[0] & 1) ? 2000000 : 0;
  cfg.memory_budget = 64u << 20;
  s = rb_refserver_new(&cfg);
  if(!s)
    return 0;
  hello[0] = 3;
  for(int i = 0; i < PEERS; i++) {
    conns[i] = rb_refserver_conn_new(s, "fuzz", NULL);
    if(conns[i])
      rb_refserver_conn_input(s, conns[i], hello, sizeof(hello));
  }
  drain(s, conns);
  while(pos < size) {
    int peer = data[pos] >> 7;
    size_t n = (size_t)(data[pos] & 0x7f) + 1;

    pos++;
    if(n > size - pos)
      n = size - pos;
    if(conns[peer] && !rb_refserver_conn_closing(conns[peer])) {
      /* A copy of exactly n bytes, so that ASan sees any read past the end. */
      uint8_t *copy = malloc(n ? n : 1);

      if(!copy)
        break;
      memcpy(copy, data + pos, n);
      rb_refserver_conn_input(s, conns[peer], copy, n);
      free(copy);
    }
    pos += n;
    drain(s, conns);
  }
  rb_refserver_free(s); /* frees the connections still open */
  return 0;
}
