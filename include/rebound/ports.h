/*
 * ports: every TCP port a target listens on, so that its rebind is judged on all of
 * them (RTMP, HTTP, RTMPS, ...), not only on the one the scenario names.
 *
 * The list starts with the target's `port`; others are added by name (a module
 * that knows the target serves, say, HTTP on http_port) or discovered from the
 * socket table: the ports LISTENed by the processes of the target's tree once it is
 * up, that its command line or rendered config names (rb_ports_keep_named). While a cycle runs up to the fault, each port other than the first gets idle
 * TCP connections of its own ("port holders"), so the killed server leaves sockets
 * in FIN_WAIT2 on every port, the condition of the classic rebind bug; the first
 * port has the fleet's RTMP holders for that.
 *
 * The engine waits for each port's rebind and records it per port (results.h,
 * struct rb_port_result); this module only keeps the list and the holders.
 *
 * Reuse: whatever else a target serves on a port of its own (the HTTP side on
 * http_port, say) is judged by this one mechanism: a port the tree LISTENs on at
 * first start and that its command, its config or http_port names is in the list,
 * so it gets holders, its socket states at restart, its own rebind time and, if it
 * does not come back, a diagnosis naming it. A port the discovery cannot see is
 * added with rb_ports_add() after rb_ports_keep_named() (which keeps only named ones).
 */
#ifndef REBOUND_PORTS_H
#define REBOUND_PORTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "rebound/error.h"

#define RB_MAX_PORTS 8         /* ports judged per target */
#define RB_PORT_HOLDERS 2      /* idle connections per port other than the first */

struct rb_ports {
  size_t n;
  uint16_t port[RB_MAX_PORTS];                /* port[0] = the target's `port` */
  int hold_fd[RB_MAX_PORTS][RB_PORT_HOLDERS]; /* -1 = not connected */
};

/* An empty list that judges first_port (0 = none yet). */
void rb_ports_init(struct rb_ports *p, uint16_t first_port);

/* Add port unless it is 0 or already listed; false when the list is full. */
bool rb_ports_add(struct rb_ports *p, uint16_t port);

/* Index of port in the list, or -1. */
int rb_ports_index(const struct rb_ports *p, uint16_t port);

/* Add every port LISTENed by one of pids (the target's tree), in ascending order.
   Ports past RB_MAX_PORTS are dropped and *dropped says how many (may be NULL). */
rb_err rb_ports_discover(struct rb_ports *p, const pid_t *pids, size_t npids, size_t *dropped,
                         char *msg, size_t msglen);

/* Does text name port as a number of its own ("--port 8080", ":8080;"), not as
   part of a longer one? NULL text names nothing. */
bool rb_ports_named_in(const char *text, uint16_t port);

/* Keep port[0] and the ports that one of texts names (the target's command line and
   rendered config): a port a server picks at random at each start (an internal
   backend on port 0) is not one it must get back. */
void rb_ports_keep_named(struct rb_ports *p, const char *const *texts, size_t ntexts);

/* Open `per_port` (at most RB_PORT_HOLDERS) idle TCP connections to host on every
   port but the first, and wait (until deadline) for the server to accept() them: a
   connection still in the accept queue is reset by the kill and leaves nothing
   behind. They send nothing. */
rb_err rb_ports_hold(struct rb_ports *p, const char *host, unsigned per_port, int64_t deadline,
                     char *msg, size_t msglen);

/* Close the port holders (safe to call repeatedly). */
void rb_ports_release(struct rb_ports *p);

#endif
