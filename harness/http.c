/* http: a bounded GET with libcurl (see include/rebound/http.h). */
#include "rebound/http.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

#include "rebound/clock.h"

struct body {
  char *data;
  size_t len;
  bool too_big;
};

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *arg)
{
  struct body *b = arg;
  size_t n = size * nmemb;
  char *p;

  if(b->len + n > RB_HTTP_MAX_BODY) {
    b->too_big = true;
    return 0; /* makes curl fail the transfer */
  }
  if(!(p = realloc(b->data, b->len + n + 1)))
    return 0;
  b->data = p;
  memcpy(b->data + b->len, ptr, n);
  b->len += n;
  b->data[b->len] = '\0';
  return n;
}

rb_err rb_http_get(const char *url, int64_t deadline, char **body, long *status, char *msg, size_t msglen)
{
  struct body b = { 0 };
  CURL *curl = curl_easy_init();
  CURLcode rc;
  long left = (long)rb_clock_ms_left(deadline);
  rb_err err = RB_OK;

  *body = NULL;
  *status = 0;
  if(!curl)
    return rb_fail(msg, msglen, RB_ERR_NOMEM, "cannot initialise libcurl");
  curl_easy_setopt(curl, CURLOPT_URL, url);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, left > 0 ? left : 1L);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, left > 0 ? left : 1L);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &b);
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  rc = curl_easy_perform(curl);
  if(rc != CURLE_OK) {
    err = rb_fail(msg, msglen, rc == CURLE_OPERATION_TIMEDOUT ? RB_ERR_TIMEOUT : RB_ERR_IO, "GET %s: %s", url,
                  b.too_big ? "body larger than 4 MiB" : curl_easy_strerror(rc));
    free(b.data);
    goto out;
  }
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, status);
  *body = b.data ? b.data : strdup("");
out:
  curl_easy_cleanup(curl);
  return err;
}
