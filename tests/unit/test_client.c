/* Unit tests of the client against tests/fixtures/fake_rtmp_server: replies
   and refusals surface with their codes, hostile peers end within the step
   deadline, close(polite=false) sends nothing, abort and wait_closed work. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rb_test.h"
#include "rebound/client.h"
#include "rebound/clock.h"

#define FAKE REBOUND_BINARY_DIR "/tests/fake_rtmp_server"
#define REFSERVER REBOUND_BINARY_DIR "/rebound-refserver"

static char tmpdir[] = "/tmp/rb-test-client-XXXXXX";

struct fake {
  pid_t pid;
  unsigned port;
  char url[64];
};

/* Start a server program with args and read the port it prints (bounded): the fake
   prints the bare number, rebound-refserver "listening on HOST:PORT ...". */
static bool server_start(struct fake *f, const char *program, const char *const *args)
{
  const char *argv[12] = { program };
  int pipefd[2];
  char buf[32] = "";
  size_t n = 0, i;
  int64_t deadline = rb_clock_deadline(5 * RB_NS_PER_S);

  for(i = 0; args && args[i] && i < 10; i++)
    argv[i + 1] = args[i];
  argv[i + 1] = NULL;
  if(pipe2(pipefd, O_CLOEXEC) < 0)
    return false;
  f->pid = fork();
  if(f->pid == 0) {
    dup2(pipefd[1], 1);
    execv(program, (char *const *)argv);
    _exit(127);
  }
  close(pipefd[1]);
  while(f->pid > 0 && n < sizeof(buf) - 1 && !strchr(buf, '\n')) {
    struct pollfd pfd = { pipefd[0], POLLIN, 0 };
    ssize_t r;

    if(poll(&pfd, 1, rb_clock_ms_left(deadline)) <= 0)
      break;
    r = read(pipefd[0], buf + n, sizeof(buf) - 1 - n);
    if(r <= 0)
      break;
    n += (size_t)r;
    buf[n] = '\0';
  }
  close(pipefd[0]);
  if(sscanf(buf, "listening on %*[^:]:%u", &f->port) != 1) /* IPv4 in these tests */
    f->port = (unsigned)atoi(buf);
  snprintf(f->url, sizeof(f->url), "rtmp://127.0.0.1:%u/live", f->port);
  return f->pid > 0 && f->port > 0;
}

static bool fake_start(struct fake *f, const char *const *args)
{
  return server_start(f, FAKE, args);
}

static void fake_stop(struct fake *f)
{
  if(f->pid > 0) {
    kill(f->pid, SIGKILL);
    waitpid(f->pid, NULL, 0);
  }
  f->pid = 0;
}

static struct rb_client *client_for(const struct fake *f, int64_t step_ns)
{
  struct rb_client_opts o = { .url = f->url, .step_timeout_ns = step_ns };
  struct rb_client *c = NULL;
  char msg[256];

  CU_ASSERT_EQUAL(rb_client_create(&c, &o, msg, sizeof(msg)), RB_OK);
  return c;
}

static void test_publish_and_write(void)
{
  struct fake f;
  struct rb_client *c;
  char msg[256] = "";
  const struct rb_client_timings *t;
  static const uint8_t body[] = { 0xaf, 0x01, 0x21, 0x10 };
  struct rb_media_frame frame = { RB_MEDIA_AUDIO, 40, body, sizeof(body) };

  CU_ASSERT_TRUE_FATAL(fake_start(&f, NULL));
  c = client_for(&f, 3 * RB_NS_PER_S);
  CU_ASSERT_EQUAL(rb_client_connect(c, msg, sizeof(msg)), RB_OK);
  CU_ASSERT_STRING_EQUAL(rb_client_last_status(c)->code, "NetConnection.Connect.Success");
  CU_ASSERT(rb_client_fd(c) >= 0);
  CU_ASSERT_EQUAL(rb_client_publish(c, "s", msg, sizeof(msg)), RB_OK);
  CU_ASSERT_STRING_EQUAL(rb_client_last_status(c)->code, "NetStream.Publish.Start");
  t = rb_client_last_timings(c);
  CU_ASSERT(t->tcp_ms > 0 && t->handshake_ms > 0 && t->connect_ms > 0);
  CU_ASSERT(t->create_stream_ms > 0 && t->start_ms > 0);
  for(int i = 0; i < 20; i++)
    CU_ASSERT_EQUAL(rb_client_write(c, &frame, msg, sizeof(msg)), RB_OK);
  rb_client_destroy(c);
  fake_stop(&f);
}

static void check_rejection(const char *code, bool at_connect)
{
  const char *args[] = { "--reject", code, NULL };
  struct fake f;
  struct rb_client *c;
  char msg[256] = "";
  int64_t t0;
  rb_err err;

  CU_ASSERT_TRUE_FATAL(fake_start(&f, args));
  c = client_for(&f, 3 * RB_NS_PER_S);
  t0 = rb_clock_now();
  err = rb_client_connect(c, msg, sizeof(msg));
  if(!at_connect) {
    CU_ASSERT_EQUAL(err, RB_OK);
    err = rb_client_publish(c, "s", msg, sizeof(msg));
  }
  CU_ASSERT_EQUAL(err, RB_ERR_REJECTED);
  CU_ASSERT_STRING_EQUAL(rb_client_last_status(c)->code, code);
  CU_ASSERT_STRING_EQUAL(rb_client_last_status(c)->description, "fake rejection");
  CU_ASSERT_PTR_NOT_NULL(strstr(msg, code));
  CU_ASSERT_PTR_NOT_NULL(strstr(msg, "rejected: "));
  /* A refusal is an answer, not a timeout: far below the 3 s step. */
  CU_ASSERT(rb_clock_ms(t0, rb_clock_now()) < 1000);
  CU_ASSERT_EQUAL(rb_client_fd(c), -1);
  rb_client_destroy(c);
  fake_stop(&f);
}

static void test_rejections(void)
{
  check_rejection("NetStream.Publish.BadName", false);
  check_rejection("NetStream.Publish.Rejected", false);
  check_rejection("NetStream.Publish.Denied", false);
  check_rejection("NetConnection.Connect.Rejected", true);
}

static void test_play_rejected(void)
{
  const char *args[] = { "--reject", "NetStream.Play.StreamNotFound", NULL };
  struct fake f;
  struct rb_client *c;
  char msg[256];

  CU_ASSERT_TRUE_FATAL(fake_start(&f, args));
  c = client_for(&f, 3 * RB_NS_PER_S);
  CU_ASSERT_EQUAL(rb_client_connect(c, msg, sizeof(msg)), RB_OK);
  CU_ASSERT_EQUAL(rb_client_play(c, "missing", msg, sizeof(msg)), RB_ERR_REJECTED);
  CU_ASSERT_STRING_EQUAL(rb_client_last_status(c)->code, "NetStream.Play.StreamNotFound");
  rb_client_destroy(c);
  fake_stop(&f);
}

/* A hostile peer: the step fails with one of want (or want2) within ~1 s. */
static void check_hostile(const char *mode, bool at_create_stream, rb_err want, rb_err want2,
                          const char *want_text)
{
  const char *args[] = { mode, NULL };
  struct fake f;
  struct rb_client *c;
  char msg[256] = "";
  int64_t t0;
  rb_err err;
  double ms;

  CU_ASSERT_TRUE_FATAL(fake_start(&f, args));
  c = client_for(&f, RB_NS_PER_S);
  t0 = rb_clock_now();
  err = rb_client_connect(c, msg, sizeof(msg));
  if(at_create_stream) {
    CU_ASSERT_EQUAL(err, RB_OK);
    err = rb_client_create_stream(c, msg, sizeof(msg));
  }
  ms = rb_clock_ms(t0, rb_clock_now());
  CU_ASSERT(err == want || err == want2);
  CU_ASSERT(msg[0] != '\0');
  CU_ASSERT_PTR_NOT_NULL(strstr(msg, want_text));
  CU_ASSERT(ms < 2500);
  if(!(err == want || err == want2) || ms >= 2500 || !strstr(msg, want_text))
    fprintf(stderr, "\n%s: %s (%s) after %.0f ms\n", mode, rb_strerror(err), msg, ms);
  rb_client_destroy(c);
  fake_stop(&f);
}

static void test_hostile_peers(void)
{
  check_hostile("--silent", false, RB_ERR_TIMEOUT, RB_ERR_TIMEOUT, "handshake timed out after 1s");
  check_hostile("--trickle", false, RB_ERR_TIMEOUT, RB_ERR_TIMEOUT, "handshake timed out after 1s");
  check_hostile("--garbage", false, RB_ERR_PROTOCOL, RB_ERR_TIMEOUT, "");
  check_hostile("--amf-bomb", false, RB_ERR_PROTOCOL, RB_ERR_PROTOCOL, "malformed command message");
  check_hostile("--bad-chunk", true, RB_ERR_PROTOCOL, RB_ERR_PROTOCOL,
                "new message on chunk stream 6 before the last one was complete");
}

static void test_refused(void)
{
  struct sockaddr_in sa = { .sin_family = AF_INET };
  socklen_t len = sizeof(sa);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct fake f = { 0 };
  struct rb_client *c;
  char msg[256];
  int64_t t0;

  /* Bound but not listening: the port is ours, and connecting is refused. */
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  CU_ASSERT_FATAL(fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
  CU_ASSERT_FATAL(getsockname(fd, (struct sockaddr *)&sa, &len) == 0);
  snprintf(f.url, sizeof(f.url), "rtmp://127.0.0.1:%u/live", ntohs(sa.sin_port));
  c = client_for(&f, 3 * RB_NS_PER_S);
  t0 = rb_clock_now();
  CU_ASSERT_EQUAL(rb_client_connect(c, msg, sizeof(msg)), RB_ERR_REFUSED);
  CU_ASSERT_PTR_NOT_NULL(strstr(msg, "refused"));
  CU_ASSERT(rb_clock_ms(t0, rb_clock_now()) < 500);
  rb_client_destroy(c);
  close(fd);
}

static void test_bad_urls(void)
{
  struct rb_client_opts o = { .url = "http://example/" };
  struct rb_client *c = NULL;
  char msg[256];

  CU_ASSERT_EQUAL(rb_client_create(&c, &o, msg, sizeof(msg)), RB_ERR_USAGE);
  CU_ASSERT_PTR_NULL(c);
  o.url = "";
  CU_ASSERT_EQUAL(rb_client_create(&c, &o, msg, sizeof(msg)), RB_ERR_USAGE);
  rb_client_destroy(NULL);
}

static void test_play_reads_frames(void)
{
  struct fake f;
  struct rb_client *c;
  struct rb_media_verifier *v = malloc(sizeof(*v));
  struct rb_media_frame frame;
  char msg[256] = "";
  rb_err err;

  CU_ASSERT_PTR_NOT_NULL_FATAL(v);
  rb_media_verifier_init(v);
  CU_ASSERT_TRUE_FATAL(fake_start(&f, NULL));
  c = client_for(&f, 3 * RB_NS_PER_S);
  CU_ASSERT_EQUAL(rb_client_connect(c, msg, sizeof(msg)), RB_OK);
  CU_ASSERT_EQUAL(rb_client_play(c, "s", msg, sizeof(msg)), RB_OK);
  for(int i = 0; i < 50; i++) {
    err = rb_client_read(c, &frame, rb_clock_deadline(3 * RB_NS_PER_S), msg, sizeof(msg));
    if(err)
      break;
    CU_ASSERT_EQUAL(frame.type, RB_MEDIA_VIDEO);
    rb_media_verifier_feed(v, &frame, rb_clock_now());
  }
  /* Ten frames 0..9, then UnpublishNotify ends the stream. */
  CU_ASSERT_EQUAL(err, RB_ERR_CLOSED);
  CU_ASSERT_PTR_NOT_NULL(strstr(msg, "NetStream.Play.UnpublishNotify"));
  CU_ASSERT_EQUAL(v->received, 10);
  CU_ASSERT_EQUAL(v->last_seq, 9);
  CU_ASSERT_EQUAL(v->gaps, 0);
  CU_ASSERT_EQUAL(v->duplicates, 0);
  rb_client_destroy(c);
  fake_stop(&f);
  free(v);
}

/* Wait (bounded) until the fake's log has its EOF line, then return it. */
static void read_log(const char *path, char *buf, size_t len)
{
  int64_t deadline = rb_clock_deadline(3 * RB_NS_PER_S);

  buf[0] = '\0';
  while(!strstr(buf, "EOF\n") && rb_clock_now() < deadline) {
    FILE *f = fopen(path, "r");
    size_t n = 0;

    if(f) {
      n = fread(buf, 1, len - 1, f);
      fclose(f);
    }
    buf[n] = '\0';
    if(!strstr(buf, "EOF\n"))
      rb_clock_sleep(5 * RB_NS_PER_MS);
  }
}

static void check_close(bool polite)
{
  char log[256], text[1024], msg[256];
  const char *args[] = { "--log", log, NULL };
  struct fake f;
  struct rb_client *c;

  snprintf(log, sizeof(log), "%s/close-%d.log", tmpdir, polite);
  CU_ASSERT_TRUE_FATAL(fake_start(&f, args));
  c = client_for(&f, 3 * RB_NS_PER_S);
  CU_ASSERT_EQUAL(rb_client_connect(c, msg, sizeof(msg)), RB_OK);
  CU_ASSERT_EQUAL(rb_client_publish(c, "s", msg, sizeof(msg)), RB_OK);
  rb_client_close(c, polite);
  CU_ASSERT_EQUAL(rb_client_fd(c), -1);
  read_log(log, text, sizeof(text));
  CU_ASSERT_PTR_NOT_NULL(strstr(text, "publish\n"));
  CU_ASSERT_PTR_NOT_NULL(strstr(text, "EOF\n"));
  if(polite) {
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "deleteStream\n"));
  } else {
    CU_ASSERT_PTR_NULL(strstr(text, "deleteStream"));
    CU_ASSERT_PTR_NULL(strstr(text, "FCUnpublish"));
  }
  rb_client_destroy(c);
  fake_stop(&f);
}

static void test_close_polite_and_silent(void)
{
  check_close(true);
  check_close(false);
}

struct abort_arg {
  struct rb_client *c;
};

static void *abort_later(void *arg)
{
  struct abort_arg *a = arg;

  rb_clock_sleep(200 * RB_NS_PER_MS);
  rb_client_abort(a->c);
  return NULL;
}

static void test_abort_and_wait_closed(void)
{
  const char *silent[] = { "--silent", NULL };
  struct fake f;
  struct rb_client *c;
  struct abort_arg a;
  pthread_t tid;
  char msg[256];
  int64_t t0;

  /* abort ends a handshake that would otherwise wait 10 s. */
  CU_ASSERT_TRUE_FATAL(fake_start(&f, silent));
  c = client_for(&f, 10 * RB_NS_PER_S);
  a.c = c;
  CU_ASSERT_EQUAL_FATAL(pthread_create(&tid, NULL, abort_later, &a), 0);
  t0 = rb_clock_now();
  CU_ASSERT_EQUAL(rb_client_connect(c, msg, sizeof(msg)), RB_ERR_INTERRUPTED);
  CU_ASSERT(rb_clock_ms(t0, rb_clock_now()) < 2000);
  pthread_join(tid, NULL);
  rb_client_destroy(c);
  fake_stop(&f);

  /* wait_closed: a live connection times out; a killed server is noticed. */
  CU_ASSERT_TRUE_FATAL(fake_start(&f, NULL));
  c = client_for(&f, 3 * RB_NS_PER_S);
  CU_ASSERT_EQUAL(rb_client_connect(c, msg, sizeof(msg)), RB_OK);
  CU_ASSERT_EQUAL(rb_client_wait_closed(c, rb_clock_deadline(200 * RB_NS_PER_MS)), RB_ERR_TIMEOUT);
  fake_stop(&f);
  t0 = rb_clock_now();
  CU_ASSERT_EQUAL(rb_client_wait_closed(c, rb_clock_deadline(3 * RB_NS_PER_S)), RB_ERR_CLOSED);
  CU_ASSERT(rb_clock_ms(t0, rb_clock_now()) < 1000);
  rb_client_close(c, false);
  rb_client_destroy(c);
}

/* Several clients at once, each in its own thread (librtmp state is per client). */
static void *connect_thread(void *arg)
{
  const struct fake *f = arg;
  struct rb_client_opts o = { .url = f->url, .step_timeout_ns = 2 * RB_NS_PER_S };
  struct rb_client *c = NULL;
  char msg[256];
  rb_err err = rb_client_create(&c, &o, msg, sizeof(msg));

  if(!err)
    err = rb_client_connect(c, msg, sizeof(msg));
  rb_client_destroy(c);
  return (void *)(intptr_t)err;
}

static void test_threads(void)
{
  const char *silent[] = { "--silent", NULL };
  struct fake f;
  pthread_t tids[8];
  void *err;
  int64_t t0 = rb_clock_now();

  /* Eight clients against a silent peer all time out on their own 2 s step,
     together rather than one after another: one watchdog serves them all. */
  CU_ASSERT_TRUE_FATAL(fake_start(&f, silent));
  for(int i = 0; i < 8; i++)
    CU_ASSERT_EQUAL_FATAL(pthread_create(&tids[i], NULL, connect_thread, &f), 0);
  for(int i = 0; i < 8; i++) {
    pthread_join(tids[i], &err);
    CU_ASSERT_EQUAL((rb_err)(intptr_t)err, RB_ERR_TIMEOUT);
  }
  CU_ASSERT(rb_clock_ms(t0, rb_clock_now()) < 3500);
  fake_stop(&f);
}

/* A reconnect starts from the protocol's defaults. Server A announces chunk size
   65536; after it dies, server B on the same port writes 128-byte chunks without
   ever announcing them (its connect reply is ~190 bytes: two chunks). A client that
   kept reading with A's chunk size would take B's chunk header for payload. */
static void reconnect_to_default_chunk_size(bool keep, rb_err want, const char *needle)
{
  struct fake a, b;
  struct rb_client *c;
  struct rb_client_opts o = { .step_timeout_ns = 3 * RB_NS_PER_S, .keep_chunk_size = keep };
  static uint8_t big[20000]; /* more than one chunk at any of the sizes in play */
  struct rb_media_frame frame = { RB_MEDIA_VIDEO, 40, big, sizeof(big) };
  char msg[512] = "", port[16];
  const char *args_a[] = { "--quiet", "--port", "0", "--chunk-size", "65536", NULL };
  const char *args_b[] = { "--quiet", "--port", port, "--chunk-size", "128", NULL };
  rb_err err;

  big[0] = 0x17; /* AVC keyframe, NALU */
  big[1] = 1;
  CU_ASSERT_TRUE_FATAL(server_start(&a, REFSERVER, args_a));
  o.url = a.url;
  CU_ASSERT_EQUAL_FATAL(rb_client_create(&c, &o, msg, sizeof(msg)), RB_OK);
  CU_ASSERT_EQUAL(rb_client_connect(c, msg, sizeof(msg)), RB_OK);
  CU_ASSERT_EQUAL(rb_client_publish(c, "s", msg, sizeof(msg)), RB_OK);
  CU_ASSERT_EQUAL(rb_client_write(c, &frame, msg, sizeof(msg)), RB_OK);
  fake_stop(&a);
  rb_client_close(c, false);
  snprintf(port, sizeof(port), "%u", a.port);
  CU_ASSERT_TRUE_FATAL(server_start(&b, REFSERVER, args_b));
  err = rb_client_connect(c, msg, sizeof(msg));
  if(!err)
    err = rb_client_publish(c, "s", msg, sizeof(msg));
  for(int i = 0; i < 3 && !err; i++)
    err = rb_client_write(c, &frame, msg, sizeof(msg));
  CU_ASSERT_EQUAL(err, want);
  if(getenv("REBOUND_TEST_VERBOSE"))
    fprintf(stderr, "reconnect with keep=%d: %s\n", keep, msg);
  if(needle && !strstr(msg, needle)) {
    fprintf(stderr, "got '%s', want '%s'\n", msg, needle);
    CU_FAIL("message");
  }
  rb_client_destroy(c);
  fake_stop(&b);
}

static void test_reconnect_resets_chunk_size(void)
{
  reconnect_to_default_chunk_size(false, RB_OK, NULL);
}

/* The deliberate bug (obs-studio#877): the old outgoing chunk size is kept and not
   announced, so server B reads garbage and the client says so. */
static void test_stale_chunk_size_is_a_protocol_failure(void)
{
  reconnect_to_default_chunk_size(true, RB_ERR_PROTOCOL, "kept chunk size 4096 from its previous connection");
}

static const struct rb_test_case cases[] = {
  RB_TEST(test_publish_and_write),
  RB_TEST(test_rejections),
  RB_TEST(test_play_rejected),
  RB_TEST(test_hostile_peers),
  RB_TEST(test_refused),
  RB_TEST(test_bad_urls),
  RB_TEST(test_play_reads_frames),
  RB_TEST(test_close_polite_and_silent),
  RB_TEST(test_abort_and_wait_closed),
  RB_TEST(test_threads),
  RB_TEST(test_reconnect_resets_chunk_size),
  RB_TEST(test_stale_chunk_size_is_a_protocol_failure),
  RB_TEST_END
};

int main(void)
{
  return rb_test_main_in_tmpdir("client", cases, tmpdir);
}
