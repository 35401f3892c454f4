/*
 * probe: is the target ready?
 *
 * Owns the readiness checks (socket table LISTEN, TCP connect, RTMP handshake +
 * connect through the client module, HTTP GET through libcurl) and the loop that
 * polls one of them against a deadline. Polling starts at 200 us and doubles up
 * to 5 ms: a server that binds in a millisecond is seen within a fraction of a
 * millisecond, and a slow one does not cost a busy loop. Every single attempt is
 * bounded by the overall deadline as well.
 */
#include "rebound/probe.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rebound/client.h"
#include "rebound/clock.h"
#include "rebound/http.h"
#include "rebound/net.h"
#include "rebound/random.h"
#include "rebound/sockdiag.h"

#define POLL_MIN_NS (200 * 1000)
#define POLL_MAX_NS (5 * RB_NS_PER_MS)
/* One attempt may take this long at most, so that a peer that accepts and then
   says nothing does not use up the whole deadline in one go. */
#define ATTEMPT_MAX_NS (2 * RB_NS_PER_S)

bool rb_probe_listen_once(uint16_t port)
{
  return rb_sockdiag_is_listening(port);
}

rb_err rb_probe_tcp_once(const char *host, uint16_t port, int64_t deadline, char *msg, size_t msglen)
{
  int fd;
  rb_err err = rb_net_connect(host, port, deadline, NULL, &fd, msg, msglen);

  if(!err)
    close(fd);
  return err;
}

/* ---- HTTP ------------------------------------------------------------------- */

static size_t discard_body(char *ptr, size_t size, size_t nmemb, void *arg)
{
  (void)ptr;
  (void)arg;
  return size * nmemb;
}

static rb_err curl_result(CURLcode code, const char *url, const char *detail, char *msg, size_t msglen)
{
  return rb_fail(msg, msglen, rb_http_error(code), "GET %s: %s", url, detail[0] ? detail : curl_easy_strerror(code));
}

rb_err rb_probe_http_once(const char *url, int64_t deadline, char *msg, size_t msglen)
{
  char detail[CURL_ERROR_SIZE] = "";
  long timeout_ms = rb_clock_ms_left(deadline), status = 0;
  CURLcode code;
  CURL *curl;
  rb_err err;

  if(!url)
    return rb_fail(msg, msglen, RB_ERR_USAGE, "no HTTP URL to probe");
  if(timeout_ms <= 0)
    return rb_fail(msg, msglen, RB_ERR_TIMEOUT, "GET %s: no time left", url);
  rb_http_global_init();
  curl = curl_easy_init();
  if(!curl)
    return rb_fail(msg, msglen, RB_ERR_NOMEM, "curl_easy_init failed");
  curl_easy_setopt(curl, CURLOPT_URL, url);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L); /* no SIGALRM from resolver timeouts: we have threads */
  curl_easy_setopt(curl, CURLOPT_NOPROXY, "*"); /* loopback only: never through a proxy from the environment */
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard_body);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, detail);
#if LIBCURL_VERSION_NUM >= 0x075500
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
#endif
  code = curl_easy_perform(curl);
  if(code == CURLE_OK)
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_cleanup(curl);
  if(code != CURLE_OK)
    err = curl_result(code, url, detail, msg, msglen);
  else if(status < 200 || status > 299)
    err = rb_fail(msg, msglen, RB_ERR_REJECTED, "GET %s: HTTP %ld", url, status);
  else
    err = RB_OK;
  return err;
}

/* ---- RTMP ------------------------------------------------------------------- */

static rb_err rtmp_once(const char *url, int64_t deadline, char *msg, size_t msglen)
{
  struct rb_client_opts opts = { .url = url, .step_timeout_ns = deadline - rb_clock_now() };
  struct rb_client *client = NULL;
  rb_err err;

  if(!url)
    return rb_fail(msg, msglen, RB_ERR_USAGE, "no RTMP URL to probe");
  if(opts.step_timeout_ns <= 0)
    return rb_fail(msg, msglen, RB_ERR_TIMEOUT, "%s: no time left", url);
  if((err = rb_client_create(&client, &opts, msg, msglen)))
    return err;
  err = rb_client_connect(client, msg, msglen);
  rb_client_destroy(client);
  return err;
}

/* ---- the loop --------------------------------------------------------------- */

static rb_err attempt(const struct rb_ready *r, int64_t deadline, char *msg, size_t msglen)
{
  int64_t cap = rb_clock_deadline(ATTEMPT_MAX_NS);

  if(cap < deadline)
    deadline = cap;
  switch(r->kind) {
  case RB_READY_LISTEN:
    if(rb_probe_listen_once(r->port))
      return RB_OK;
    return rb_fail(msg, msglen, RB_ERR_REFUSED, "nothing LISTENs on port %u", r->port);
  case RB_READY_TCP:
    return rb_probe_tcp_once(r->host, r->port, deadline, msg, msglen);
  case RB_READY_RTMP:
    return rtmp_once(r->url, deadline, msg, msglen);
  case RB_READY_HTTP:
    return rb_probe_http_once(r->http_url, deadline, msg, msglen);
  }
  return rb_fail(msg, msglen, RB_ERR_USAGE, "unknown readiness kind %d", (int)r->kind);
}

rb_err rb_probe_wait(const struct rb_ready *r, int64_t deadline, rb_probe_keep_going keep_going, void *arg,
                     int64_t *ready_at, char *msg, size_t msglen)
{
  int64_t delay = POLL_MIN_NS;
  char last[256] = "";
  unsigned attempts = 0;

  if(!r)
    return rb_fail(msg, msglen, RB_ERR_USAGE, "nothing to probe");
  for(;;) {
    int64_t now, left;

    attempts++;
    if(attempt(r, deadline, last, sizeof(last)) == RB_OK) {
      if(ready_at)
        *ready_at = rb_clock_now();
      return RB_OK;
    }
    now = rb_clock_now();
    left = deadline - now;
    if(left <= 0)
      return rb_fail(msg, msglen, RB_ERR_TIMEOUT, "not ready after %u attempts; last: %s", attempts, last);
    if(keep_going && !keep_going(arg))
      return rb_fail(msg, msglen, RB_ERR_INTERRUPTED, "gave up waiting (last: %s)", last);
    rb_clock_sleep(delay < left ? delay : left);
    delay = delay * 2 > POLL_MAX_NS ? POLL_MAX_NS : delay * 2;
  }
}

static rb_err kernel_free_port(uint16_t *port, char *msg, size_t msglen)
{
  struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
  socklen_t len = sizeof(sa);
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  rb_err err = RB_OK;

  if(fd < 0)
    return rb_fail(msg, msglen, RB_ERR_SYSTEM, "socket: %s", strerror(errno));
  if(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
    err = rb_fail(msg, msglen, RB_ERR_SYSTEM, "finding a free port on 127.0.0.1: %s", strerror(errno));
  else
    *port = ntohs(sa.sin_port);
  close(fd);
  return err;
}

/* The kernel's range for the local ports of outgoing connections. */
static void ephemeral_range(unsigned *lo, unsigned *hi)
{
  FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "re");

  *lo = 32768;
  *hi = 60999;
  if(f) {
    if(fscanf(f, "%u %u", lo, hi) != 2 || *lo > *hi || *hi > 65535)
      *lo = 32768, *hi = 60999;
    fclose(f);
  }
}

/* Can a listener bind 127.0.0.1:port right now? Without SO_REUSEADDR, so that a
   port with any socket on it at all (TIME_WAIT included) is refused: an auto port
   starts clean, also for a server that does not set SO_REUSEADDR. */
static bool port_is_free(uint16_t port)
{
  struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                            .sin_port = htons(port) };
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  bool ok = fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;

  if(fd >= 0)
    close(fd);
  return ok;
}

/* An auto port is chosen outside the ephemeral range: bind(port 0) would hand out
   a port from that range, which the kernel may give any process's next outgoing
   connection while the server is down between two cycles -- and then the restart
   fails with EADDRINUSE, looking like the server's bug. Candidates are random (not
   the scenario's seed: two rebound runs at once must not choose alike), each
   checked by a bind. */
rb_err rb_probe_free_port(uint16_t *port, char *msg, size_t msglen)
{
  unsigned lo, hi, first, count;
  uint64_t state = (uint64_t)rb_clock_now() ^ ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)port;

  ephemeral_range(&lo, &hi);
  if(lo > 16384) { /* below the range: 10000 .. lo-1 */
    first = 10000;
    count = lo - first;
  }
  else if(hi < 60000) { /* above it */
    first = hi + 1;
    count = 65535 - hi;
  }
  else
    first = count = 0; /* the range covers nearly everything: fall back to the kernel's choice */
  for(int attempt = 0; count && attempt < 200; attempt++) {
    uint16_t candidate = (uint16_t)(first + rb_random_next(&state) % count);

    if(port_is_free(candidate)) {
      *port = candidate;
      return RB_OK;
    }
  }
  return kernel_free_port(port, msg, msglen);
}
