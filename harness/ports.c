/*
 * ports: the list of a target's judged ports, their discovery from the socket
 * table and their idle holders. See include/rebound/ports.h.
 */
#include "rebound/ports.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rebound/clock.h"
#include "rebound/net.h"
#include "rebound/sockdiag.h"

/* A host listens on a few hundred ports at most; the tree of one target on far fewer. */
#define DISCOVER_MAX 64

void rb_ports_init(struct rb_ports *p, uint16_t first_port)
{
  p->n = 0;
  for(size_t i = 0; i < RB_MAX_PORTS; i++)
    for(size_t k = 0; k < RB_PORT_HOLDERS; k++)
      p->hold_fd[i][k] = -1;
  if(first_port)
    p->port[p->n++] = first_port;
}

int rb_ports_index(const struct rb_ports *p, uint16_t port)
{
  for(size_t i = 0; i < p->n; i++)
    if(p->port[i] == port)
      return (int)i;
  return -1;
}

bool rb_ports_add(struct rb_ports *p, uint16_t port)
{
  if(!port || rb_ports_index(p, port) >= 0)
    return true;
  if(p->n == RB_MAX_PORTS)
    return false;
  p->port[p->n++] = port;
  return true;
}

bool rb_ports_named_in(const char *text, uint16_t port)
{
  char num[8];
  size_t n = (size_t)snprintf(num, sizeof(num), "%u", (unsigned)port);

  for(const char *p = text; p && (p = strstr(p, num)); p++) {
    bool before = p > text && p[-1] >= '0' && p[-1] <= '9', after = p[n] >= '0' && p[n] <= '9';

    if(!before && !after)
      return true;
  }
  return false;
}

void rb_ports_keep_named(struct rb_ports *p, const char *const *texts, size_t ntexts)
{
  size_t kept = p->n ? 1 : 0;

  for(size_t i = 1; i < p->n; i++) {
    bool named = false;

    for(size_t k = 0; k < ntexts && !named; k++)
      named = rb_ports_named_in(texts[k], p->port[i]);
    if(named)
      p->port[kept++] = p->port[i];
  }
  p->n = kept;
}

static int by_value(const void *a, const void *b)
{
  return (int)*(const uint16_t *)a - (int)*(const uint16_t *)b;
}

rb_err rb_ports_discover(struct rb_ports *p, const pid_t *pids, size_t npids, size_t *dropped, char *msg,
                         size_t msglen)
{
  uint16_t found[DISCOVER_MAX];
  size_t nfound = 0, lost = 0;
  rb_err err = rb_sockdiag_listen_ports_of(pids, npids, found, DISCOVER_MAX, &nfound, msg, msglen);

  if(err)
    return err;
  qsort(found, nfound, sizeof(found[0]), by_value);
  for(size_t i = 0; i < nfound; i++)
    lost += !rb_ports_add(p, found[i]);
  if(dropped)
    *dropped = lost;
  return RB_OK;
}

/* Until the server has accept()ed n connections on port, or deadline: a connection
   still in the accept queue is reset when the server dies, and leaves nothing behind. */
static bool wait_accepted(uint16_t port, unsigned n, int64_t deadline)
{
  struct rb_port_snapshot snap;

  for(;;) {
    if(rb_sockdiag_snapshot(port, false, &snap, NULL, 0) == RB_OK && snap.accepted >= n)
      return true;
    if(rb_clock_now() >= deadline)
      return false;
    rb_clock_sleep(RB_NS_PER_MS);
  }
}

rb_err rb_ports_hold(struct rb_ports *p, const char *host, unsigned per_port, int64_t deadline, char *msg,
                     size_t msglen)
{
  rb_err err;

  if(per_port > RB_PORT_HOLDERS)
    per_port = RB_PORT_HOLDERS;
  for(size_t i = 1; i < p->n; i++)
    for(unsigned k = 0; k < per_port; k++) {
      if(p->hold_fd[i][k] >= 0)
        continue;
      if((err = rb_net_connect(host, p->port[i], deadline, NULL, &p->hold_fd[i][k], msg, msglen)))
        return err;
    }
  /* every connection first, then the accepts: not a failure if the server defers
     accept() (TCP_DEFER_ACCEPT), the port is then judged without lingering sockets */
  for(size_t i = 1; i < p->n; i++)
    (void)wait_accepted(p->port[i], per_port, deadline);
  return RB_OK;
}

void rb_ports_release(struct rb_ports *p)
{
  for(size_t i = 0; i < RB_MAX_PORTS; i++)
    for(size_t k = 0; k < RB_PORT_HOLDERS; k++)
      if(p->hold_fd[i][k] >= 0) {
        close(p->hold_fd[i][k]);
        p->hold_fd[i][k] = -1;
      }
}
