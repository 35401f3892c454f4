/*
 * net: connect with a deadline and an abort flag. See include/rebound/net.h.
 */
#include "rebound/net.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rebound/clock.h"

bool rb_net_set_blocking(int fd, bool blocking)
{
  int flags = fcntl(fd, F_GETFL);

  if(flags < 0)
    return false;
  flags = blocking ? flags & ~O_NONBLOCK : flags | O_NONBLOCK;
  return fcntl(fd, F_SETFL, flags) == 0;
}

static bool aborted(const atomic_bool *abort)
{
  return abort && atomic_load(abort);
}

int rb_net_connect_start(const struct sockaddr *addr, socklen_t addrlen, int *fd)
{
  int s = socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), err;

  *fd = -1;
  if(s < 0)
    return errno;
  if(connect(s, addr, addrlen) == 0) {
    *fd = s;
    return 0;
  }
  err = errno;
  if(err == EINPROGRESS)
    *fd = s;
  else
    close(s);
  return err;
}

int rb_net_connect_result(int fd)
{
  socklen_t len = sizeof(int);
  int err = 0;

  if(getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
    return errno;
  return err;
}

/* Wait for a non-blocking connect to finish: 0 or an errno (ETIMEDOUT at the
   deadline, EINTR on abort). A signal only restarts the wait. */
static int finish_connect(int fd, int64_t deadline, const atomic_bool *abort)
{
  struct pollfd p = { .fd = fd, .events = POLLOUT };
  int rc;

  for(;;) {
    int ms = rb_clock_ms_left(deadline);

    if(aborted(abort))
      return EINTR;
    if(ms == 0)
      return ETIMEDOUT;
    rc = poll(&p, 1, ms < RB_NET_ABORT_SLICE_MS ? ms : RB_NET_ABORT_SLICE_MS);
    if(rc > 0)
      return rb_net_connect_result(fd);
    if(rc < 0 && errno != EINTR)
      return errno;
  }
}

/* One address: a connected socket in *fd, or an errno. */
static int connect_one(const struct addrinfo *ai, int64_t deadline, const atomic_bool *abort,
                       int *fd)
{
  int s, err = rb_net_connect_start(ai->ai_addr, ai->ai_addrlen, &s);

  if(err == EINPROGRESS)
    err = finish_connect(s, deadline, abort);
  if(err) {
    if(s >= 0)
      close(s);
    return err;
  }
  *fd = s;
  return 0;
}

static rb_err failure(int err, const char *where, int64_t timeout_ns, char *msg, size_t msglen)
{
  char d[32];

  switch(err) {
  case ECONNREFUSED:
    return rb_fail(msg, msglen, RB_ERR_REFUSED, "%s: connection refused", where);
  case ETIMEDOUT:
    rb_duration_format(timeout_ns, d, sizeof(d));
    return rb_fail(msg, msglen, RB_ERR_TIMEOUT, "%s: TCP connect timed out after %s", where, d);
  case EINTR:
    return rb_fail(msg, msglen, RB_ERR_INTERRUPTED, "%s: TCP connect aborted", where);
  default:
    return rb_fail(msg, msglen, RB_ERR_SYSTEM, "%s: connect: %s", where, strerror(err));
  }
}

rb_err rb_net_resolve(const char *host, uint16_t port, struct sockaddr_storage *addr,
                      socklen_t *addrlen, char *msg, size_t msglen)
{
  struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                            .ai_flags = AI_NUMERICSERV };
  struct addrinfo *res = NULL;
  char service[8];
  int gai;

  if(!host || !*host)
    host = "127.0.0.1";
  snprintf(service, sizeof(service), "%u", port);
  gai = getaddrinfo(host, service, &hints, &res);
  if(gai)
    return rb_fail(msg, msglen, RB_ERR_NOT_FOUND, "%s: %s", host, gai_strerror(gai));
  memcpy(addr, res->ai_addr, res->ai_addrlen);
  *addrlen = res->ai_addrlen;
  freeaddrinfo(res);
  return RB_OK;
}

rb_err rb_net_connect(const char *host, uint16_t port, int64_t deadline, const atomic_bool *abort,
                      int *fd, char *msg, size_t msglen)
{
  struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                            .ai_flags = AI_NUMERICSERV };
  struct addrinfo *res = NULL;
  /* The timeout as the caller meant it, rounded to the millisecond, for the message. */
  int64_t left = deadline - rb_clock_now();
  int64_t timeout_ns = left > 0 ? (left + RB_NS_PER_MS / 2) / RB_NS_PER_MS * RB_NS_PER_MS : 0;
  char service[8], where[300];
  int gai, err = ENOENT;

  *fd = -1;
  if(!host || !*host)
    host = "127.0.0.1";
  snprintf(service, sizeof(service), "%u", port);
  snprintf(where, sizeof(where), "%s port %u", host, port);
  gai = getaddrinfo(host, service, &hints, &res);
  if(gai)
    return rb_fail(msg, msglen, RB_ERR_NOT_FOUND, "%s: %s", host, gai_strerror(gai));
  for(const struct addrinfo *ai = res; ai; ai = ai->ai_next) {
    err = connect_one(ai, deadline, abort, fd);
    if(!err || err == ETIMEDOUT || err == EINTR)
      break;
  }
  freeaddrinfo(res);
  return err ? failure(err, where, timeout_ns, msg, msglen) : RB_OK;
}
