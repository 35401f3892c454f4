/*
 * net: TCP connections with a deadline, in the style of redis' anet.
 *
 * One way to open a TCP connection for every module that needs one (the client,
 * the readiness probe, the fleet's raw half-handshakes, the fault proxy): resolve
 * the host (numeric addresses and /etc/hosts names such as localhost, which need
 * no network: resolution itself has no deadline), then try every address it
 * resolves to with a non-blocking connect, each bounded by the deadline and
 * stopped by an abort flag. Knows nothing of RTMP or of its callers.
 */
#ifndef REBOUND_NET_H
#define REBOUND_NET_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "rebound/error.h"

/* How often a wait looks at the abort flag. */
#define RB_NET_ABORT_SLICE_MS 100

/* Connect to host:port (NULL or "" means 127.0.0.1) before deadline (absolute,
   rb_clock). abort may be NULL; when it becomes true the attempt ends within
   RB_NET_ABORT_SLICE_MS. Addresses are tried in turn until one connects; a
   timeout or an abort ends the whole attempt. On RB_OK *fd is a connected,
   non-blocking, close-on-exec socket the caller owns; otherwise *fd is -1 and
   msg says why ("HOST port PORT: connection refused"):
   RB_ERR_REFUSED, RB_ERR_TIMEOUT, RB_ERR_INTERRUPTED (aborted), RB_ERR_NOT_FOUND
   (the name does not resolve), RB_ERR_SYSTEM (anything else). */
rb_err rb_net_connect(const char *host, uint16_t port, int64_t deadline, const atomic_bool *abort,
                      int *fd, char *msg, size_t msglen);

/* The non-blocking half, for event loops (the fault proxy): start a connect to
   addr on a new non-blocking, close-on-exec socket. Returns 0 (connected at once),
   EINPROGRESS (wait for writability, then rb_net_connect_result) or an errno; *fd
   is set for 0 and EINPROGRESS, else -1. */
int rb_net_connect_start(const struct sockaddr *addr, socklen_t addrlen, int *fd);
/* The outcome of a connect that became writable: 0 or an errno. */
int rb_net_connect_result(int fd);
/* Resolve host (NULL or "": 127.0.0.1):port to its first address. */
rb_err rb_net_resolve(const char *host, uint16_t port, struct sockaddr_storage *addr,
                      socklen_t *addrlen, char *msg, size_t msglen);

/* Switch fd between blocking and non-blocking; false (errno set) on failure. */
bool rb_net_set_blocking(int fd, bool blocking);

#endif
