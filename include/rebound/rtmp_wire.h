/*
 * rtmp_wire: the RTMP wire format over byte buffers, bounded, shared by every
 * piece of rebound that reads or writes RTMP bytes itself (the client's checks
 * in front of librtmp, the reference server, the fake servers of the tests).
 *
 * Owns: chunk basic and message header parsing with an explicit "need more
 * bytes" result (nothing is read past len, nothing is assumed about bytes not
 * yet there), the chunked writer of one message, the AMF0 value walker with
 * depth and length bounds, a small AMF0 reader and writer, and the encoders of
 * the command replies the servers write. Nothing here touches a socket or
 * allocates, so unit tests and fuzzers can feed it any bytes.
 *
 * Message assembly over several chunks, with its memory budget, stays with its
 * owner (refserver_proto.c); librtmp assembles for the client.
 */
#ifndef REBOUND_RTMP_WIRE_H
#define REBOUND_RTMP_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RB_RTMP_AMF_MAX_DEPTH 16     /* AMF objects and arrays open at once */
#define RB_RTMP_MAX_CHUNK_HEADER 18  /* 3 basic + 11 message + 4 extended timestamp */
#define RB_RTMP_MAX_CSID 65599       /* largest id of the 3-byte basic header form */

/* What a parser made of the bytes it was given. */
typedef enum rb_rtmp_parse {
  RB_RTMP_PARSED = 0,    /* complete: the result is filled in */
  RB_RTMP_NEED_MORE = 1, /* the bytes end too early; *need says how many are needed */
} rb_rtmp_parse;

/* One chunk header, as read. Fields a format does not carry are zero. */
struct rb_rtmp_chunk_header {
  unsigned fmt;          /* 0 full, 1 no stream id, 2 timestamp only, 3 none */
  uint32_t csid;         /* chunk stream id, 2..65599 */
  size_t basic_len;      /* 1, 2 or 3 */
  size_t len;            /* the whole header, extended timestamp included */
  uint32_t timestamp;    /* fmt 0: absolute; fmt 1/2: delta; fmt 3: extended field or 0 */
  bool extended;         /* an extended timestamp field is present */
  uint32_t length;       /* fmt 0/1: message length */
  uint8_t type;          /* fmt 0/1: message type id */
  uint32_t stream_id;    /* fmt 0: message stream id (little endian on the wire) */
};

/* The basic header only (fmt and csid; basic_len). */
rb_rtmp_parse rb_rtmp_basic_header(const uint8_t *buf, size_t len, struct rb_rtmp_chunk_header *h,
                                   size_t *need);

/* The whole chunk header at buf. fmt3_extended says whether the chunk stream's
   last fmt 0/1/2 header had an extended timestamp (a fmt 3 header then repeats
   it); a reader without that state passes false. */
rb_rtmp_parse rb_rtmp_chunk_header(const uint8_t *buf, size_t len, bool fmt3_extended,
                                   struct rb_rtmp_chunk_header *h, size_t *need);

/* One message to write. */
struct rb_rtmp_message {
  uint32_t csid;       /* 2..65599; anything else is written on 3 */
  uint32_t timestamp;  /* >= 0xffffff goes into the extended field of every chunk */
  uint32_t length;
  uint32_t stream_id;
  uint8_t type;
  const uint8_t *data; /* may be NULL when length is 0 */
};

/* Most bytes rb_rtmp_chunk_write can need for a message of length bytes. */
size_t rb_rtmp_chunk_bound(uint32_t length, uint32_t chunk_size);

/* m as chunks of chunk_size (a fmt 0 header, then fmt 3) into out. Returns the
   bytes written, or 0 (nothing written) if chunk_size is 0, the length does not
   fit 24 bits or cap is below rb_rtmp_chunk_bound. */
size_t rb_rtmp_chunk_write(uint8_t *out, size_t cap, uint32_t chunk_size,
                           const struct rb_rtmp_message *m);

/* AMF0 writer into a fixed buffer; overflow is sticky and checked once at the end. */
struct rb_rtmp_amf_writer {
  uint8_t *p;
  size_t cap;
  size_t len;
  bool overflow;
};

void rb_rtmp_amf_put_number(struct rb_rtmp_amf_writer *w, double v);
void rb_rtmp_amf_put_bool(struct rb_rtmp_amf_writer *w, bool v);
void rb_rtmp_amf_put_string(struct rb_rtmp_amf_writer *w, const char *s);
void rb_rtmp_amf_put_null(struct rb_rtmp_amf_writer *w);
void rb_rtmp_amf_put_object_start(struct rb_rtmp_amf_writer *w);
void rb_rtmp_amf_put_key(struct rb_rtmp_amf_writer *w, const char *key);
void rb_rtmp_amf_put_object_end(struct rb_rtmp_amf_writer *w);

/* The info object of a status: {level, code, description}. */
void rb_rtmp_amf_put_info(struct rb_rtmp_amf_writer *w, const char *level, const char *code,
                          const char *description);
/* The commands servers answer with: name, txn, null, {level, code, description}
   (onStatus, or a _result/_error with an info object) ... */
void rb_rtmp_amf_put_status(struct rb_rtmp_amf_writer *w, const char *name, double txn,
                            const char *level, const char *code, const char *description);
/* ... and _result, txn, null[, number] (createStream, releaseStream, ...). */
void rb_rtmp_amf_put_result(struct rb_rtmp_amf_writer *w, double txn, bool with_number,
                            double number);

/* AMF0 reader over a byte range; every read checks bounds and returns false
   (position unchanged) on truncated or unsupported input. */
struct rb_rtmp_amf_reader {
  const uint8_t *p;
  size_t len;
  size_t pos;
};

/* What the walker accepts. */
struct rb_rtmp_amf_rules {
  unsigned max_depth; /* objects and arrays open at once; at most RB_RTMP_AMF_MAX_DEPTH */
  bool references;    /* also references (0x07) and typed objects (0x10) */
};

bool rb_rtmp_amf_get_string(struct rb_rtmp_amf_reader *r, const char **s, size_t *n);
bool rb_rtmp_amf_get_number(struct rb_rtmp_amf_reader *r, double *v);
/* Skip one value, without recursion, under rules (NULL: RB_RTMP_AMF_MAX_DEPTH,
   references allowed). */
bool rb_rtmp_amf_walk(struct rb_rtmp_amf_reader *r, const struct rb_rtmp_amf_rules *rules);
/* rb_rtmp_amf_walk with the default rules. */
bool rb_rtmp_amf_skip(struct rb_rtmp_amf_reader *r);
/* Whether p[0..len) is a sequence of whole values under rules, and nothing else. */
bool rb_rtmp_amf_well_formed(const uint8_t *p, size_t len, const struct rb_rtmp_amf_rules *rules);
/* Read one object (or ECMA array) and copy the string property key into out
   (NUL-terminated, truncated to outlen); *found says whether it was there. */
bool rb_rtmp_amf_find_string(struct rb_rtmp_amf_reader *r, const char *key, char *out,
                             size_t outlen, bool *found);

#endif
