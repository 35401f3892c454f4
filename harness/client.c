/*
 * client: one RTMP session on librtmp, every step bounded by a deadline.
 *
 * librtmp does the byte work (handshake, chunking, TLS, HTTP tunnelling); this
 * module does everything librtmp would do without a deadline or on trust:
 *  - the TCP connection is made here (net: a connect with the step's deadline)
 *    and a dup() of the socket is handed to librtmp (RTMP_Connect1). librtmp may
 *    close its descriptor whenever a read fails; ours stays valid until
 *    rb_client_close, so the watchdog and rb_client_abort can never shut down a
 *    descriptor number that was closed and reused by another thread;
 *  - one process-wide watchdog thread holds the armed steps and calls
 *    shutdown(2) on a client's socket when its step deadline passes (librtmp's
 *    SO_RCVTIMEO restarts on every byte, so a trickling peer would defeat it);
 *  - command replies (_result, _error, onStatus) are read and matched here:
 *    RTMP_ConnectStream ignores Publish.BadName and friends, and librtmp's
 *    invoke handler answers on its own (createStream, FCSubscribe, ...);
 *  - the next chunk header is checked before RTMP_ReadPacket sees it (librtmp
 *    writes past its buffer if a peer starts a new message on a chunk stream
 *    whose last message is incomplete), control messages are handled here with
 *    their sizes checked, and AMF is checked for shape and nesting depth before
 *    AMF_Decode (which recurses once per nesting level).
 * Sends use send(2) without MSG_NOSIGNAL inside librtmp: the programs ignore
 * SIGPIPE process-wide, which this module relies on.
 *
 * librtmp's global state: the log level/callback and the TLS context are set up
 * once (pthread_once) before any client exists; RTMP_ParseURL, AMF and packet
 * code use no other globals.
 *
 * A step that fails closes the connection without sending anything; the client
 * can then only be connected again or destroyed.
 */
#include "rebound/client.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <librtmp/amf.h>
#include <librtmp/log.h>
#include <librtmp/rtmp.h>

#include "rebound/clock.h"
#include "rebound/net.h"
#include "rebound/rtmp_wire.h"

#define CSID_CONTROL 2
#define CSID_COMMAND 3
#define CSID_DATA 4
#define CSID_AUDIO 5
#define CSID_VIDEO 6
#define CSID_STREAM_COMMAND 8
#define OUT_CHUNK_SIZE 4096
#define MAX_CHUNK_STREAM 319          /* largest id of the 2-byte basic header form */
#define MAX_MESSAGE (8u * 1024 * 1024) /* larger server messages are refused */
#define MAX_AMF_DEPTH 16
#define MAX_STREAM_NAME 1024
#define SLICE_MS 100 /* poll slice, so an abort is noticed promptly */

enum client_state { STATE_NEW, STATE_CONNECTED, STATE_STREAM, STATE_PUBLISHING, STATE_PLAYING,
                    STATE_CLOSED };

struct rb_client {
  RTMP *r;
  char *url;      /* as given */
  char *url_copy; /* librtmp keeps pointers into it */
  int64_t step_ns;
  enum client_state state;
  int stream_id;
  RTMPPacket packet; /* what rb_client_read returned last */
  uint8_t *wbuf;     /* outgoing message; librtmp writes chunk headers into it */
  size_t wcap;
  struct rb_client_status status;
  struct rb_client_timings timings;
  bool keep_chunk_size; /* opts.keep_chunk_size */
  int last_out_chunk;   /* the chunk size the last connection announced and sent with */
  bool stale_chunk;     /* this connection sends with last_out_chunk, unannounced */
  atomic_bool aborted;
  /* guarded by wd_lock */
  int fd; /* ours; librtmp has a dup */
  struct rb_client *wd_next;
  int64_t wd_deadline;
  bool wd_armed;
  bool wd_fired;
};

/* What ends a step: a _result/_error for txn, or an onStatus with one of ok_codes. */
struct awaited {
  const char *step;
  double txn;
  bool want_result;
  const char *const *ok_codes;
};

#define SAVC(x) static const AVal av_##x = AVC(#x)
SAVC(code);
SAVC(level);
SAVC(description);

static pthread_once_t lib_once = PTHREAD_ONCE_INIT;
static bool lib_ok;
static pthread_mutex_t wd_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wd_cond;
static struct rb_client *wd_list;

/* ---- process-wide setup and the watchdog -------------------------------- */

/* librtmp only warns when the server's S0 carries another RTMP version than
   the client's C0, and carries on; its warning is the one place where that is
   seen. The callback runs in the thread doing the handshake, so a thread-local
   flag carries it to handshake_and_connect. */
static _Thread_local int s0_mismatch; /* the server's version, or -1 */
static bool lib_debug;

static void librtmp_log(int level, const char *fmt, va_list ap)
{
  static const char mismatch[] = "%s: Type mismatch: client sent %d, server answered %d";

  if(level <= RTMP_LOGWARNING && !strcmp(fmt, mismatch)) {
    va_list copy;

    va_copy(copy, ap);
    (void)va_arg(copy, const char *);
    (void)va_arg(copy, int);
    s0_mismatch = va_arg(copy, int);
    va_end(copy);
  }
  if(lib_debug) {
    vfprintf(stderr, fmt, ap); /* librtmp's own literal formats */
    fputc('\n', stderr);
  }
}

static void *watchdog_main(void *arg)
{
  (void)arg;
  pthread_mutex_lock(&wd_lock);
  for(;;) {
    int64_t now = rb_clock_now(), next = INT64_MAX;
    struct rb_client **pp = &wd_list;

    while(*pp) {
      struct rb_client *c = *pp;

      if(c->wd_deadline <= now) {
        if(c->fd >= 0)
          shutdown(c->fd, SHUT_RDWR);
        c->wd_fired = true;
        c->wd_armed = false;
        *pp = c->wd_next;
        c->wd_next = NULL;
        continue;
      }
      if(c->wd_deadline < next)
        next = c->wd_deadline;
      pp = &c->wd_next;
    }
    if(next == INT64_MAX) {
      pthread_cond_wait(&wd_cond, &wd_lock);
    } else {
      struct timespec ts = { (time_t)(next / RB_NS_PER_S), (long)(next % RB_NS_PER_S) };
      pthread_cond_timedwait(&wd_cond, &wd_lock, &ts);
    }
  }
  return NULL;
}

static void lib_init(void)
{
  pthread_condattr_t cattr;
  pthread_attr_t tattr;
  pthread_t tid;
  sigset_t all, old;
  RTMP *first;
  int rc;

  lib_debug = getenv("REBOUND_LIBRTMP_DEBUG") != NULL;
  RTMP_LogSetCallback(librtmp_log);
  RTMP_LogSetLevel(lib_debug ? RTMP_LOGDEBUG : RTMP_LOGWARNING);
  RTMP_GetTime(); /* sets its cached clock tick rate */
  first = RTMP_Alloc(); /* the first RTMP_Init creates librtmp's TLS context */
  if(first) {
    RTMP_Init(first);
    RTMP_Free(first);
  }
  pthread_condattr_init(&cattr);
  pthread_condattr_setclock(&cattr, CLOCK_MONOTONIC);
  pthread_cond_init(&wd_cond, &cattr);
  pthread_condattr_destroy(&cattr);
  pthread_attr_init(&tattr);
  pthread_attr_setstacksize(&tattr, 64 * 1024);
  pthread_attr_setdetachstate(&tattr, PTHREAD_CREATE_DETACHED);
  /* Signals belong to the program's own threads, not to the watchdog. */
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  rc = pthread_create(&tid, &tattr, watchdog_main, NULL);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  pthread_attr_destroy(&tattr);
  lib_ok = first && rc == 0;
}

static void watchdog_arm(struct rb_client *c, int64_t deadline)
{
  pthread_mutex_lock(&wd_lock);
  c->wd_deadline = deadline;
  c->wd_fired = false;
  if(!c->wd_armed) {
    c->wd_next = wd_list;
    wd_list = c;
    c->wd_armed = true;
  }
  pthread_cond_signal(&wd_cond);
  pthread_mutex_unlock(&wd_lock);
}

/* Returns true if the deadline passed (and the socket was shut down). */
static bool watchdog_disarm(struct rb_client *c)
{
  bool fired;

  pthread_mutex_lock(&wd_lock);
  if(c->wd_armed) {
    for(struct rb_client **pp = &wd_list; *pp; pp = &(*pp)->wd_next)
      if(*pp == c) {
        *pp = c->wd_next;
        break;
      }
    c->wd_next = NULL;
    c->wd_armed = false;
  }
  fired = c->wd_fired;
  pthread_mutex_unlock(&wd_lock);
  return fired;
}

static void set_fd(struct rb_client *c, int fd)
{
  pthread_mutex_lock(&wd_lock);
  c->fd = fd;
  pthread_mutex_unlock(&wd_lock);
}

static void close_fd(struct rb_client *c)
{
  pthread_mutex_lock(&wd_lock);
  if(c->fd >= 0)
    close(c->fd);
  c->fd = -1;
  pthread_mutex_unlock(&wd_lock);
}

/* ---- small helpers ------------------------------------------------------ */

static bool aval_is(const AVal *a, const char *s)
{
  size_t n = strlen(s);

  return a->av_len >= 0 && (size_t)a->av_len == n && !memcmp(a->av_val, s, n);
}

static void copy_printable(char *dst, size_t dstlen, const AVal *src)
{
  size_t n = 0;

  for(int i = 0; src->av_val && i < src->av_len && n + 1 < dstlen; i++) {
    unsigned char ch = (unsigned char)src->av_val[i];
    dst[n++] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
  }
  dst[n] = '\0';
}

static void set_status(struct rb_client *c, const char *code, const char *description)
{
  snprintf(c->status.code, sizeof(c->status.code), "%s", code);
  snprintf(c->status.description, sizeof(c->status.description), "%s", description);
}

static uint32_t be32(const uint8_t *p)
{
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static bool plain_socket(const struct rb_client *c)
{
  return !(c->r->Link.protocol & RTMP_FEATURE_HTTP) && !c->r->m_sb.sb_ssl;
}

/* Did the peer close or reset? Looks without consuming anything. */
static bool peer_gone(struct rb_client *c)
{
  char b;
  ssize_t n;

  if(c->fd < 0)
    return true;
  n = recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
  return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

static rb_err step_failure(struct rb_client *c, const char *step, bool fired, char *msg, size_t msglen)
{
  char d[32];

  rb_duration_format(c->step_ns, d, sizeof(d));
  if(atomic_load(&c->aborted))
    return rb_fail(msg, msglen, RB_ERR_INTERRUPTED, "%s: aborted", step);
  if(fired || c->r->m_sb.sb_timedout)
    return rb_fail(msg, msglen, RB_ERR_TIMEOUT, "%s timed out after %s", step, d);
  if(peer_gone(c))
    return rb_fail(msg, msglen, RB_ERR_CLOSED, "connection closed by the peer during %s", step);
  return rb_fail(msg, msglen, RB_ERR_PROTOCOL, "protocol error during %s", step);
}

/* The info object of an _error/_result/onStatus: the last object argument with a code. */
static bool command_info(AMFObject *obj, AVal *code, AVal *level, AVal *description)
{
  for(int i = obj->o_num - 1; i >= 2; i--) {
    AMFObjectProperty *p = AMF_GetProp(obj, NULL, i);
    AMFObject *o;

    if(p->p_type != AMF_OBJECT && p->p_type != AMF_ECMA_ARRAY)
      continue;
    o = &p->p_vu.p_object;
    AMFProp_GetString(AMF_GetProp(o, &av_code, -1), code);
    AMFProp_GetString(AMF_GetProp(o, &av_level, -1), level);
    AMFProp_GetString(AMF_GetProp(o, &av_description, -1), description);
    if(code->av_len > 0)
      return true;
  }
  return false;
}

/* A property's number only if it is one: the union holds other types' bits. */
static double number_at(AMFObject *obj, int index)
{
  AMFObjectProperty *p = AMF_GetProp(obj, NULL, index);

  return AMFProp_GetType(p) == AMF_NUMBER ? AMFProp_GetNumber(p) : 0;
}

/* What AMF_Decode (recursive, lenient about sizes) handles safely: whole values
   at most MAX_AMF_DEPTH deep, no references or typed objects. It only ever sees
   data this check passed. */
static const struct rb_rtmp_amf_rules amf_rules = { MAX_AMF_DEPTH, false };

rb_err rb_client_parse_command(const uint8_t *body, size_t len, bool amf3,
                               struct rb_client_command *out, char *msg, size_t msglen)
{
  AMFObject obj;
  AVal name, code, level, description;

  memset(out, 0, sizeof(*out));
  if(amf3 && len > 0) {
    body++; /* AMF3 command messages start with a format byte, then AMF0 */
    len--;
  }
  /* AMF_Decode takes an int length and reads past a size it is not given. */
  if(len == 0 || len > MAX_MESSAGE || body[0] != AMF_STRING ||
     !rb_rtmp_amf_well_formed(body, len, &amf_rules))
    return rb_fail(msg, msglen, RB_ERR_PROTOCOL, "protocol error: malformed command message");
  if(AMF_Decode(&obj, (const char *)body, (int)len, FALSE) < 0) {
    AMF_Reset(&obj);
    return rb_fail(msg, msglen, RB_ERR_PROTOCOL, "protocol error: undecodable command message");
  }
  AMFProp_GetString(AMF_GetProp(&obj, NULL, 0), &name);
  copy_printable(out->name, sizeof(out->name), &name);
  out->txn = number_at(&obj, 1);
  out->number = number_at(&obj, 3);
  out->has_info = command_info(&obj, &code, &level, &description);
  if(out->has_info) {
    copy_printable(out->status.code, sizeof(out->status.code), &code);
    copy_printable(out->status.description, sizeof(out->status.description), &description);
    out->is_error = aval_is(&level, "error");
  }
  AMF_Reset(&obj); /* frees the property arrays only: strings were copied */
  return RB_OK;
}

static rb_err decode_command(const RTMPPacket *pkt, struct rb_client_command *cmd, char *msg,
                             size_t msglen)
{
  return rb_client_parse_command((const uint8_t *)pkt->m_body, pkt->m_nBodySize,
                                 pkt->m_packetType == RTMP_PACKET_TYPE_FLEX_MESSAGE, cmd, msg,
                                 msglen);
}

/* Remember the info of cmd (or clear the status); returns whether its level is "error". */
static bool keep_status(struct rb_client *c, const struct rb_client_command *cmd)
{
  c->status = cmd->status;
  return cmd->is_error;
}

static rb_err rejected(struct rb_client *c, const char *fallback_code, char *msg, size_t msglen)
{
  if(!c->status.code[0])
    set_status(c, fallback_code, "");
  if(c->status.description[0])
    return rb_fail(msg, msglen, RB_ERR_REJECTED, "rejected: %s (%s)", c->status.code,
                   c->status.description);
  return rb_fail(msg, msglen, RB_ERR_REJECTED, "rejected: %s", c->status.code);
}

/* ---- reading ------------------------------------------------------------ */

/* Wait until the socket has bytes (or EOF) without arming the watchdog, so a
   quiet but healthy connection survives a read deadline. */
static rb_err wait_readable(struct rb_client *c, const char *step, int64_t deadline, char *msg,
                            size_t msglen)
{
  struct pollfd pfd = { c->fd, POLLIN, 0 };

  if(!plain_socket(c) || c->r->m_sb.sb_size > 0)
    return RB_OK;
  /* Acknowledge at once rather than after the delayed-ACK timer: servers that leave
     Nagle on (nginx-rtmp) hold their next small reply until our ACK arrives, which
     costs 40 ms per command round trip. The kernel clears the flag again by itself,
     hence before every wait. */
  {
    int on = 1;

    setsockopt(c->fd, IPPROTO_TCP, TCP_QUICKACK, &on, sizeof(on));
  }
  for(;;) {
    int ms = rb_clock_ms_left(deadline), rc;

    if(atomic_load(&c->aborted))
      return rb_fail(msg, msglen, RB_ERR_INTERRUPTED, "%s: aborted", step);
    if(ms == 0)
      return rb_fail(msg, msglen, RB_ERR_TIMEOUT, "%s timed out: nothing received", step);
    rc = poll(&pfd, 1, ms < SLICE_MS ? ms : SLICE_MS);
    if(rc > 0)
      return RB_OK;
    if(rc < 0 && errno != EINTR)
      return rb_fail(msg, msglen, RB_ERR_SYSTEM, "poll: %s", strerror(errno));
  }
}

/* Look at the next chunk header before RTMP_ReadPacket trusts it. Returns
   RB_ERR_PROTOCOL for a header librtmp would mishandle, RB_ERR_CLOSED (caller
   classifies) if the bytes could not be read. */
static rb_err check_next_chunk(struct rb_client *c, char *msg, size_t msglen)
{
  RTMPSockBuf *sb = &c->r->m_sb;
  struct rb_rtmp_chunk_header h;
  size_t need;

  if(c->r->Link.protocol & RTMP_FEATURE_HTTP)
    return RB_OK; /* the buffer holds HTTP framing, not chunks */
  /* librtmp tracks the extended timestamps of fmt 3 chunks itself: false. */
  while(rb_rtmp_chunk_header((const uint8_t *)sb->sb_start, (size_t)sb->sb_size, false, &h,
                             &need) == RB_RTMP_NEED_MORE) {
    if(sb->sb_size > 0 && sb->sb_start != sb->sb_buf)
      memmove(sb->sb_buf, sb->sb_start, (size_t)sb->sb_size);
    sb->sb_start = sb->sb_buf;
    if(RTMPSockBuf_Fill(sb) <= 0)
      return RB_ERR_CLOSED;
  }
  if(h.csid > MAX_CHUNK_STREAM)
    return rb_fail(msg, msglen, RB_ERR_PROTOCOL, "protocol error: chunk stream id %u out of range",
                   h.csid);
  if(h.fmt <= 1) {
    RTMP *r = c->r;

    if(h.length > MAX_MESSAGE)
      return rb_fail(msg, msglen, RB_ERR_PROTOCOL, "protocol error: message of %u bytes is too large",
                     h.length);
    if((int)h.csid < r->m_channelsAllocatedIn && r->m_vecChannelsIn[h.csid] &&
       r->m_vecChannelsIn[h.csid]->m_body)
      return rb_fail(msg, msglen, RB_ERR_PROTOCOL,
                     "protocol error: new message on chunk stream %u before the last one was complete",
                     h.csid);
  }
  return RB_OK;
}

/* Protocol control and user control messages; returns true if pkt was one. */
static bool handle_control(struct rb_client *c, const RTMPPacket *pkt, rb_err *err, char *msg,
                           size_t msglen)
{
  const uint8_t *b = (const uint8_t *)pkt->m_body;
  uint32_t n = pkt->m_nBodySize;
  RTMP *r = c->r;

  switch(pkt->m_packetType) {
  case RTMP_PACKET_TYPE_CHUNK_SIZE:
    if(n < 4 || (be32(b) & 0x7fffffff) == 0 || (be32(b) & 0x7fffffff) > 0xffffff)
      *err = rb_fail(msg, msglen, RB_ERR_PROTOCOL, "protocol error: bad chunk size from the server");
    else
      r->m_inChunkSize = (int)(be32(b) & 0x7fffffff);
    return true;
  case 2: /* abort message */
  case RTMP_PACKET_TYPE_BYTES_READ_REPORT:
    return true;
  case RTMP_PACKET_TYPE_CONTROL:
    /* Ping request -> ping response, bounded by SO_SNDTIMEO and the watchdog. */
    if(n >= 6 && b[0] == 0 && b[1] == 6 && !RTMP_SendCtrl(r, 7, be32(b + 2), 0))
      *err = rb_fail(msg, msglen, RB_ERR_CLOSED, "could not answer the server's ping");
    return true;
  case RTMP_PACKET_TYPE_SERVER_BW:
    if(n >= 4 && be32(b) > 0 && be32(b) <= INT32_MAX)
      r->m_nServerBW = (int)be32(b);
    return true;
  case RTMP_PACKET_TYPE_CLIENT_BW:
    /* librtmp acknowledges every m_nClientBW / 10 bytes read. */
    if(n >= 4 && be32(b) >= 4096 && be32(b) <= INT32_MAX) {
      r->m_nClientBW = (int)be32(b);
      r->m_nClientBW2 = n > 4 ? b[4] : 2;
    }
    return true;
  default:
    return false;
  }
}

/* RTMP_ReadPacket failed. A body it allocated for a new message is left in pkt
   and nowhere else (librtmp stores it in its channel only after a chunk was read
   whole), so it is ours to free: before this, every read that a deadline or a
   peer cut short in the middle of a message leaked the message's buffer (up to
   8 MB). A body that is the channel's partial message stays: RTMP_Close frees it. */
static void drop_failed_packet(RTMP *r, RTMPPacket *pkt)
{
  int ch = pkt->m_nChannel;

  if(pkt->m_body && ch >= 0 && ch < r->m_channelsAllocatedIn && r->m_vecChannelsIn[ch] &&
     r->m_vecChannelsIn[ch]->m_body == pkt->m_body)
    pkt->m_body = NULL;
  RTMPPacket_Free(pkt);
}

/* The next complete message that is not a control message, bounded by deadline. */
static rb_err read_message(struct rb_client *c, const char *step, int64_t deadline,
                           RTMPPacket *pkt, char *msg, size_t msglen)
{
  rb_err err = RB_OK;
  bool failed = false, fired;

  memset(pkt, 0, sizeof(*pkt));
  for(;;) {
    if(!RTMP_IsConnected(c->r))
      return rb_fail(msg, msglen, RB_ERR_CLOSED, "connection closed during %s", step);
    err = wait_readable(c, step, deadline, msg, msglen);
    if(err)
      return err;
    watchdog_arm(c, deadline);
    err = check_next_chunk(c, msg, msglen);
    if(err == RB_ERR_CLOSED)
      failed = true;
    else if(!err && !RTMP_ReadPacket(c->r, pkt)) {
      failed = true;
      drop_failed_packet(c->r, pkt);
    }
    fired = watchdog_disarm(c);
    if(failed)
      return step_failure(c, step, fired, msg, msglen);
    if(err)
      return err;
    if(!RTMPPacket_IsReady(pkt)) {
      memset(pkt, 0, sizeof(*pkt)); /* the partial message lives in librtmp's channel */
      continue;
    }
    if(pkt->m_nBodySize == 0 || handle_control(c, pkt, &err, msg, msglen)) {
      RTMPPacket_Free(pkt);
      memset(pkt, 0, sizeof(*pkt));
      if(err)
        return err;
      continue;
    }
    return RB_OK;
  }
}

static bool is_command(const RTMPPacket *pkt)
{
  return pkt->m_packetType == RTMP_PACKET_TYPE_INVOKE ||
         pkt->m_packetType == RTMP_PACKET_TYPE_FLEX_MESSAGE;
}

/* The next command message; media and data on the way are dropped. The caller
   frees pkt. */
static rb_err next_command(struct rb_client *c, const char *step, int64_t deadline,
                           RTMPPacket *pkt, struct rb_client_command *cmd, char *msg,
                           size_t msglen)
{
  rb_err err;

  for(;;) {
    err = read_message(c, step, deadline, pkt, msg, msglen);
    if(err)
      return err;
    if(is_command(pkt))
      break;
    RTMPPacket_Free(pkt);
  }
  err = decode_command(pkt, cmd, msg, msglen);
  if(err)
    RTMPPacket_Free(pkt);
  return err;
}

static bool code_in(const char *code, const char *const *codes)
{
  for(; codes && *codes; codes++)
    if(!strcmp(code, *codes))
      return true;
  return false;
}

/* Decide what one command means for the awaited step: 1 done, 0 keep reading. */
static int judge_command(struct rb_client *c, const struct awaited *w,
                         const struct rb_client_command *cmd, double *number, rb_err *err,
                         char *msg, size_t msglen)
{
  bool is_error;

  if(!strcmp(cmd->name, "close")) {
    *err = rb_fail(msg, msglen, RB_ERR_CLOSED, "the server closed the connection during %s",
                   w->step);
    return 1;
  }
  if((!strcmp(cmd->name, "_result") || !strcmp(cmd->name, "_error")) && cmd->txn == w->txn) {
    is_error = keep_status(c, cmd);
    if(!strcmp(cmd->name, "_error") || is_error) {
      *err = rejected(c, strcmp(w->step, "connect") ? "_error" : "NetConnection.Connect.Rejected",
                      msg, msglen);
      return 1;
    }
    if(!w->want_result)
      return 0;
    *number = cmd->number;
    return 1;
  }
  if(!strcmp(cmd->name, "onStatus")) {
    is_error = keep_status(c, cmd);
    if(is_error) {
      *err = rejected(c, "onStatus error", msg, msglen);
      return 1;
    }
    return code_in(c->status.code, w->ok_codes);
  }
  return 0;
}

static rb_err await_reply(struct rb_client *c, const struct awaited *w, double *number, char *msg,
                          size_t msglen)
{
  int64_t deadline = rb_clock_deadline(c->step_ns);
  RTMPPacket pkt;
  struct rb_client_command cmd;
  rb_err err = RB_OK;
  int done = 0;

  while(!done && !err) {
    err = next_command(c, w->step, deadline, &pkt, &cmd, msg, msglen);
    if(err)
      break;
    done = judge_command(c, w, &cmd, number, &err, msg, msglen);
    RTMPPacket_Free(&pkt);
  }
  return err;
}

/* ---- sending ------------------------------------------------------------ */

static rb_err send_packet(struct rb_client *c, RTMPPacket *p, const char *step, char *msg,
                          size_t msglen)
{
  bool ok, fired;

  if(!RTMP_IsConnected(c->r))
    return rb_fail(msg, msglen, RB_ERR_CLOSED, "connection closed before %s", step);
  watchdog_arm(c, rb_clock_deadline(c->step_ns));
  ok = RTMP_SendPacket(c->r, p, FALSE);
  fired = watchdog_disarm(c);
  return ok ? RB_OK : step_failure(c, step, fired, msg, msglen);
}

struct amf_arg {
  char kind; /* '0' null, 's' string, 'n' number */
  const char *s;
  double n;
};

static rb_err send_command(struct rb_client *c, int csid, const char *name, double txn,
                           const struct amf_arg *args, size_t nargs, char *msg, size_t msglen)
{
  char buf[RTMP_MAX_HEADER_SIZE + 4096], *end = buf + sizeof(buf);
  char *enc = buf + RTMP_MAX_HEADER_SIZE;
  AVal av = { (char *)name, (int)strlen(name) };
  RTMPPacket p = { 0 };

  enc = AMF_EncodeString(enc, end, &av);
  enc = enc ? AMF_EncodeNumber(enc, end, txn) : NULL;
  for(size_t i = 0; i < nargs && enc; i++) {
    if(args[i].kind == 's') {
      av = (AVal){ (char *)args[i].s, (int)strlen(args[i].s) };
      enc = AMF_EncodeString(enc, end, &av);
    } else if(args[i].kind == 'n') {
      enc = AMF_EncodeNumber(enc, end, args[i].n);
    } else if(enc < end) {
      *enc++ = AMF_NULL;
    } else {
      enc = NULL;
    }
  }
  if(!enc)
    return rb_fail(msg, msglen, RB_ERR_USAGE, "%s: arguments too long", name);
  p.m_headerType = RTMP_PACKET_SIZE_LARGE;
  p.m_packetType = RTMP_PACKET_TYPE_INVOKE;
  p.m_nChannel = csid;
  p.m_nInfoField2 = csid == CSID_STREAM_COMMAND ? c->stream_id : 0;
  p.m_body = buf + RTMP_MAX_HEADER_SIZE;
  p.m_nBodySize = (uint32_t)(enc - p.m_body);
  return send_packet(c, &p, name, msg, msglen);
}

static rb_err send_chunk_size(struct rb_client *c, char *msg, size_t msglen)
{
  char buf[RTMP_MAX_HEADER_SIZE + 4];
  RTMPPacket p = { 0 };
  rb_err err;

  p.m_headerType = RTMP_PACKET_SIZE_LARGE;
  p.m_packetType = RTMP_PACKET_TYPE_CHUNK_SIZE;
  p.m_nChannel = CSID_CONTROL;
  p.m_body = buf + RTMP_MAX_HEADER_SIZE;
  p.m_nBodySize = 4;
  AMF_EncodeInt32(p.m_body, p.m_body + 4, OUT_CHUNK_SIZE);
  err = send_packet(c, &p, "set chunk size", msg, msglen);
  if(!err)
    c->r->m_outChunkSize = c->last_out_chunk = OUT_CHUNK_SIZE;
  return err;
}

/* ---- TCP ---------------------------------------------------------------- */

static rb_err socket_options(struct rb_client *c, int fd, char *msg, size_t msglen)
{
  /* A little longer than the watchdog, so that a step's deadline is reported
     as the watchdog's (librtmp cannot tell a send timeout from a failure). */
  int64_t ns = c->step_ns + RB_NS_PER_S;
  struct timeval tv = { (time_t)(ns / RB_NS_PER_S), (suseconds_t)(ns % RB_NS_PER_S / 1000) };
  int on = 1;

  if(!rb_net_set_blocking(fd, true) ||
     setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
     setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0)
    return rb_fail(msg, msglen, RB_ERR_SYSTEM, "socket options: %s", strerror(errno));
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
  return RB_OK;
}

/* Resolution has no deadline of its own: numeric addresses and /etc/hosts
   names (all rebound uses) resolve without the network. */
static rb_err tcp_connect(struct rb_client *c, int64_t deadline, char *msg, size_t msglen)
{
  RTMP *r = c->r;
  char host[256];
  rb_err err;
  int fd;

  if(r->Link.socksport)
    return rb_fail(msg, msglen, RB_ERR_USAGE, "SOCKS proxies are not supported");
  if(r->Link.hostname.av_len <= 0 || (size_t)r->Link.hostname.av_len >= sizeof(host))
    return rb_fail(msg, msglen, RB_ERR_USAGE, "%s: no host in the URL", c->url);
  memcpy(host, r->Link.hostname.av_val, (size_t)r->Link.hostname.av_len);
  host[r->Link.hostname.av_len] = '\0';
  err = rb_net_connect(host, r->Link.port, deadline, &c->aborted, &fd, msg, msglen);
  if(err)
    return err;
  set_fd(c, fd); /* from here on rb_client_abort can reach it */
  return socket_options(c, fd, msg, msglen);
}

/* ---- lifecycle ---------------------------------------------------------- */

/* librtmp takes an unknown scheme for rtmp:// with a warning; we refuse it. */
static bool known_scheme(const char *url)
{
  static const char *const schemes[] = { "rtmp://", "rtmpt://", "rtmps://", "rtmpe://",
                                         "rtmpte://", "rtmpts://" };

  for(size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++)
    if(!strncasecmp(url, schemes[i], strlen(schemes[i])))
      return true;
  return false;
}

static rb_err setup_librtmp(struct rb_client *c, char *msg, size_t msglen)
{
  RTMP_Init(c->r);
  free(c->url_copy);
  c->url_copy = strdup(c->url);
  if(!c->url_copy)
    return rb_fail(msg, msglen, RB_ERR_NOMEM, "out of memory");
  if(!known_scheme(c->url) || !RTMP_SetupURL(c->r, c->url_copy) ||
     c->r->Link.hostname.av_len <= 0)
    return rb_fail(msg, msglen, RB_ERR_USAGE, "%s: not a valid RTMP URL", c->url);
  c->state = STATE_NEW;
  c->stream_id = -1;
  memset(&c->timings, 0, sizeof(c->timings));
  return RB_OK;
}

rb_err rb_client_create(struct rb_client **out, const struct rb_client_opts *opts, char *msg,
                        size_t msglen)
{
  struct rb_client *c = NULL;
  rb_err err = RB_OK;

  *out = NULL;
  pthread_once(&lib_once, lib_init);
  if(!lib_ok)
    return rb_fail(msg, msglen, RB_ERR_SYSTEM, "cannot start the client watchdog thread");
  if(!opts || !opts->url || !*opts->url)
    return rb_fail(msg, msglen, RB_ERR_USAGE, "no URL");
  c = calloc(1, sizeof(*c));
  if(!c)
    return rb_fail(msg, msglen, RB_ERR_NOMEM, "out of memory");
  c->fd = -1;
  c->stream_id = -1;
  c->step_ns = opts->step_timeout_ns > 0 ? opts->step_timeout_ns : 5 * RB_NS_PER_S;
  c->keep_chunk_size = opts->keep_chunk_size;
  atomic_init(&c->aborted, false);
  c->url = strdup(opts->url);
  c->r = RTMP_Alloc();
  if(!c->url || !c->r) {
    err = rb_fail(msg, msglen, RB_ERR_NOMEM, "out of memory");
    goto out;
  }
  err = setup_librtmp(c, msg, msglen);
out:
  if(err) {
    if(c->r)
      RTMP_Close(c->r); /* frees what RTMP_SetupURL allocated */
    c->state = STATE_CLOSED;
    rb_client_destroy(c);
    c = NULL;
  }
  *out = c;
  return err;
}

static rb_err handshake_and_connect(struct rb_client *c, char *msg, size_t msglen)
{
  struct awaited w = { "connect", 0, true, NULL };
  int64_t t0 = rb_clock_now(), t1;
  double ignored;
  bool ok, fired;
  rb_err err;

  c->r->m_sb.sb_socket = fcntl(c->fd, F_DUPFD_CLOEXEC, 0);
  if(c->r->m_sb.sb_socket < 0)
    return rb_fail(msg, msglen, RB_ERR_SYSTEM, "dup: %s", strerror(errno));
  c->r->m_bSendCounter = TRUE; /* acknowledge bytes received, as RTMP_Connect would */
  /* RTMP_Init (setup_librtmp) reset both chunk sizes to 128; the deliberate bug puts
     the old outgoing one back, so even the connect command goes out in its chunks. */
  c->stale_chunk = c->keep_chunk_size && c->last_out_chunk > RTMP_DEFAULT_CHUNKSIZE;
  if(c->stale_chunk)
    c->r->m_outChunkSize = c->last_out_chunk;
  watchdog_arm(c, rb_clock_deadline(c->step_ns));
  s0_mismatch = -1;
  ok = RTMP_Connect1(c->r, NULL); /* handshake, then sends connect */
  fired = watchdog_disarm(c);
  t1 = rb_clock_now();
  if(!ok)
    return step_failure(c, "handshake", fired, msg, msglen);
  if(s0_mismatch >= 0) /* librtmp would go on regardless */
    return rb_fail(msg, msglen, RB_ERR_PROTOCOL,
                   "protocol error: the server answered the handshake with RTMP version %d",
                   s0_mismatch);
  c->timings.handshake_ms = rb_clock_ms(t0, t1);
  w.txn = c->r->m_numInvokes; /* connect's transaction id */
  err = await_reply(c, &w, &ignored, msg, msglen);
  if(err)
    return err;
  c->timings.connect_ms = rb_clock_ms(t1, rb_clock_now());
  return c->stale_chunk ? RB_OK : send_chunk_size(c, msg, msglen);
}

/* With the deliberate bug on, a failed step says what the server saw. */
static rb_err explain_stale_chunk(struct rb_client *c, rb_err err, char *msg, size_t msglen)
{
  char why[256];

  if(!err || !c->stale_chunk || err == RB_ERR_INTERRUPTED || err == RB_ERR_USAGE || err == RB_ERR_NOMEM)
    return err;
  snprintf(why, sizeof(why), "%s", msg ? msg : "");
  return rb_fail(msg, msglen, RB_ERR_PROTOCOL, "protocol failure: this client kept chunk size %d from its "
                 "previous connection and never announced it (Set Chunk Size), so the server read its "
                 "messages as 128-byte chunks and saw garbage (%s)", c->last_out_chunk, why);
}

rb_err rb_client_connect(struct rb_client *c, char *msg, size_t msglen)
{
  int64_t t0 = rb_clock_now();
  rb_err err;

  if(c->state == STATE_CLOSED) {
    err = setup_librtmp(c, msg, msglen);
    if(err)
      return err;
  } else if(c->state != STATE_NEW) {
    return rb_fail(msg, msglen, RB_ERR_USAGE, "already connected");
  }
  c->status.code[0] = c->status.description[0] = '\0';
  err = tcp_connect(c, rb_clock_deadline(c->step_ns), msg, msglen);
  if(!err) {
    c->timings.tcp_ms = rb_clock_ms(t0, rb_clock_now());
    err = handshake_and_connect(c, msg, msglen);
  }
  if(err)
    rb_client_close(c, false);
  else
    c->state = STATE_CONNECTED;
  return explain_stale_chunk(c, err, msg, msglen);
}

rb_err rb_client_create_stream(struct rb_client *c, char *msg, size_t msglen)
{
  static const struct amf_arg args[] = { { '0', NULL, 0 } };
  struct awaited w = { "createStream", 0, true, NULL };
  int64_t t0 = rb_clock_now();
  double id = 0;
  rb_err err;

  if(c->state != STATE_CONNECTED)
    return rb_fail(msg, msglen, RB_ERR_USAGE, "createStream needs a connected client");
  w.txn = ++c->r->m_numInvokes;
  err = send_command(c, CSID_COMMAND, "createStream", w.txn, args, 1, msg, msglen);
  if(!err)
    err = await_reply(c, &w, &id, msg, msglen);
  if(!err && !(id >= 1 && id <= INT32_MAX))
    err = rb_fail(msg, msglen, RB_ERR_PROTOCOL, "protocol error: createStream returned stream id %g",
                  id);
  if(err) {
    rb_client_close(c, false);
    return err;
  }
  c->stream_id = (int)id;
  c->r->m_stream_id = (int)id; /* so a polite RTMP_Close sends deleteStream */
  c->timings.create_stream_ms = rb_clock_ms(t0, rb_clock_now());
  c->state = STATE_STREAM;
  return RB_OK;
}

static rb_err start_stream(struct rb_client *c, const char *stream, bool publish, char *msg,
                           size_t msglen)
{
  static const char *const publish_ok[] = { "NetStream.Publish.Start", NULL };
  static const char *const play_ok[] = { "NetStream.Play.Start", "NetStream.Play.Reset", NULL };
  struct amf_arg args[3] = { { '0', NULL, 0 }, { 's', stream, 0 }, { 's', "live", 0 } };
  struct awaited w = { publish ? "publish" : "play", 0, false, publish ? publish_ok : play_ok };
  int64_t t0;
  double ignored;
  rb_err err = RB_OK;

  if(!stream || !*stream || strlen(stream) > MAX_STREAM_NAME)
    return rb_fail(msg, msglen, RB_ERR_USAGE, "bad stream name");
  if(publish)
    RTMP_EnableWrite(c->r); /* a polite close then sends FCUnpublish too */
  if(c->state == STATE_CONNECTED && publish) {
    /* What librtmp and OBS send first; servers that want them get them, the
       others ignore them (their replies do not match a transaction we wait for). */
    err = send_command(c, CSID_COMMAND, "releaseStream", ++c->r->m_numInvokes, args, 2, msg,
                       msglen);
    if(!err)
      err = send_command(c, CSID_COMMAND, "FCPublish", ++c->r->m_numInvokes, args, 2, msg,
                         msglen);
    if(err)
      goto out;
  }
  if(c->state == STATE_CONNECTED) {
    err = rb_client_create_stream(c, msg, msglen);
    if(err)
      return err;
  }
  if(c->state != STATE_STREAM)
    return rb_fail(msg, msglen, RB_ERR_USAGE, "%s needs a connected client", w.step);
  if(!publish)
    args[2] = (struct amf_arg){ 'n', NULL, -2000 }; /* live, else recorded (as ffmpeg) */
  t0 = rb_clock_now();
  w.txn = ++c->r->m_numInvokes;
  c->status.code[0] = c->status.description[0] = '\0';
  err = send_command(c, CSID_STREAM_COMMAND, w.step, w.txn, args, 3, msg, msglen);
  if(!err && !publish && !RTMP_SendCtrl(c->r, 3, (unsigned)c->stream_id, 1000))
    err = step_failure(c, "play", false, msg, msglen);
  if(!err)
    err = await_reply(c, &w, &ignored, msg, msglen);
  if(!err) {
    c->timings.start_ms = rb_clock_ms(t0, rb_clock_now());
    c->state = publish ? STATE_PUBLISHING : STATE_PLAYING;
  }
out:
  if(err)
    rb_client_close(c, false);
  return err;
}

rb_err rb_client_publish(struct rb_client *c, const char *stream, char *msg, size_t msglen)
{
  return explain_stale_chunk(c, start_stream(c, stream, true, msg, msglen), msg, msglen);
}

rb_err rb_client_play(struct rb_client *c, const char *stream, char *msg, size_t msglen)
{
  return start_stream(c, stream, false, msg, msglen);
}

/* ---- media -------------------------------------------------------------- */

/* A status that ends the stream for a player or publisher: RB_ERR_CLOSED. */
static rb_err stream_command(struct rb_client *c, const RTMPPacket *pkt, char *msg, size_t msglen)
{
  static const char *const ending[] = { "NetStream.Play.Stop", "NetStream.Play.UnpublishNotify",
                                        "NetStream.Play.Complete", "NetStream.Unpublish.Success",
                                        NULL };
  struct rb_client_command cmd;
  rb_err err = decode_command(pkt, &cmd, msg, msglen);

  if(err)
    return err;
  if(!strcmp(cmd.name, "close")) {
    err = rb_fail(msg, msglen, RB_ERR_CLOSED, "the server closed the connection");
  } else if(!strcmp(cmd.name, "onStatus")) {
    bool is_error = keep_status(c, &cmd);

    if(is_error || code_in(c->status.code, ending))
      err = rb_fail(msg, msglen, RB_ERR_CLOSED, "stream ended: %s", c->status.code);
  }
  return err;
}

/* A publisher reads nothing in its loop, yet must answer pings and notice a
   server that went away or ended the stream: take what is already there. */
static rb_err service_incoming(struct rb_client *c, char *msg, size_t msglen)
{
  struct pollfd pfd = { c->fd, POLLIN, 0 };
  RTMPPacket pkt;
  rb_err err = RB_OK;

  if(c->r->Link.protocol & RTMP_FEATURE_HTTP)
    return RB_OK;
  for(int i = 0; i < 64 && !err; i++) {
    if(c->r->m_sb.sb_size == 0 && poll(&pfd, 1, 0) <= 0)
      break;
    err = read_message(c, "publish", rb_clock_deadline(c->step_ns), &pkt, msg, msglen);
    if(err)
      break;
    if(is_command(&pkt))
      err = stream_command(c, &pkt, msg, msglen);
    RTMPPacket_Free(&pkt);
  }
  return err;
}

static int media_chunk_stream(uint8_t type)
{
  return type == RB_MEDIA_AUDIO ? CSID_AUDIO : type == RB_MEDIA_VIDEO ? CSID_VIDEO : CSID_DATA;
}

rb_err rb_client_write(struct rb_client *c, const struct rb_media_frame *frame, char *msg,
                       size_t msglen)
{
  RTMPPacket p = { 0 };
  rb_err err;

  if(c->state != STATE_PUBLISHING)
    return rb_fail(msg, msglen, c->state == STATE_CLOSED ? RB_ERR_CLOSED : RB_ERR_USAGE,
                   "not publishing");
  if(frame->len > MAX_MESSAGE)
    return rb_fail(msg, msglen, RB_ERR_USAGE, "frame of %zu bytes is too large", frame->len);
  err = service_incoming(c, msg, msglen);
  if(err)
    goto out;
  if(c->wcap < RTMP_MAX_HEADER_SIZE + frame->len) {
    uint8_t *nb = realloc(c->wbuf, RTMP_MAX_HEADER_SIZE + frame->len);

    if(!nb)
      return rb_fail(msg, msglen, RB_ERR_NOMEM, "out of memory");
    c->wbuf = nb;
    c->wcap = RTMP_MAX_HEADER_SIZE + frame->len;
  }
  /* A copy: RTMP_SendPacket writes chunk headers into the body it sends. */
  if(frame->len)
    memcpy(c->wbuf + RTMP_MAX_HEADER_SIZE, frame->data, frame->len);
  p.m_headerType = RTMP_PACKET_SIZE_LARGE;
  p.m_packetType = frame->type;
  p.m_nChannel = media_chunk_stream(frame->type);
  p.m_nTimeStamp = frame->timestamp_ms;
  p.m_hasAbsTimestamp = TRUE;
  p.m_nInfoField2 = c->stream_id;
  p.m_body = (char *)c->wbuf + RTMP_MAX_HEADER_SIZE;
  p.m_nBodySize = (uint32_t)frame->len;
  err = send_packet(c, &p, "write", msg, msglen);
  if(err == RB_ERR_PROTOCOL)
    err = RB_ERR_CLOSED; /* a failed send is a dead connection, whatever errno said */
out:
  if(err)
    rb_client_close(c, false);
  return explain_stale_chunk(c, err, msg, msglen);
}

rb_err rb_client_read(struct rb_client *c, struct rb_media_frame *frame, int64_t deadline,
                      char *msg, size_t msglen)
{
  RTMPPacket *pkt = &c->packet;
  rb_err err = RB_OK;

  RTMPPacket_Free(pkt);
  if(c->state != STATE_PLAYING)
    return rb_fail(msg, msglen, c->state == STATE_CLOSED ? RB_ERR_CLOSED : RB_ERR_USAGE,
                   "not playing");
  for(;;) {
    err = read_message(c, "play", deadline, pkt, msg, msglen);
    if(err)
      break;
    switch(pkt->m_packetType) {
    case RB_MEDIA_AUDIO:
    case RB_MEDIA_VIDEO:
    case RB_MEDIA_DATA:
      frame->type = pkt->m_packetType;
      frame->timestamp_ms = pkt->m_nTimeStamp;
      frame->data = (const uint8_t *)pkt->m_body;
      frame->len = pkt->m_nBodySize;
      return RB_OK;
    case RTMP_PACKET_TYPE_INVOKE:
    case RTMP_PACKET_TYPE_FLEX_MESSAGE:
      err = stream_command(c, pkt, msg, msglen);
      break;
    default:
      break; /* shared objects, AMF3 data, aggregates: not part of rebound's stream */
    }
    RTMPPacket_Free(pkt);
    if(err)
      break;
  }
  /* A quiet stream at the caller's deadline is not a broken connection. */
  if(err != RB_ERR_TIMEOUT || !RTMP_IsConnected(c->r) || peer_gone(c))
    rb_client_close(c, false);
  return err;
}

rb_err rb_client_wait_closed(struct rb_client *c, int64_t deadline)
{
  struct pollfd pfd;
  char scratch[4096];

  if(c->fd < 0)
    return RB_ERR_CLOSED;
  pfd.fd = c->fd;
  pfd.events = POLLIN | POLLRDHUP;
  for(;;) {
    int ms = rb_clock_ms_left(deadline), rc;

    if(ms == 0)
      return RB_ERR_TIMEOUT;
    rc = poll(&pfd, 1, ms < SLICE_MS ? ms : SLICE_MS);
    if(rc < 0 && errno != EINTR)
      return RB_ERR_CLOSED;
    if(rc <= 0)
      continue;
    if(pfd.revents & (POLLHUP | POLLERR | POLLRDHUP))
      return RB_ERR_CLOSED;
    /* Whatever the server still sends is read and dropped, so that our close
       later does not find unread data (which would make the kernel reset). */
    ssize_t n = recv(c->fd, scratch, sizeof(scratch), MSG_DONTWAIT);
    if(n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
      return RB_ERR_CLOSED;
  }
}

void rb_client_abort(struct rb_client *c)
{
  pthread_mutex_lock(&wd_lock);
  atomic_store(&c->aborted, true);
  if(c->fd >= 0)
    shutdown(c->fd, SHUT_RDWR);
  pthread_mutex_unlock(&wd_lock);
}

void rb_client_cut(struct rb_client *c)
{
  pthread_mutex_lock(&wd_lock);
  if(c->fd >= 0)
    shutdown(c->fd, SHUT_RDWR);
  pthread_mutex_unlock(&wd_lock);
}

/* Point librtmp's descriptor at /dev/null: what RTMP_Close still wants to say
   (deleteStream, a TLS close_notify, an RTMPT close) goes nowhere, and closing
   that descriptor does not touch our socket. */
static void silence_librtmp(RTMP *r)
{
  int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);

  r->m_stream_id = 0;
  if(null_fd >= 0 && dup2(null_fd, r->m_sb.sb_socket) >= 0) {
    close(null_fd);
    return;
  }
  if(null_fd >= 0)
    close(null_fd);
  /* No /dev/null: give up librtmp's TLS cleanup rather than let it send. */
  close(r->m_sb.sb_socket);
  r->m_sb.sb_socket = -1;
}

static void drain(int fd)
{
  char buf[4096];

  for(int i = 0; i < 256; i++)
    if(recv(fd, buf, sizeof(buf), MSG_DONTWAIT) <= 0)
      break;
}

void rb_client_close(struct rb_client *c, bool polite)
{
  if(!c || c->state == STATE_CLOSED)
    return;
  watchdog_disarm(c);
  RTMPPacket_Free(&c->packet);
  if(polite && RTMP_IsConnected(c->r)) {
    /* FCUnpublish/deleteStream, bounded like any step. */
    watchdog_arm(c, rb_clock_deadline(c->step_ns));
    RTMP_Close(c->r);
    watchdog_disarm(c);
  } else {
    if(c->fd >= 0)
      drain(c->fd);
    if(RTMP_IsConnected(c->r))
      silence_librtmp(c->r);
    RTMP_Close(c->r); /* frees librtmp's per-connection state */
  }
  close_fd(c);
  c->state = STATE_CLOSED;
  c->stream_id = -1;
}

void rb_client_destroy(struct rb_client *c)
{
  if(!c)
    return;
  rb_client_close(c, true);
  watchdog_disarm(c);
  RTMP_Free(c->r);
  free(c->wbuf);
  free(c->url_copy);
  free(c->url);
  free(c);
}

const struct rb_client_status *rb_client_last_status(const struct rb_client *c)
{
  return &c->status;
}

const struct rb_client_timings *rb_client_last_timings(const struct rb_client *c)
{
  return &c->timings;
}

int rb_client_fd(const struct rb_client *c)
{
  int fd;

  pthread_mutex_lock(&wd_lock);
  fd = c->fd;
  pthread_mutex_unlock(&wd_lock);
  return fd;
}

uint16_t rb_client_local_port(const struct rb_client *c)
{
  struct sockaddr_storage a;
  socklen_t len = sizeof(a);
  uint16_t port = 0;

  pthread_mutex_lock(&wd_lock);
  if(c->fd >= 0 && getsockname(c->fd, (struct sockaddr *)&a, &len) == 0)
    port = ntohs(a.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&a)->sin6_port
                                          : ((struct sockaddr_in *)&a)->sin_port);
  pthread_mutex_unlock(&wd_lock);
  return port;
}
