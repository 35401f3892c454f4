/* http: libcurl GETs with deadlines (see include/rebound/http.h). */
#include "rebound/http.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rebound/clock.h"

static pthread_once_t global_once = PTHREAD_ONCE_INIT;

static void global_init(void)
{
  curl_global_init(CURL_GLOBAL_DEFAULT);
}

void rb_http_global_init(void)
{
  pthread_once(&global_once, global_init);
}

rb_err rb_http_error(int curl_code)
{
  switch((CURLcode)curl_code) {
  case CURLE_COULDNT_CONNECT: return RB_ERR_REFUSED;
  case CURLE_OPERATION_TIMEDOUT: return RB_ERR_TIMEOUT;
  case CURLE_COULDNT_RESOLVE_HOST: return RB_ERR_NOT_FOUND;
  case CURLE_GOT_NOTHING:
  case CURLE_RECV_ERROR:
  case CURLE_SEND_ERROR: return RB_ERR_CLOSED;
  case CURLE_OUT_OF_MEMORY: return RB_ERR_NOMEM;
  default: return RB_ERR_PROTOCOL;
  }
}

struct transfer {
  const struct rb_http_request *rq;
  /* fetch */
  uint8_t *data;
  size_t len, max;
  bool too_big;
  /* stream */
  rb_http_data_fn on_data;
  void *data_arg;
  rb_err data_err;
  char data_msg[256];
  int64_t last_data_at;         /* 0 until the body begins */
  bool idle_timeout;
  bool stopped;
};

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *arg)
{
  struct transfer *t = arg;
  size_t n = size * nmemb;
  uint8_t *p;

  if(t->len + n > t->max) {
    t->too_big = true;
    return 0; /* makes curl fail the transfer */
  }
  if(!(p = realloc(t->data, t->len + n + 1)))
    return 0;
  t->data = p;
  memcpy(t->data + t->len, ptr, n);
  t->len += n;
  t->data[t->len] = '\0';
  return n;
}

static size_t on_stream(char *ptr, size_t size, size_t nmemb, void *arg)
{
  struct transfer *t = arg;
  size_t n = size * nmemb;

  t->last_data_at = rb_clock_now();
  if((t->data_err = t->on_data(t->data_arg, (const uint8_t *)ptr, n, t->data_msg, sizeof(t->data_msg))))
    return 0;
  return n;
}

/* Called by libcurl several times a second: the abort and the idle deadline. */
static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
  struct transfer *t = arg;

  (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
  if(t->rq->stopping && t->rq->stopping(t->rq->arg)) {
    t->stopped = true;
    return 1;
  }
  if(t->on_data && (t->last_data_at ? rb_clock_now() - t->last_data_at > t->rq->idle_ns
                                      : rb_clock_now() > t->rq->deadline)) {
    t->idle_timeout = true;
    return 1;
  }
  return 0;
}

static curl_socket_t open_socket(void *arg, curlsocktype purpose, struct curl_sockaddr *a)
{
  struct transfer *t = arg;
  curl_socket_t fd;

  (void)purpose;
  fd = socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
  if(fd >= 0 && t->rq->on_socket)
    t->rq->on_socket(t->rq->arg, fd);
  return fd;
}

static int close_socket(void *arg, curl_socket_t fd)
{
  struct rb_http_request *rq = arg;

  if(rq->on_socket)
    rq->on_socket(rq->arg, -1);
  return close(fd);
}

void *rb_http_handle_new(void)
{
  rb_http_global_init();
  return curl_easy_init();
}

void rb_http_handle_free(void *handle)
{
  if(handle)
    curl_easy_cleanup(handle);
}

static void setup(CURL *curl, struct transfer *t, int64_t deadline)
{
  long left = (long)rb_clock_ms_left(deadline);

  curl_easy_reset(curl);
  curl_easy_setopt(curl, CURLOPT_URL, t->rq->url);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, left > 0 ? left : 1L);
  curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, on_progress);
  curl_easy_setopt(curl, CURLOPT_XFERINFODATA, t);
  curl_easy_setopt(curl, CURLOPT_OPENSOCKETFUNCTION, open_socket);
  curl_easy_setopt(curl, CURLOPT_OPENSOCKETDATA, t);
  curl_easy_setopt(curl, CURLOPT_CLOSESOCKETFUNCTION, close_socket);
  curl_easy_setopt(curl, CURLOPT_CLOSESOCKETDATA, (void *)t->rq);
}

/* The one-line reason for a failed transfer. */
static rb_err transfer_error(struct transfer *t, CURLcode rc, char *msg, size_t msglen)
{
  if(t->stopped)
    return rb_fail(msg, msglen, RB_ERR_INTERRUPTED, "stopped");
  if(t->data_err)
    return rb_fail(msg, msglen, t->data_err, "%s", t->data_msg);
  if(t->idle_timeout)
    return t->last_data_at ? rb_fail(msg, msglen, RB_ERR_TIMEOUT, "GET %s: no data for %lld ms", t->rq->url,
                                     (long long)(t->rq->idle_ns / RB_NS_PER_MS))
                           : rb_fail(msg, msglen, RB_ERR_TIMEOUT, "GET %s: no media before the step's deadline",
                                     t->rq->url);
  if(t->too_big)
    return rb_fail(msg, msglen, RB_ERR_IO, "GET %s: body larger than %zu bytes", t->rq->url, t->max);
  return rb_fail(msg, msglen, rb_http_error(rc), "GET %s: %s", t->rq->url, curl_easy_strerror(rc));
}

static rb_err check_status(const struct rb_http_request *rq, long status, char *msg, size_t msglen)
{
  if(status >= 200 && status <= 299)
    return RB_OK;
  return rb_fail(msg, msglen, status == 404 || status == 410 ? RB_ERR_NOT_FOUND : RB_ERR_PROTOCOL,
                 "GET %s answered HTTP %ld", rq->url, status);
}

rb_err rb_http_fetch(const struct rb_http_request *rq, uint8_t **data, size_t *len, long *status, char *msg,
                     size_t msglen)
{
  struct transfer t = { .rq = rq, .max = rq->max_body ? rq->max_body : RB_HTTP_MAX_BODY };
  CURL *curl = rq->handle ? rq->handle : rb_http_handle_new();
  long left = (long)rb_clock_ms_left(rq->deadline);
  CURLcode rc;
  rb_err err = RB_OK;

  *data = NULL;
  *len = 0;
  *status = 0;
  if(!curl)
    return rb_fail(msg, msglen, RB_ERR_NOMEM, "cannot initialise libcurl");
  setup(curl, &t, rq->deadline);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, left > 0 ? left : 1L);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &t);
  if((rc = curl_easy_perform(curl)) != CURLE_OK) {
    err = transfer_error(&t, rc, msg, msglen);
    free(t.data);
    goto out;
  }
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, status);
  if(rq->require_2xx && (err = check_status(rq, *status, msg, msglen))) {
    free(t.data);
    goto out;
  }
  if(!t.data && !(t.data = calloc(1, 1))) {
    err = rb_fail(msg, msglen, RB_ERR_NOMEM, "out of memory");
    goto out;
  }
  *data = t.data;
  *len = t.len;
out:
  if(!rq->handle)
    curl_easy_cleanup(curl);
  return err;
}

rb_err rb_http_get(const char *url, int64_t deadline, char **body, long *status, char *msg, size_t msglen)
{
  struct rb_http_request rq = { .url = url, .deadline = deadline };
  uint8_t *data;
  size_t len;
  rb_err err = rb_http_fetch(&rq, &data, &len, status, msg, msglen);

  *body = (char *)data;
  return err;
}

rb_err rb_http_stream(const struct rb_http_request *rq, rb_http_data_fn on_data, void *data_arg, char *msg,
                      size_t msglen)
{
  struct transfer t = { .rq = rq, .on_data = on_data, .data_arg = data_arg };
  CURL *curl = rq->handle ? rq->handle : rb_http_handle_new();
  long status = 0;
  CURLcode rc;
  rb_err err;

  if(!curl)
    return rb_fail(msg, msglen, RB_ERR_NOMEM, "cannot initialise libcurl");
  setup(curl, &t, rq->deadline);
  /* Until the first byte of the body: the step's deadline; after it, the idle bound
     (on_progress; low-speed is the same bound at libcurl's own second granularity). */
  curl_easy_setopt(curl, CURLOPT_FAILONERROR, 1L);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_stream);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, (long)(rq->idle_ns / RB_NS_PER_S + 1));
  rc = curl_easy_perform(curl);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  if(rc == CURLE_HTTP_RETURNED_ERROR)
    err = check_status(rq, status, msg, msglen);
  else if(rc != CURLE_OK)
    err = transfer_error(&t, rc, msg, msglen);
  else
    err = rb_fail(msg, msglen, RB_ERR_CLOSED, "the server ended the stream %s", rq->url);
  if(!rq->handle)
    curl_easy_cleanup(curl);
  return err;
}
