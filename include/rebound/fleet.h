/*
 * fleet: the clients of one scenario, as threads.
 *
 * librtmp is blocking, so each publisher and player is a thread with a small stack
 * that connects, publishes or plays, and on any failure reconnects on the schedule
 * of its reconnect profile (backoff.h) until it is stopped or gives up. Threads only record what happened (timestamps from
 * CLOCK_MONOTONIC, counters, the last error) in state guarded by one mutex; the
 * engine reads it to decide. Holders are not threads: the engine connects them,
 * they stay silent across the fault, and are closed without sending anything.
 */
#ifndef REBOUND_FLEET_H
#define REBOUND_FLEET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rebound/backoff.h"
#include "rebound/error.h"

/* What a player speaks: `players` are RTMP, `flv_players` HTTP-FLV, `hls_players` HLS. */
enum rb_player_kind { RB_PLAYER_RTMP, RB_PLAYER_FLV, RB_PLAYER_HLS, RB_PLAYER_KINDS };

struct rb_fleet_opts {
  const char *url;             /* application URL: rtmp://host:port/app [options] */
  char *const *streams;        /* one stream name per publisher */
  unsigned publishers;
  unsigned players;            /* player i plays streams[i % publishers] */
  unsigned flv_players, hls_players;
  char *const *flv_urls;       /* one URL per HTTP-FLV player (flv_url expanded for its stream) */
  char *const *hls_urls;       /* one media playlist URL per HLS player */
  unsigned holders;
  int64_t step_timeout_ns;     /* per network step */
  const char *media_path;      /* NULL = built-in clip */
  const char *host;            /* for raw half-handshake connections (fault_at = handshake) */
  uint16_t port;
  const char *play_url;        /* where players play (another target in a topology); NULL = url */
  const char *holder_url;      /* where holders connect (the target the fault hits); NULL = url */
  struct rb_backoff_profile reconnect; /* all zero = rebound's own */
  uint64_t seed;               /* every member's schedule and spread derive from it */
  bool keep_chunk_size;        /* publishers carry a stale chunk size (client.h) */
};

/* One kind of player. "Up" for an HLS player means it took a segment whose media was
   sent at or after `since`: a restarted server's first new segment, not an old one
   still listed. */
struct rb_fleet_kind_counts {
  unsigned planned;            /* players of this kind in the fleet */
  unsigned up;
  int64_t last_up_at;          /* latest up time among them (the kind's recovery) */
  uint64_t frames_received, gaps, duplicates, lost_after_reconnect;
  double latency_p50_ms, latency_p99_ms;
  /* HLS */
  uint64_t segments;           /* new segments taken */
  uint64_t segments_without_sei, decode_errors;
  uint64_t resets;             /* media sequence went back without a discontinuity */
  uint64_t restarts;           /* went back, with EXT-X-DISCONTINUITY(-SEQUENCE) */
  char reset_why[320];         /* the first reset's sentence */
};

struct rb_fleet_counts {
  unsigned publishers, players; /* how many the fleet has */
  unsigned publishers_up;      /* publishing in a session that began at or after `since` */
  unsigned players_up;         /* RTMP players receiving frames in a session that began at or after `since` */
  unsigned holders;            /* holders currently connected */
  int64_t last_up_at;          /* latest up time among the clients counted up */
  int64_t publishers_up_at;    /* latest Publish.Start among the publishers counted up (0: none) */
  unsigned players_playing;    /* players whose Play.Start came at or after `since` */
  int64_t players_playing_at;  /* the latest of those Play.Starts (0: none) */
  int64_t players_up_at;       /* latest first frame among the players counted up (0: none) */
  uint64_t frames_sent;
  uint64_t frames_received;    /* this and the next two lines: RTMP players */
  uint64_t gaps, duplicates, lost_after_reconnect;
  /* The gap where a player's stream resumed after a reconnect, split by where its
     frames went: sent to the killed server (the only allowed loss), or sent to the
     restarted server and never delivered before the player's first frame. */
  uint64_t lost_in_outage, skipped_after_restart;
  double latency_p50_ms, latency_p99_ms;
  double stale_ms_max;         /* longest refused-republish window seen since the last reset */
  unsigned gave_up;            /* members whose retries ran out (they stay down) */
  char first_problem[320];     /* why the first client that is not up is not up */
  char refused_stream[128];    /* the first publisher whose last attempt was refused ("" none) */
  char refused_code[96];       /* the status the server refused it with */
  bool rejected;               /* some client's last failure was a server refusal */
  bool protocol;               /* ... or a protocol error */
  struct rb_fleet_kind_counts kinds[RB_PLAYER_KINDS]; /* [RB_PLAYER_RTMP] repeats the fields above */
};

struct rb_fleet;

rb_err rb_fleet_create(struct rb_fleet **out, const struct rb_fleet_opts *opts, char *msg, size_t msglen);

/* Start the publisher and player threads. */
rb_err rb_fleet_start(struct rb_fleet *f, char *msg, size_t msglen);

/* Counters; "up" is judged against since (monotonic ns; 0 = any session). */
void rb_fleet_counts(struct rb_fleet *f, int64_t since, struct rb_fleet_counts *out);

/* Wait until every publisher and player is up in a session begun at or after since,
   or deadline, or *stop becomes non-zero, or every member that is not up has given
   up. RB_OK with *all_up_at = the moment the last one came up; RB_ERR_TIMEOUT with
   msg naming the first client that is not up (RB_ERR_REJECTED when it was refused,
   RB_ERR_PROTOCOL when its last failure was a protocol error). */
rb_err rb_fleet_wait_up(struct rb_fleet *f, int64_t since, int64_t deadline, volatile int *stop,
                        int64_t *all_up_at, char *msg, size_t msglen);

/* When the members came up since `since`: their up times in ms after since,
   ascending, at most max of them (the earliest); returns how many were stored. */
size_t rb_fleet_arrivals(struct rb_fleet *f, int64_t since, double *ms, size_t max);

/* How many members count as up though the server has already closed their
   connection (a FIN or reset waits on the socket) and they have not noticed yet.
   After old workers exited on a reload the engine waits for this to reach 0, so
   that "up" means really connected. */
size_t rb_fleet_count_hung_up(struct rb_fleet *f);

/* Pause or resume sending media (fault_at = idle). */
void rb_fleet_set_paused(struct rb_fleet *f, bool paused);

/* Reset the per-cycle counters (frames, stale window). */
void rb_fleet_reset_cycle(struct rb_fleet *f);

/* Connect the holders (TCP + handshake + connect), all before deadline. */
rb_err rb_fleet_connect_holders(struct rb_fleet *f, int64_t deadline, char *msg, size_t msglen);

/* Close every holder without sending anything. */
void rb_fleet_release_holders(struct rb_fleet *f);

/* Open n raw TCP connections that send C0 and half of C1 and then wait: clients
   caught mid-handshake by the fault (fault_at = handshake). */
rb_err rb_fleet_open_handshakes(struct rb_fleet *f, unsigned n, int64_t deadline, char *msg, size_t msglen);

/* Close them without sending anything more. */
void rb_fleet_close_handshakes(struct rb_fleet *f);

/* The server listens again: clients of the rebound profile that are backing off
   after a failed attempt retry now instead of at the end of their backoff (a real
   encoder's profile cannot know, and waits). Their retries are spread over
   about 20 us per client, so that a large fleet does not reconnect in lockstep. */
void rb_fleet_kick(struct rb_fleet *f);

/* Members of a kind that the fault does not touch (they are on another target):
   "up" for them means up in any session, not one begun since the restart. */
void rb_fleet_set_staying(struct rb_fleet *f, bool publishers, bool players);

/* Recovery through a topology: from now on, watch every player for the first frame
   its publisher sent after this call (frames still on their way do not count), and
   count the frames missing after it as lost after the recovery. */
void rb_fleet_arm_flow(struct rb_fleet *f);

/* Wait until every player has received such a frame, or deadline / *stop. RB_OK with
   *all_at = when the last one did; RB_ERR_TIMEOUT with msg naming the first player
   that did not ("2/3 players receive new frames; player 1 (s): ..."). */
rb_err rb_fleet_wait_flow(struct rb_fleet *f, int64_t deadline, volatile int *stop, int64_t *all_at, char *msg,
                          size_t msglen);
/* Which clients a network fault hits: the selected kinds, in the order publishers,
   players, holders, at most max of them (0: no limit). */
struct rb_fleet_select {
  bool publishers, players, holders;
  unsigned max;
};

/* The local ports of the selected clients' current connections (for the fault
   proxy, which knows connections by their client port); how many were written. */
size_t rb_fleet_client_ports(struct rb_fleet *f, const struct rb_fleet_select *sel, uint16_t *ports,
                             size_t cap);
/* The selected clients' network died: they count as down until they are up again
   on a new connection; cut = they also notice at once (rb_client_cut). */
void rb_fleet_network_died(struct rb_fleet *f, const struct rb_fleet_select *sel, bool cut);

/* Stop and join every thread (bounded: blocked steps are aborted). */
void rb_fleet_stop(struct rb_fleet *f);

void rb_fleet_destroy(struct rb_fleet *f);

#endif
