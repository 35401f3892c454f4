/*
 * sockdiag: what the kernel's socket table says about one TCP port.
 *
 * Reads NETLINK_SOCK_DIAG (inet_diag, IPv4 and IPv6, filtered by the local port),
 * falling back to /proc/net/tcp and /proc/net/tcp6 when netlink is unavailable.
 * It counts sockets whose *local* port is the target port per TCP state (the
 * server's side of its connections and its listening socket), and maps LISTEN
 * sockets to their owners (pid + command line) through /proc/<pid>/fd inodes.
 *
 * It only observes: deciding whether what it saw is a failure is the engine's job.
 */
#ifndef REBOUND_SOCKDIAG_H
#define REBOUND_SOCKDIAG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "rebound/error.h"
#include "rebound/types.h"

/* Take a snapshot of port. with_owners = false skips the /proc fd walk (fast path
   used while polling). */
rb_err rb_sockdiag_snapshot(uint16_t port, bool with_owners,
                            struct rb_port_snapshot *out, char *msg, size_t msglen);

/* Cheap check used in tight polling loops: is any socket LISTENing on port? */
bool rb_sockdiag_is_listening(uint16_t port);

/* Fast path for the rebind check: true when port has LISTEN sockets and process pid
   holds every one of them (a fd walk of one process instead of all of /proc). False
   otherwise, including when another process holds a LISTEN socket of its own. */
bool rb_sockdiag_listen_all_held_by(uint16_t port, pid_t pid);

/* Every TCP port on which one of pids holds a LISTEN socket (IPv4 or IPv6), each
   once, in the order found, at most max; *nports says how many. Used to learn which
   ports a target listens on besides the one it was told about. */
rb_err rb_sockdiag_listen_ports_of(const pid_t *pids, size_t npids, uint16_t *ports, size_t max, size_t *nports,
                                   char *msg, size_t msglen);

/* Parse the text of /proc/net/tcp or /proc/net/tcp6 and add the sockets whose
   local port is port to out->counts; inodes of LISTEN sockets are appended to
   listen_inodes (up to max_inodes, count in *ninodes). Exposed for unit tests. */
rb_err rb_sockdiag_parse_proc(const char *text, uint16_t port,
                              struct rb_port_snapshot *out,
                              unsigned long *listen_inodes, size_t max_inodes,
                              size_t *ninodes);

/* rb_tcp_states_format of the snapshot's counts. */
void rb_sockdiag_format_counts(const struct rb_port_snapshot *s, char *buf, size_t buflen);

#endif
