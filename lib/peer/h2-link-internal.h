/* SPDX-License-Identifier: MIT */
/*
 * h2-link-internal.h - what the three parts of a peer link share (not for other modules)
 *
 * A peer link is one struct h2_link split by concern over h2-link.c (TLS, the socket, flushing,
 * timers, the public API), h2-streams.c (streams, their block queues, the data provider) and
 * h2-session.c (the nghttp2 session and its receive callbacks). This header holds the structs
 * they all touch and the functions one part calls in another; everything here is private to
 * lib/peer/h2-*.c, and the public interface stays h2-link.h.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <nghttp2/nghttp2.h>
#include <openssl/ssl.h>
#include <systemd/sd-event.h>

#include "h2-link.h"
#include "sockaddr.h"
#include "stream.h"

#define IO_CHUNK	(64u * 1024u)
#define OUT_BATCH	(16u * 1024u)  /* small frames gathered into one TLS record */
#define SEND_BUF_MAX	(512u * 1024u) /* per stream, while bytes are in flight */
#define LINK_WINDOW	(64u * 1024u * 1024u)
#define READS_PER_EVENT 16
#define FRAME_HD	9u
#define FRAME_DATA_MAX	(16384u - FRAME_HD) /* a DATA frame with its header fills one TLS record */
#define BLK_HEAD	16u /* room for a frame header in front of a block's bytes */
#define BLK_SIZE	(64u * 1024u - 64u) /* bytes per block; below malloc's mmap threshold */
#define POOL_MAX	8		    /* free blocks a link keeps for its streams */

/* A piece of a stream's send or receive queue. */
struct blk {
	struct blk *next;
	uint32_t off, len; /* the bytes queued: data(b)[off .. off + len) */
	uint8_t mem[];	   /* BLK_HEAD bytes of room, then BLK_SIZE bytes of data */
};

struct bq {
	struct blk *head, *tail;
	size_t bytes;
};

enum link_state { LINK_HANDSHAKE, LINK_UP, LINK_DEAD };

struct h2s {
	struct stream st;     /* first: a struct stream is a struct h2s */
	struct h2_link *link; /* NULL once the link is gone */
	struct h2s *prev, *next;
	int32_t id;	/* -1 until the HTTP/2 stream exists */
	uint32_t token; /* reverse opens: what the client will ask for */
	char *path;
	bool incoming;	/* the peer opened it (we answer with a response) */
	bool rev;	/* the internal /rev stream */
	bool owned;	/* a consumer holds it (stream_free not called yet) */
	bool submitted; /* request or response submitted (data provider attached) */
	bool h2_closed; /* nghttp2 closed it */
	bool deferred;	/* the data provider said DEFERRED */
	bool asked;	/* server end: the client was asked to open it (through /rev) */
	bool eof_sent;
	bool shut_wr;
	bool write_blocked; /* a write() returned -EAGAIN: wake when there is room */
	bool reof;
	int rerr;
	struct bq sq;  /* written, not yet sent */
	struct bq rq;  /* received, not yet read */
	char *revline; /* /rev stream on the client: a partial line */
	size_t revlen;
};

struct h2_link {
	sd_event *event;
	SSL *ssl;
	nghttp2_session *h2;
	const struct h2_link_ops *ops;
	void *userdata;
	sd_event_source *io, *flush_src, *read_src, *timer, *notify_src;
	uint64_t started, last_rx;
	uint8_t *out; /* frames copied out of nghttp2 (all but DATA), or a DATA frame TLS refused */
	size_t out_off, out_len, out_cap;
	struct blk *pool;   /* free blocks */
	uint64_t ping_sent; /* when the PING now out left, for the round trip */
	struct h2_link_stats stats;
	struct h2s *streams; /* every stream object still tied to the link */
	struct h2s *rev;     /* client: the /rev stream we opened; server: the one we got */
	char *down_reason;
	int fd;
	enum link_state state;
	unsigned records; /* DATA records written during this flush */
	unsigned n_pool;
	unsigned n_streams;
	uint32_t next_token;
	int down_error;
	bool dialer;
	bool ping_out;
	bool want_pollout;
	bool wrote;  /* h2l_on_send_data() wrote a DATA frame during this pull */
	bool corked; /* TCP_CORK is on (from the second record of a flush to its end) */
	bool notified;
	uint64_t bytes_in, bytes_out; /* TLS application bytes, for `list` */
	char peer[SOCKADDR_STR_MAX];
};

/* ---- h2-link.c ----------------------------------------------------------------------------- */

/**
 * h2l_fail() - Take the link down (once): keep why, fail its streams, notify the owner later
 * @l:		the link (borrowed)
 * @error:	negative errno
 * @fmt:	what failed, printf-style
 */
void h2l_fail(struct h2_link *l, int error, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/**
 * h2l_schedule_flush() - Flush what nghttp2 has to send at the end of this loop iteration
 * @l:		the link (borrowed)
 */
void h2l_schedule_flush(struct h2_link *l);

/**
 * h2l_on_send_data() - nghttp2 send_data callback: a DATA frame as one TLS record
 * @session:	the session
 * @frame:	the DATA frame
 * @framehd:	its 9-byte header
 * @length:	its data length
 * @source:	the data source (unused)
 * @user_data:	the link
 *
 * Return: 0, NGHTTP2_ERR_PAUSE, NGHTTP2_ERR_WOULDBLOCK or an nghttp2 callback failure
 */
int h2l_on_send_data(nghttp2_session *session, nghttp2_frame *frame, const uint8_t *framehd,
		     size_t length, nghttp2_data_source *source, void *user_data);

/* ---- h2-session.c -------------------------------------------------------------------------- */

/**
 * h2l_start_h2() - Create the HTTP/2 session once TLS is up; the dialer opens "/rev"
 * @l:		the link (borrowed)
 *
 * Return: 0, -ENOMEM, or what h2l_h2s_submit() returns
 */
int h2l_start_h2(struct h2_link *l);

/* ---- h2-streams.c -------------------------------------------------------------------------- */

/**
 * h2l_bq_peek() - The bytes at the head of @q, in place
 * @q:		the queue (borrowed)
 * @ret:	where they start (borrowed from @q)
 *
 * Return: their length, 0 when @q is empty
 */
size_t h2l_bq_peek(struct bq *q, uint8_t **ret);

/**
 * h2l_bq_consume() - Drop @n bytes from the head of @q
 * @l:		the link whose pool takes emptied blocks; NULL frees them
 * @q:		the queue (borrowed)
 * @n:		at most what h2l_bq_peek() returned
 */
void h2l_bq_consume(struct h2_link *l, struct bq *q, size_t n);

/**
 * h2l_bq_append() - Copy @len bytes to the tail of @q
 * @l:		the link whose pool gives blocks (borrowed)
 * @q:		the queue (borrowed)
 * @buf:	the bytes (borrowed)
 * @len:	their length
 *
 * Return: 0, -ENOMEM (then part of @buf may have been queued)
 */
int h2l_bq_append(struct h2_link *l, struct bq *q, const void *buf, size_t len);

/**
 * h2l_h2s_new() - A stream tied to @l, no HTTP/2 stream yet
 * @l:		the link (borrowed); the stream is linked into its list and counted in its stats
 * @path:	the request path (copied), or NULL
 *
 * Return: the stream (owned by the caller as a struct stream), NULL when out of memory
 */
struct h2s *h2l_h2s_new(struct h2_link *l, const char *path);

/**
 * h2l_h2s_link_remove() - Unlink @s from its link's stream list; @s->link becomes NULL
 * @s:		the stream (borrowed); no-op when already unlinked
 */
void h2l_h2s_link_remove(struct h2s *s);

/**
 * h2l_h2s_destroy() - Unlink @s from its link, then free it and its queues
 * @s:		the stream; ownership passes here
 */
void h2l_h2s_destroy(struct h2s *s);

/**
 * h2l_h2s_h2_gone() - The HTTP/2 side is done with @s: free it unless its consumer holds it
 * @s:		the stream (borrowed; may be freed)
 */
void h2l_h2s_h2_gone(struct h2s *s);

/**
 * h2l_h2s_submit() - Submit @s's request (dialer) or response (incoming) with the data provider
 * @l:		the link (borrowed)
 * @s:		the stream (borrowed)
 *
 * Return: 0, -EMFILE when stream ids ran out, -EIO when nghttp2 refuses
 */
int h2l_h2s_submit(struct h2_link *l, struct h2s *s);

/**
 * h2l_h2s_ask_reverse() - Server end: ask the client to open a stream for @s (through /rev)
 * @l:		the link (borrowed)
 * @s:		the stream (borrowed)
 *
 * Return: 0, -EINVAL (path too long), -ENOMEM
 */
int h2l_h2s_ask_reverse(struct h2_link *l, struct h2s *s);

/**
 * h2l_send_pending() - Submit every stream opened while the link was not ready
 * @l:		the link (borrowed); failures take it down
 */
void h2l_send_pending(struct h2_link *l);
