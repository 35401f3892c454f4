/* mpegts: one segment through libavformat + libavcodec (see include/rebound/mpegts.h). */
#include "rebound/mpegts.h"

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/log.h>
#include <string.h>

#include "rebound/media.h"

#define IO_BUFFER 4096

struct memory_input {
  const uint8_t *data;
  size_t len, pos;
};

static int read_memory(void *opaque, uint8_t *buf, int size)
{
  struct memory_input *in = opaque;
  size_t n = in->len - in->pos;

  if(n == 0)
    return AVERROR_EOF;
  if(n > (size_t)size)
    n = (size_t)size;
  memcpy(buf, in->data + in->pos, n);
  in->pos += n;
  return (int)n;
}

/* Pictures out of the decoder; errors other than "needs more input" are counted. */
static void drain(AVCodecContext *dec, AVFrame *frame, struct rb_mpegts_result *res)
{
  int rc;

  while((rc = avcodec_receive_frame(dec, frame)) == 0) {
    res->pictures++;
    av_frame_unref(frame);
  }
  if(rc != AVERROR(EAGAIN) && rc != AVERROR_EOF)
    res->decode_errors++;
}

static rb_err open_decoder(const AVStream *st, AVCodecContext **out, char *msg, size_t msglen)
{
  const AVCodec *codec = avcodec_find_decoder(AV_CODEC_ID_H264);
  AVCodecContext *dec;

  if(!codec)
    return rb_fail(msg, msglen, RB_ERR_SYSTEM, "this FFmpeg has no H.264 decoder");
  if(!(dec = avcodec_alloc_context3(codec)))
    return rb_fail(msg, msglen, RB_ERR_NOMEM, "out of memory");
  avcodec_parameters_to_context(dec, st->codecpar);
  dec->thread_count = 1; /* one segment, one thread: the fleet already has many */
  if(avcodec_open2(dec, codec, NULL) < 0) {
    avcodec_free_context(&dec);
    return rb_fail(msg, msglen, RB_ERR_SYSTEM, "cannot open the H.264 decoder");
  }
  *out = dec;
  return RB_OK;
}

rb_err rb_mpegts_scan(const uint8_t *data, size_t len, rb_mpegts_sei_fn fn, void *arg,
                      struct rb_mpegts_result *res, char *msg, size_t msglen)
{
  struct memory_input in = { data, len, 0 };
  AVFormatContext *fmt = NULL;
  AVIOContext *io = NULL;
  AVCodecContext *dec = NULL;
  AVPacket *pkt = av_packet_alloc();
  AVFrame *frame = av_frame_alloc();
  uint8_t *iobuf = av_malloc(IO_BUFFER);
  int video = -1;
  rb_err err = RB_OK;

  memset(res, 0, sizeof(*res));
  av_log_set_level(AV_LOG_QUIET); /* a bad segment is reported by us, in one line */
  if(!pkt || !frame || !iobuf || !(fmt = avformat_alloc_context()) ||
     !(io = avio_alloc_context(iobuf, IO_BUFFER, 0, &in, read_memory, NULL, NULL))) {
    err = rb_fail(msg, msglen, RB_ERR_NOMEM, "out of memory");
    goto out;
  }
  iobuf = NULL; /* owned by io now */
  fmt->pb = io;
  fmt->flags |= AVFMT_FLAG_CUSTOM_IO;
  if(avformat_open_input(&fmt, NULL, av_find_input_format("mpegts"), NULL) < 0) {
    err = rb_fail(msg, msglen, RB_ERR_PROTOCOL, "not an MPEG-TS segment");
    goto out; /* avformat_open_input freed fmt */
  }
  while(av_read_frame(fmt, pkt) >= 0) {
    const AVStream *st = fmt->streams[pkt->stream_index];

    if(video < 0 && st->codecpar->codec_id == AV_CODEC_ID_H264) {
      if((err = open_decoder(st, &dec, msg, msglen))) {
        av_packet_unref(pkt);
        goto out;
      }
      video = pkt->stream_index;
    }
    if(pkt->stream_index == video) {
      uint64_t seq;
      int64_t send_ns;

      res->video_packets++;
      /* One SEI per picture: the publisher stamps each access unit once. */
      if(rb_media_parse_sei_annexb(pkt->data, (size_t)pkt->size, &seq, &send_ns)) {
        res->seis++;
        if(fn)
          fn(arg, seq, send_ns);
      }
      if(avcodec_send_packet(dec, pkt) < 0)
        res->decode_errors++;
      drain(dec, frame, res);
    }
    av_packet_unref(pkt);
  }
  if(dec && avcodec_send_packet(dec, NULL) == 0)
    drain(dec, frame, res);
  if(video < 0)
    err = rb_fail(msg, msglen, RB_ERR_PROTOCOL, "no H.264 stream in the segment");
out:
  if(fmt)
    avformat_close_input(&fmt);
  if(io) {
    av_freep(&io->buffer);
    avio_context_free(&io);
  }
  av_free(iobuf);
  avcodec_free_context(&dec);
  av_frame_free(&frame);
  av_packet_free(&pkt);
  return err;
}
