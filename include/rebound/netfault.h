/*
 * netfault: a fault proxy for network faults on loopback (issue 15).
 *
 * When a scenario sets net_fault, its clients connect to the proxy on a private
 * loopback port and the proxy connects to the target (through net). One thread
 * relays every connection with epoll. The proxy can then make a network fail in
 * the ways a real one does, per connection:
 *  - blackhole: stop forwarding both ways and send nothing, keeping both sockets
 *    open (the dead peer: no FIN, no RST ever reaches either side);
 *  - reset: RST both sides (SO_LINGER 0);
 *  - partition D: blackhole for D, then forward again (what survives resumes);
 *  - latency D and bandwidth RATE: shaping for every connection, all the time.
 * It also sees what the server does about a dead connection: a blackholed pair
 * whose server side is closed by the server itself counts as "dropped by the
 * server" (the server noticed the dead peer on its own, e.g. an idle timeout).
 *
 * The per-connection state machine is a pure function (rb_netfault_step), unit
 * tested without sockets.
 */
#ifndef REBOUND_NETFAULT_H
#define REBOUND_NETFAULT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rebound/error.h"

enum rb_netfault_kind {
  RB_NETFAULT_NONE,
  RB_NETFAULT_BLACKHOLE,
  RB_NETFAULT_RESET,
  RB_NETFAULT_LATENCY,
  RB_NETFAULT_BANDWIDTH,
  RB_NETFAULT_PARTITION,
};

/* A net_fault value: "blackhole", "reset", "latency:D", "bandwidth:RATE", "partition:D". */
struct rb_netfault_spec {
  enum rb_netfault_kind kind;
  int64_t ns;     /* latency, partition */
  uint64_t rate;  /* bandwidth, bytes per second */
};

/* Parse text into spec; false with why on a bad value. RATE is bytes per second
   with an optional k, M or G (x1000) and an optional "B/s": 500k, 2M, 1GB/s. */
bool rb_netfault_parse(const char *text, struct rb_netfault_spec *spec, char *why, size_t whylen);
/* The word of a kind ("blackhole", ...). */
const char *rb_netfault_name(enum rb_netfault_kind kind);

/* ---- the per-connection state machine ------------------------------------ */

enum rb_nf_state {
  RB_NF_FORWARD,   /* bytes flow (shaped) */
  RB_NF_BLACKHOLE, /* nothing flows, nothing is sent, both sockets stay open */
  RB_NF_PARTITION, /* a blackhole that heals at heal_at */
  RB_NF_CLOSED,
};

enum rb_nf_event {
  RB_NF_EV_BLACKHOLE,  /* the fault is applied to this connection */
  RB_NF_EV_PARTITION,
  RB_NF_EV_RESET,
  RB_NF_EV_TICK,       /* time passes (now) */
  RB_NF_EV_SERVER_EOF, /* the server closed or reset its side */
  RB_NF_EV_CLIENT_EOF, /* the client closed or reset its side */
  RB_NF_EV_CLEANUP,    /* the cycle is over: dead connections go (RST) */
};

struct rb_nf_step {
  enum rb_nf_state next;
  bool rst;            /* close both sides with an RST now */
  bool close;          /* close both sides normally (a FIN is passed on) */
  bool server_dropped; /* the server closed a connection it could not know was dead */
  bool close_server;   /* close only the server side (the client hears nothing) */
};

/* What happens to a connection in state s on event e at time now. heal_at is the
   end of a partition; server_gone says whether the server side is already closed. */
struct rb_nf_step rb_netfault_step(enum rb_nf_state s, enum rb_nf_event e, int64_t now,
                                   int64_t heal_at, bool server_gone);

/* ---- the proxy ---------------------------------------------------------- */

struct rb_netfault;

struct rb_netfault_stats {
  size_t accepted;        /* connections accepted since the start */
  size_t open;            /* connections open now */
  size_t faulted;         /* connections the last rb_netfault_apply hit */
  size_t server_dropped;  /* of those, how many the server closed by itself */
  int64_t first_drop_at;  /* when the first of them was closed by the server (0: none) */
  size_t refused;         /* upstream connects that failed */
};

/* Listen on 127.0.0.1 (a free port) and relay to host:port. */
rb_err rb_netfault_start(struct rb_netfault **out, const char *host, uint16_t port, char *msg,
                         size_t msglen);
uint16_t rb_netfault_port(const struct rb_netfault *p);
/* Shaping for every connection from now on (0: none). */
void rb_netfault_shape(struct rb_netfault *p, int64_t latency_ns, uint64_t rate);
/* Apply a blackhole, reset or partition to the open connections whose client
   side has one of the local ports in ports (nports == 0: every connection).
   Returns how many connections it hit. */
size_t rb_netfault_apply(struct rb_netfault *p, const struct rb_netfault_spec *spec,
                         const uint16_t *ports, size_t nports);
/* End of a cycle: connections still blackholed or partitioned are reset. */
void rb_netfault_cleanup(struct rb_netfault *p);
void rb_netfault_stats(struct rb_netfault *p, struct rb_netfault_stats *out);
/* Stop the thread and close everything. NULL is fine. */
void rb_netfault_stop(struct rb_netfault *p);

#endif
