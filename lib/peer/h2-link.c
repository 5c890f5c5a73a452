/* SPDX-License-Identifier: MIT */
/*
 * h2-link.c - a peer link: TLS 1.3 PSK + HTTP/2 on one TCP socket (h2-link.h)
 *
 * Theory of operation. One sd-event io source watches the socket. While the handshake runs,
 * OpenSSL's "want" becomes the event mask. Once up, input is read with SSL_read() in 64 KiB
 * pieces and fed to nghttp2_session_mem_recv(); output is pulled from nghttp2_session_mem_send()
 * into one buffer (so many small frames leave as one TLS record) and written with SSL_write();
 * only when TLS wants to write and cannot is EPOLLOUT asked for. Whatever changes what nghttp2
 * has to send (a stream written to, a window given back, a PING) schedules one flush through a
 * defer source, so a loop iteration's worth of writes leaves together.
 *
 * Streams (struct h2s) are the struct stream of h2-link.h. Their send side is a buffer the data
 * provider drains (deferred while empty, resumed by write()); their receive side a buffer filled
 * by on_data_chunk_recv, never larger than the window, which read() empties and gives back with
 * nghttp2_session_consume() (automatic window updates are off). A stream whose owner freed it
 * before HTTP/2 closed it is reset and detached; data still arriving for it is consumed at once.
 * Reverse opens (the server end opening a stream) go through the internal "/rev" stream.
 */
#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <nghttp2/nghttp2.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <systemd/sd-event.h>

#include "cleanup.h"
#include "h2-link.h"
#include "log.h"
#include "sockaddr.h"
#include "stream.h"
#include "tls-psk.h"

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
	bool wrote;  /* on_send_data() wrote a DATA frame during this pull */
	bool corked; /* TCP_CORK is on (from the second record of a flush to its end) */
	bool notified;
	uint64_t bytes_in, bytes_out; /* TLS application bytes, for `list` */
	char peer[SOCKADDR_STR_MAX];
};

static uint64_t now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000ULL + (uint64_t)ts.tv_nsec / 1000;
}

static void link_fail(struct h2_link *l, int error, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void link_schedule_flush(struct h2_link *l);

/* ---- block queues ------------------------------------------------------------------------- */

static uint8_t *blk_data(struct blk *b)
{
	return b->mem + BLK_HEAD;
}

static struct blk *blk_get(struct h2_link *l)
{
	struct blk *b;

	if (l && l->pool) {
		b = l->pool;
		l->pool = b->next;
		l->n_pool--;
	} else {
		b = malloc(sizeof(*b) + BLK_HEAD + BLK_SIZE);
		if (!b)
			return NULL;
	}
	b->next = NULL;
	b->off = b->len = 0;
	return b;
}

/* @l may be NULL (the stream outlived its link): then the block is freed */
static void blk_put(struct h2_link *l, struct blk *b)
{
	if (l && l->n_pool < POOL_MAX) {
		b->next = l->pool;
		l->pool = b;
		l->n_pool++;
		return;
	}
	free(b);
}

static void bq_clear(struct h2_link *l, struct bq *q)
{
	while (q->head) {
		struct blk *b = q->head;

		q->head = b->next;
		blk_put(l, b);
	}
	q->tail = NULL;
	q->bytes = 0;
}

/* Room at the tail (a new block when the tail is full): its length, 0 when out of memory */
static size_t bq_reserve(struct h2_link *l, struct bq *q, uint8_t **ret)
{
	struct blk *b = q->tail;

	if (!b || b->off + b->len == BLK_SIZE) {
		b = blk_get(l);
		if (!b)
			return 0;
		if (q->tail)
			q->tail->next = b;
		else
			q->head = b;
		q->tail = b;
	}
	*ret = blk_data(b) + b->off + b->len;
	return BLK_SIZE - b->off - b->len;
}

static void bq_commit(struct h2_link *l, struct bq *q, size_t n)
{
	struct blk *b = q->tail;

	b->len += (uint32_t)n;
	q->bytes += n;
	if (b->len == 0 && b == q->head) {
		/* nothing was queued after all: an idle stream holds no block */
		q->head = q->tail = NULL;
		blk_put(l, b);
	}
}

/* The bytes at the head, in place: their length (0: empty) */
static size_t bq_peek(struct bq *q, uint8_t **ret)
{
	struct blk *b = q->head;

	if (!b || b->len == 0)
		return 0;
	*ret = blk_data(b) + b->off;
	return b->len;
}

/* @n <= what bq_peek() returned */
static void bq_consume(struct h2_link *l, struct bq *q, size_t n)
{
	struct blk *b = q->head;

	assert(b && n <= b->len);
	b->off += (uint32_t)n;
	b->len -= (uint32_t)n;
	q->bytes -= n;
	while ((b = q->head) && b->len == 0) {
		q->head = b->next;
		if (!q->head)
			q->tail = NULL;
		blk_put(l, b);
	}
}

static int bq_append(struct h2_link *l, struct bq *q, const void *buf, size_t len)
{
	while (len > 0) {
		uint8_t *p;
		size_t n = bq_reserve(l, q, &p);

		if (n == 0)
			return -ENOMEM;
		if (n > len)
			n = len;
		memcpy(p, buf, n);
		bq_commit(l, q, n);
		buf = (const uint8_t *)buf + n;
		len -= n;
	}
	return 0;
}

/* ---- streams ------------------------------------------------------------------------------ */

static void h2s_link_add(struct h2_link *l, struct h2s *s)
{
	s->link = l;
	s->prev = NULL;
	s->next = l->streams;
	if (l->streams)
		l->streams->prev = s;
	l->streams = s;
	l->n_streams++;
}

static void h2s_link_remove(struct h2s *s)
{
	struct h2_link *l = s->link;

	if (!l)
		return;
	if (s->prev)
		s->prev->next = s->next;
	else
		l->streams = s->next;
	if (s->next)
		s->next->prev = s->prev;
	s->prev = s->next = NULL;
	s->link = NULL;
	l->n_streams--;
}

static void h2s_destroy(struct h2s *s)
{
	struct h2_link *l = s->link;

	h2s_link_remove(s);
	bq_clear(l, &s->sq);
	bq_clear(l, &s->rq);
	free(s->path);
	free(s->revline);
	free(s);
}

/* The HTTP/2 side is done with @s: free it unless its consumer still holds it. */
static void h2s_h2_gone(struct h2s *s)
{
	s->h2_closed = true;
	if (s->link && s->link->h2 && s->id >= 0)
		nghttp2_session_set_stream_user_data(s->link->h2, s->id, NULL);
	if (!s->owned && !s->rev) {
		h2s_destroy(s);
		return;
	}
	stream_wake(&s->st);
}

/* Nothing to read: why. Return: 0 (EOF), -EAGAIN or the error */
static ssize_t h2s_read_empty(const struct h2s *s)
{
	if (s->rerr)
		return s->rerr;
	if (s->reof)
		return 0;
	if (!s->link)
		return -ECONNRESET;
	return -EAGAIN;
}

static ssize_t h2s_peek(struct stream *st, const void **ret_ptr)
{
	struct h2s *s = (struct h2s *)st;
	uint8_t *p;
	size_t n = bq_peek(&s->rq, &p);

	if (n == 0)
		return h2s_read_empty(s);
	*ret_ptr = p;
	return (ssize_t)n;
}

static void h2s_consume(struct stream *st, size_t n)
{
	struct h2s *s = (struct h2s *)st;

	if (n == 0)
		return;
	bq_consume(s->link, &s->rq, n);
	/* the window is given back as the consumer reads: a slow reader stalls only itself */
	if (s->link && s->link->h2 && s->id >= 0 && !s->h2_closed) {
		(void)nghttp2_session_consume(s->link->h2, s->id, n);
		link_schedule_flush(s->link);
	}
}

static ssize_t h2s_read(struct stream *st, void *buf, size_t len)
{
	struct h2s *s = (struct h2s *)st;
	size_t done = 0;

	if (s->rq.bytes == 0)
		return h2s_read_empty(s);
	while (done < len) {
		uint8_t *p;
		size_t n = bq_peek(&s->rq, &p);

		if (n == 0)
			break;
		if (n > len - done)
			n = len - done;
		memcpy((uint8_t *)buf + done, p, n);
		h2s_consume(st, n);
		done += n;
	}
	return (ssize_t)done;
}

static int h2s_resume(struct h2s *s)
{
	if (s->deferred && s->link && s->link->h2 && s->id >= 0 && !s->h2_closed) {
		s->deferred = false;
		(void)nghttp2_session_resume_data(s->link->h2, s->id);
	}
	if (s->link)
		link_schedule_flush(s->link);
	return 0;
}

/* May @s be written to? Return: the room left (0: full, the writer waits), or -errno */
static ssize_t h2s_write_room(struct h2s *s)
{
	if (s->shut_wr)
		return -EPIPE;
	if (s->rerr && s->rerr != -ECONNREFUSED)
		return s->rerr;
	if (!s->link || s->h2_closed)
		return s->rerr ?: -ECONNRESET;
	if (s->sq.bytes >= SEND_BUF_MAX) {
		s->write_blocked = true;
		return 0;
	}
	return (ssize_t)(SEND_BUF_MAX - s->sq.bytes);
}

static ssize_t h2s_write(struct stream *st, const void *buf, size_t len)
{
	struct h2s *s = (struct h2s *)st;
	ssize_t room = h2s_write_room(s);
	int r;

	if (room <= 0)
		return room ?: -EAGAIN;
	if (len > (size_t)room)
		len = (size_t)room;
	r = bq_append(s->link, &s->sq, buf, len);
	if (r < 0)
		return r;
	(void)h2s_resume(s);
	return (ssize_t)len;
}

static ssize_t h2s_reserve(struct stream *st, void **ret_ptr)
{
	struct h2s *s = (struct h2s *)st;
	ssize_t room = h2s_write_room(s);
	uint8_t *p;
	size_t n;

	if (room <= 0)
		return room ?: -EAGAIN;
	n = bq_reserve(s->link, &s->sq, &p);
	if (n == 0)
		return -ENOMEM;
	*ret_ptr = p;
	return (ssize_t)(n < (size_t)room ? n : (size_t)room);
}

static void h2s_commit(struct stream *st, size_t n)
{
	struct h2s *s = (struct h2s *)st;

	bq_commit(s->link, &s->sq, n);
	if (n > 0)
		(void)h2s_resume(s);
}

static int h2s_shutdown_write(struct stream *st)
{
	struct h2s *s = (struct h2s *)st;

	if (s->shut_wr)
		return 0;
	s->shut_wr = true;
	if (!s->link || s->h2_closed)
		return -ENOTCONN;
	return h2s_resume(s);
}

static void h2s_free(struct stream *st)
{
	struct h2s *s = (struct h2s *)st;
	struct h2_link *l = s->link;

	s->owned = false;
	s->st.wake = NULL;
	if (!l || s->h2_closed || s->id < 0) {
		h2s_destroy(s);
		return;
	}
	/* ended both ways: what we wrote (and our END_STREAM) may still be queued; let it go out,
	 * and the close callback frees the stream */
	if (s->shut_wr && s->reof && !s->rerr) {
		bq_clear(l, &s->rq);
		(void)h2s_resume(s);
		return;
	}
	/* still open on the link: abandoned; tell the peer, and let the close callback free it */
	if (l->h2) {
		(void)nghttp2_submit_rst_stream(l->h2, NGHTTP2_FLAG_NONE, s->id, NGHTTP2_CANCEL);
		link_schedule_flush(l);
		if (!nghttp2_session_find_stream(l->h2, s->id)) {
			/* closed already, or submitted and not sent yet (a reverse-open refused at
			 * once): nghttp2 may still open and reset it, so it must not find us */
			(void)nghttp2_session_set_stream_user_data(l->h2, s->id, NULL);
			h2s_destroy(s);
			return;
		}
	}
	bq_clear(l, &s->rq);
}

static const struct stream_ops h2s_ops = {
	.kind = "peer",
	.read = h2s_read,
	.write = h2s_write,
	.shutdown_write = h2s_shutdown_write,
	.peek = h2s_peek,
	.consume = h2s_consume,
	.reserve = h2s_reserve,
	.commit = h2s_commit,
	.free = h2s_free,
};

static struct h2s *h2s_new(struct h2_link *l, const char *path)
{
	struct h2s *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->st.ops = &h2s_ops;
	s->id = -1;
	if (path) {
		s->path = strdup(path);
		if (!s->path) {
			free(s);
			return NULL;
		}
	}
	h2s_link_add(l, s);
	l->stats.streams_total++; /* the internal /rev stream is taken off where it is made */
	return s;
}

/* ---- the data provider -------------------------------------------------------------------- */

/*
 * DATA leaves without a copy into nghttp2: the read callback only says how much
 * (NGHTTP2_DATA_FLAG_NO_COPY, at most FRAME_DATA_MAX and what the head block holds), and
 * on_send_data() writes the frame header into the BLK_HEAD room (or over bytes already sent)
 * right in front of the data and hands header + data to SSL_write() as one TLS record.
 */
static ssize_t on_data_read(nghttp2_session *session, int32_t stream_id, uint8_t *buf,
			    size_t length, uint32_t *data_flags, nghttp2_data_source *source,
			    void *user_data)
{
	struct h2s *s = nghttp2_session_get_stream_user_data(session, stream_id);
	uint8_t *p;
	size_t n;

	if (!s) {
		*data_flags |= NGHTTP2_DATA_FLAG_EOF;
		return 0;
	}
	n = bq_peek(&s->sq, &p);
	if (n == 0) {
		if (s->shut_wr) {
			*data_flags |= NGHTTP2_DATA_FLAG_EOF;
			s->eof_sent = true;
			return 0;
		}
		s->deferred = true;
		return NGHTTP2_ERR_DEFERRED;
	}
	if (n > length)
		n = length;
	if (n > FRAME_DATA_MAX)
		n = FRAME_DATA_MAX;
	*data_flags |= NGHTTP2_DATA_FLAG_NO_COPY;
	if (n == s->sq.bytes && s->shut_wr) {
		*data_flags |= NGHTTP2_DATA_FLAG_EOF;
		s->eof_sent = true;
	}
	return (ssize_t)n;
}

static uint8_t hn_status[] = ":status", hv_200[] = "200", hn_method[] = ":method",
	       hv_post[] = "POST", hn_scheme[] = ":scheme", hv_https[] = "https",
	       hn_authority[] = ":authority", hv_wormhole[] = "wormhole", hn_path[] = ":path";
#define NV(n, v, vlen)                                          \
	{                                                       \
		n, v, sizeof(n) - 1, vlen, NGHTTP2_NV_FLAG_NONE \
	}

static int h2s_submit(struct h2_link *l, struct h2s *s)
{
	nghttp2_data_provider prd = { .read_callback = on_data_read };
	int32_t id;

	if (s->incoming) {
		const nghttp2_nv nv[] = { NV(hn_status, hv_200, 3) };
		int r = nghttp2_submit_response(l->h2, s->id, nv, ELEMENTSOF(nv), &prd);

		if (r < 0)
			return -EIO;
	} else {
		const nghttp2_nv nv[] = {
			NV(hn_method, hv_post, 4),
			NV(hn_scheme, hv_https, 5),
			NV(hn_authority, hv_wormhole, 8),
			NV(hn_path, (uint8_t *)s->path, strlen(s->path)),
		};

		id = nghttp2_submit_request(l->h2, NULL, nv, ELEMENTSOF(nv), &prd, s);
		if (id < 0)
			return id == NGHTTP2_ERR_STREAM_ID_NOT_AVAILABLE ? -EMFILE : -EIO;
		s->id = id;
	}
	s->submitted = true;
	link_schedule_flush(l);
	return 0;
}

/* Server end: ask the client to open a stream for @s (through /rev). */
static int h2s_ask_reverse(struct h2_link *l, struct h2s *s)
{
	char line[H2_LINK_PATH_MAX + 32];
	int n;

	n = snprintf(line, sizeof(line), "%" PRIu32 " %s\n", s->token, s->path);
	if (n < 0 || (size_t)n >= sizeof(line))
		return -EINVAL;
	if (bq_append(l, &l->rev->sq, line, (size_t)n) < 0)
		return -ENOMEM;
	return h2s_resume(l->rev);
}

/* Everything opened while the link was not ready goes out now. */
static void link_send_pending(struct h2_link *l)
{
	for (struct h2s *s = l->streams, *next; s; s = next) {
		int r = 0;

		next = s->next;
		if (s->submitted || s->incoming || s->rev || s->h2_closed)
			continue;
		if (l->dialer)
			r = h2s_submit(l, s);
		else if (l->rev && !s->asked) {
			r = h2s_ask_reverse(l, s);
			s->asked = true; /* submitted when the client's request comes */
		}
		if (r < 0) {
			s->rerr = r;
			h2s_h2_gone(s);
		}
	}
}

/* ---- nghttp2 callbacks -------------------------------------------------------------------- */

static int on_begin_headers(nghttp2_session *session, const nghttp2_frame *frame, void *user_data)
{
	struct h2_link *l = user_data;
	struct h2s *s;

	if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0;
	s = h2s_new(l, NULL);
	if (!s)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	s->incoming = true;
	s->id = frame->hd.stream_id;
	nghttp2_session_set_stream_user_data(session, s->id, s);
	return 0;
}

static int on_header(nghttp2_session *session, const nghttp2_frame *frame, const uint8_t *name,
		     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
		     void *user_data)
{
	struct h2s *s;

	if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0;
	s = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
	if (!s || namelen != 5 || memcmp(name, ":path", 5) != 0)
		return 0;
	if (valuelen > H2_LINK_PATH_MAX || s->path)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; /* resets the stream */
	s->path = strndup((const char *)value, valuelen);
	return s->path ? 0 : NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
}

static void rev_line(struct h2_link *l, const char *line)
{
	char path[H2_LINK_PATH_MAX + 16];
	unsigned long token;
	char *end;
	struct h2s *s;
	int r;

	errno = 0;
	token = strtoul(line, &end, 10);
	if (errno || *end != ' ' || token == 0 || token > UINT32_MAX || strlen(end + 1) == 0 ||
	    strlen(end + 1) > H2_LINK_PATH_MAX) {
		link_fail(l, -EPROTO, "peer sent a bad reverse-open line");
		return;
	}
	/* the stream we open is "/rev/<token>"; our consumer sees it under the path asked for */
	snprintf(path, sizeof(path), "/rev/%lu", token);
	s = h2s_new(l, path);
	if (!s)
		return;
	r = h2s_submit(l, s);
	if (r < 0) {
		h2s_destroy(s);
		return;
	}
	s->owned = true;
	if (l->ops->stream(l, end + 1, &s->st, l->userdata) < 0) {
		s->st.ops->free(&s->st); /* resets it */
	}
}

static void rev_input(struct h2_link *l, struct h2s *s, const uint8_t *data, size_t len)
{
	char *nl;

	/* many lines may come in one chunk (a burst of opens): only a partial line is bounded */
	if (s->revlen + len > 4 * H2_LINK_PATH_MAX) {
		const uint8_t *last = memrchr(data, '\n', len);
		size_t tail = last ? len - (size_t)(last - data) - 1 : s->revlen + len;

		if (tail > 4 * H2_LINK_PATH_MAX) {
			link_fail(l, -EPROTO, "peer sent an overlong reverse-open line");
			return;
		}
	}
	{
		char *b = realloc(s->revline, s->revlen + len + 1);

		if (!b)
			return;
		s->revline = b;
	}
	memcpy(s->revline + s->revlen, data, len);
	s->revlen += len;
	s->revline[s->revlen] = '\0';
	while (l->state == LINK_UP && (nl = memchr(s->revline, '\n', s->revlen))) {
		size_t ll = (size_t)(nl - s->revline) + 1;

		*nl = '\0';
		rev_line(l, s->revline);
		memmove(s->revline, s->revline + ll, s->revlen - ll + 1);
		s->revlen -= ll;
	}
	(void)nghttp2_session_consume(l->h2, s->id, len);
}

/* A request arrived: hand it to the owner, or bind it to a reverse open. */
static int on_request(struct h2_link *l, struct h2s *s)
{
	int r;

	if (!s->path) {
		(void)nghttp2_submit_rst_stream(l->h2, NGHTTP2_FLAG_NONE, s->id,
						NGHTTP2_PROTOCOL_ERROR);
		return 0;
	}
	if (!l->dialer && strcmp(s->path, "/rev") == 0 && !l->rev) {
		s->rev = true;
		l->rev = s;
		l->stats.streams_total--;
		r = h2s_submit(l, s);
		if (r >= 0)
			link_send_pending(l);
		return 0;
	}
	if (!l->dialer && strncmp(s->path, "/rev/", 5) == 0) {
		unsigned long token = strtoul(s->path + 5, NULL, 10);

		for (struct h2s *p = l->streams; p; p = p->next) {
			if (p->incoming || p->id >= 0 || p->token != token)
				continue;
			/* the pending stream takes this HTTP/2 stream over */
			p->id = s->id;
			p->incoming = true;
			nghttp2_session_set_stream_user_data(l->h2, p->id, p);
			h2s_destroy(s);
			r = h2s_submit(l, p);
			if (r < 0) {
				p->rerr = r;
				h2s_h2_gone(p);
			}
			return 0;
		}
		(void)nghttp2_submit_rst_stream(l->h2, NGHTTP2_FLAG_NONE, s->id,
						NGHTTP2_REFUSED_STREAM);
		return 0;
	}
	/* the owner decides; the response goes out first so DATA can follow */
	r = h2s_submit(l, s);
	if (r >= 0) {
		s->owned = true;
		r = l->ops->stream(l, s->path, &s->st, l->userdata);
		if (r < 0) {
			s->owned = false;
			s->st.wake = NULL;
		}
	}
	if (r < 0)
		(void)nghttp2_submit_rst_stream(l->h2, NGHTTP2_FLAG_NONE, s->id,
						NGHTTP2_REFUSED_STREAM);
	link_schedule_flush(l);
	return 0;
}

static int on_frame_recv(nghttp2_session *session, const nghttp2_frame *frame, void *user_data)
{
	struct h2_link *l = user_data;
	struct h2s *s = NULL;

	if (frame->hd.stream_id > 0)
		s = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
	switch (frame->hd.type) {
	case NGHTTP2_HEADERS:
		if (s && frame->headers.cat == NGHTTP2_HCAT_REQUEST && s->incoming &&
		    !s->submitted) {
			(void)on_request(l, s);
			s = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
		}
		break;
	case NGHTTP2_PING:
		if ((frame->hd.flags & NGHTTP2_FLAG_ACK) && l->ping_out) {
			l->ping_out = false;
			l->stats.rtt_usec = now_usec() - l->ping_sent;
			if (l->stats.rtt_usec == 0)
				l->stats.rtt_usec = 1; /* 0 means "not measured" */
		}
		break;
	default:
		break;
	}
	if (s && (frame->hd.type == NGHTTP2_DATA || frame->hd.type == NGHTTP2_HEADERS) &&
	    (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
		s->reof = true;
		stream_wake(&s->st);
	}
	return 0;
}

static int on_data_chunk(nghttp2_session *session, uint8_t flags, int32_t stream_id,
			 const uint8_t *data, size_t len, void *user_data)
{
	struct h2_link *l = user_data;
	struct h2s *s = nghttp2_session_get_stream_user_data(session, stream_id);

	if (!s || !s->rev)
		l->stats.bytes_in += len; /* stream payload: the /rev control lines are not */
	if (!s || !s->owned) {
		if (s && s->rev && l->dialer) {
			rev_input(l, s, data, len);
			return 0;
		}
		(void)nghttp2_session_consume(session, stream_id, len); /* abandoned */
		return 0;
	}
	if (bq_append(l, &s->rq, data, len) < 0)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	stream_wake(&s->st);
	return 0;
}

static int on_stream_close(nghttp2_session *session, int32_t stream_id, uint32_t error_code,
			   void *user_data)
{
	struct h2_link *l = user_data;
	struct h2s *s = nghttp2_session_get_stream_user_data(session, stream_id);

	if (!s)
		return 0;
	if (error_code == NGHTTP2_REFUSED_STREAM)
		s->rerr = -ECONNREFUSED;
	else if (error_code != NGHTTP2_NO_ERROR || !s->reof)
		s->rerr = -ECONNRESET;
	if (s == l->rev) {
		link_fail(l, -EPROTO, "the peer closed the reverse-open stream");
		return 0;
	}
	h2s_h2_gone(s);
	return 0;
}

/* ---- TLS and the socket ------------------------------------------------------------------- */

static void link_update_events(struct h2_link *l)
{
	uint32_t ev = EPOLLIN;

	if (l->want_pollout)
		ev |= EPOLLOUT;
	(void)sd_event_source_set_io_events(l->io, ev);
}

static int out_append(struct h2_link *l, const void *data, size_t len)
{
	if (l->out_len + len > l->out_cap) {
		size_t ncap = l->out_cap ? l->out_cap : 2 * OUT_BATCH;
		uint8_t *b;

		while (ncap < l->out_len + len)
			ncap *= 2;
		b = realloc(l->out, ncap);
		if (!b)
			return -ENOMEM;
		l->out = b;
		l->out_cap = ncap;
	}
	memcpy(l->out + l->out_len, data, len);
	l->out_len += len;
	return 0;
}

static void link_want_pollout(struct h2_link *l, bool want)
{
	if (l->want_pollout != want) {
		l->want_pollout = want;
		link_update_events(l);
	}
}

/*
 * Writes what l->out holds. TLS may refuse a record half-way (want write): it keeps the record
 * and wants the same bytes again, which stay at l->out + l->out_off.
 * Return: 0 all written, 1 TLS must wait for the socket, <0 the link failed
 */
static int link_write_out(struct h2_link *l)
{
	while (l->out_len > 0) {
		int n;

		ERR_clear_error();
		n = SSL_write(l->ssl, l->out + l->out_off, (int)l->out_len);
		if (n > 0) {
			l->bytes_out += (uint64_t)n;
			l->out_off += (size_t)n;
			l->out_len -= (size_t)n;
			continue;
		}
		switch (SSL_get_error(l->ssl, n)) {
		case SSL_ERROR_WANT_WRITE:
		case SSL_ERROR_WANT_READ:
			link_want_pollout(l, true);
			return 1;
		default: {
			char e[256];

			link_fail(l, -ECONNRESET, "write: %s", tls_psk_error(e, sizeof(e)));
			return -ECONNRESET;
		}
		}
	}
	l->out_off = 0;
	return 0;
}

/* nghttp2 sends a DATA frame (see on_data_read()): header and data as one TLS record */
static int on_send_data(nghttp2_session *session, nghttp2_frame *frame, const uint8_t *framehd,
			size_t length, nghttp2_data_source *source, void *user_data)
{
	struct h2_link *l = user_data;
	struct h2s *s = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
	size_t total = FRAME_HD + length;
	uint8_t *p = NULL;
	int n, r;

	if (!s || frame->data.padlen > 0 || bq_peek(&s->sq, &p) < length || !p)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; /* cannot happen: resets the stream */
	/* frames before this one go first */
	r = link_write_out(l);
	if (r < 0)
		return NGHTTP2_ERR_CALLBACK_FAILURE;
	if (r > 0)
		return NGHTTP2_ERR_WOULDBLOCK; /* called again with the same frame */
	/* Several records in one flush leave corked, as full segments: with TCP_NODELAY each
	 * record would otherwise be a segment of its own, and a wakeup of the peer's reader. */
	if (++l->records == 2 && !l->corked)
		l->corked = setsockopt(l->fd, IPPROTO_TCP, TCP_CORK, &(int){ 1 }, sizeof(int)) == 0;
	/* the BLK_HEAD room, or data sent before: free either way */
	p -= FRAME_HD;
	memcpy(p, framehd, FRAME_HD);
	ERR_clear_error();
	n = SSL_write(l->ssl, p, (int)total);
	if (n <= 0) {
		switch (SSL_get_error(l->ssl, n)) {
		case SSL_ERROR_WANT_WRITE:
		case SSL_ERROR_WANT_READ:
			n = 0;
			link_want_pollout(l, true);
			break;
		default: {
			char e[256];

			link_fail(l, -ECONNRESET, "write: %s", tls_psk_error(e, sizeof(e)));
			return NGHTTP2_ERR_CALLBACK_FAILURE;
		}
		}
	}
	/* TLS wants the rest (or the same record again) later: it waits in l->out, which is empty */
	if ((size_t)n < total && out_append(l, p + n, total - (size_t)n) < 0) {
		link_fail(l, -ENOMEM, "out of memory");
		return NGHTTP2_ERR_CALLBACK_FAILURE;
	}
	bq_consume(l, &s->sq, length);
	if (!s->rev)
		l->stats.bytes_out += length;
	l->wrote = true;
	if (s->write_blocked) {
		s->write_blocked = false;
		stream_wake(&s->st);
	}
	return (size_t)n < total ? NGHTTP2_ERR_PAUSE : 0;
}

static void link_uncork(struct h2_link *l)
{
	l->records = 0;
	if (l->corked) {
		l->corked = false;
		(void)setsockopt(l->fd, IPPROTO_TCP, TCP_CORK, &(int){ 0 }, sizeof(int));
	}
}

static int link_flush_once(struct h2_link *l);

/* Return: 0, or <0 when the link failed */
static int link_flush(struct h2_link *l)
{
	int r = link_flush_once(l);

	if (l->state == LINK_UP)
		link_uncork(l);
	return r;
}

static int link_flush_once(struct h2_link *l)
{
	int r;

	if (l->state != LINK_UP)
		return 0;
	for (;;) {
		r = link_write_out(l);
		if (r < 0)
			return r;
		if (r > 0)
			return 0; /* EPOLLOUT brings us back */
		/* gather small frames into one record; DATA goes out from on_send_data() */
		l->wrote = false;
		while (l->out_len < OUT_BATCH) {
			const uint8_t *data;
			ssize_t k = nghttp2_session_mem_send(l->h2, &data);

			if (l->state != LINK_UP)
				return -ECONNRESET;
			if (k < 0) {
				link_fail(l, -EPROTO, "HTTP/2: %s", nghttp2_strerror((int)k));
				return -EPROTO;
			}
			if (k == 0)
				break;
			if (out_append(l, data, (size_t)k) < 0) {
				link_fail(l, -ENOMEM, "out of memory");
				return -ENOMEM;
			}
		}
		if (l->out_len == 0 && !l->wrote)
			break;
	}
	link_want_pollout(l, false);
	if (!nghttp2_session_want_read(l->h2) && !nghttp2_session_want_write(l->h2)) {
		link_fail(l, -ECONNRESET, "the peer ended the link");
		return -ECONNRESET;
	}
	return 0;
}

static int on_flush(sd_event_source *src, void *userdata)
{
	struct h2_link *l = userdata;

	(void)link_flush(l);
	return 0;
}

static void link_schedule_flush(struct h2_link *l)
{
	if (l->flush_src && l->state == LINK_UP)
		(void)sd_event_source_set_enabled(l->flush_src, SD_EVENT_ONESHOT);
}

static int link_start_h2(struct h2_link *l)
{
	nghttp2_session_callbacks *cb;
	nghttp2_option *opt;
	const nghttp2_settings_entry iv[] = {
		{ NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 1u << 20 },
		{ NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, H2_LINK_STREAM_WINDOW },
		{ NGHTTP2_SETTINGS_ENABLE_PUSH, 0 },
		{ NGHTTP2_SETTINGS_MAX_FRAME_SIZE, 65535 }, /* fewer frames for bulk data */
	};
	int r;

	if (nghttp2_session_callbacks_new(&cb) != 0)
		return -ENOMEM;
	nghttp2_session_callbacks_set_on_begin_headers_callback(cb, on_begin_headers);
	nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data_chunk);
	nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
	nghttp2_session_callbacks_set_send_data_callback(cb, on_send_data);
	if (nghttp2_option_new(&opt) != 0) {
		nghttp2_session_callbacks_del(cb);
		return -ENOMEM;
	}
	nghttp2_option_set_no_auto_window_update(opt, 1);
	nghttp2_option_set_no_closed_streams(opt, 1);
	nghttp2_option_set_peer_max_concurrent_streams(opt, 1u << 20);
	r = l->dialer ? nghttp2_session_client_new2(&l->h2, cb, l, opt)
		      : nghttp2_session_server_new2(&l->h2, cb, l, opt);
	nghttp2_option_del(opt);
	nghttp2_session_callbacks_del(cb);
	if (r != 0)
		return -ENOMEM;
	if (nghttp2_submit_settings(l->h2, NGHTTP2_FLAG_NONE, iv, ELEMENTSOF(iv)) != 0 ||
	    nghttp2_session_set_local_window_size(l->h2, NGHTTP2_FLAG_NONE, 0, LINK_WINDOW) != 0)
		return -ENOMEM;
	if (l->dialer) {
		l->rev = h2s_new(l, "/rev");
		if (!l->rev)
			return -ENOMEM;
		l->rev->rev = true;
		l->stats.streams_total--;
		r = h2s_submit(l, l->rev);
		if (r < 0)
			return r;
		l->rev->shut_wr = false;
	}
	return 0;
}

static void link_read(struct h2_link *l)
{
	uint8_t buf[IO_CHUNK];
	int i;

	for (i = 0; i < READS_PER_EVENT && l->state == LINK_UP; i++) {
		ssize_t k;
		int n;

		ERR_clear_error();
		n = SSL_read(l->ssl, buf, sizeof(buf));
		if (n > 0)
			l->bytes_in += (uint64_t)n;
		if (n <= 0) {
			int e = SSL_get_error(l->ssl, n);

			if (e == SSL_ERROR_WANT_READ)
				break;
			if (e == SSL_ERROR_WANT_WRITE) {
				l->want_pollout = true;
				link_update_events(l);
				break;
			}
			if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && n == 0))
				link_fail(l, -ECONNRESET, "the peer closed the link");
			else {
				char msg[256];

				link_fail(l, -ECONNRESET, "read: %s",
					  e == SSL_ERROR_SYSCALL ? strerror(errno)
								 : tls_psk_error(msg, sizeof(msg)));
			}
			return;
		}
		l->last_rx = now_usec();
		k = nghttp2_session_mem_recv(l->h2, buf, (size_t)n);
		if (k < 0) {
			link_fail(l, -EPROTO, "HTTP/2: %s", nghttp2_strerror((int)k));
			return;
		}
	}
	/* read-ahead may hold whole records the socket will not signal again: come back for them */
	if (i == READS_PER_EVENT && l->state == LINK_UP && SSL_has_pending(l->ssl))
		(void)sd_event_source_set_enabled(l->read_src, SD_EVENT_ONESHOT);
	link_schedule_flush(l);
}

static int on_read_more(sd_event_source *src, void *userdata)
{
	link_read(userdata);
	return 0;
}

static void link_handshake(struct h2_link *l)
{
	int n, r;

	ERR_clear_error();
	n = SSL_do_handshake(l->ssl);
	if (n == 1) {
		if (SSL_version(l->ssl) != TLS1_3_VERSION || !SSL_session_reused(l->ssl)) {
			link_fail(l, -EACCES, "TLS handshake: not a TLS 1.3 PSK session");
			return;
		}
		l->state = LINK_UP;
		l->last_rx = now_usec();
		r = link_start_h2(l);
		if (r < 0) {
			link_fail(l, r, "cannot start HTTP/2: %s", strerror(-r));
			return;
		}
		if (l->dialer)
			link_send_pending(l);
		l->ops->up(l, l->userdata);
		if (l->state != LINK_UP)
			return;
		link_update_events(l);
		(void)link_flush(l);
		if (l->state == LINK_UP && SSL_has_pending(l->ssl))
			link_read(l);
		return;
	}
	switch (SSL_get_error(l->ssl, n)) {
	case SSL_ERROR_WANT_READ:
		(void)sd_event_source_set_io_events(l->io, EPOLLIN);
		return;
	case SSL_ERROR_WANT_WRITE:
		(void)sd_event_source_set_io_events(l->io, EPOLLOUT);
		return;
	case SSL_ERROR_SYSCALL:
		if (ERR_peek_error() == 0) {
			int err = errno ? errno : ECONNRESET;

			link_fail(l, -err, "TLS handshake: %s", strerror(err));
			return;
		}
		__attribute__((fallthrough));
	default: {
		char e[256];

		link_fail(l, -EACCES, "TLS handshake failed (wrong key?): %s",
			  tls_psk_error(e, sizeof(e)));
	}
	}
}

static int on_io(sd_event_source *src, int fd, uint32_t revents, void *userdata)
{
	struct h2_link *l = userdata;

	if (l->state == LINK_HANDSHAKE) {
		if (revents & (EPOLLERR | EPOLLHUP)) {
			int err = 0;
			socklen_t len = sizeof(err);

			(void)getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
			link_fail(l, err ? -err : -ECONNRESET, "connect: %s",
				  strerror(err ? err : ECONNRESET));
			return 0;
		}
		link_handshake(l);
		return 0;
	}
	if (l->state != LINK_UP)
		return 0;
	if (revents & EPOLLOUT)
		if (link_flush(l) < 0)
			return 0;
	if (revents & (EPOLLIN | EPOLLHUP | EPOLLERR))
		link_read(l);
	return 0;
}

static int on_timer(sd_event_source *src, uint64_t usec, void *userdata)
{
	struct h2_link *l = userdata;
	uint64_t now = now_usec();

	if (l->state == LINK_HANDSHAKE && now - l->started >= H2_LINK_HANDSHAKE_USEC) {
		link_fail(l, -ETIMEDOUT, "TLS handshake timed out");
		return 0;
	}
	if (l->state == LINK_UP) {
		if (now - l->last_rx >= H2_LINK_DEAD_USEC) {
			link_fail(l, -ETIMEDOUT, "peer not answering for %llu s",
				  (unsigned long long)(H2_LINK_DEAD_USEC / 1000000));
			return 0;
		}
		if (now - l->last_rx >= H2_LINK_PING_USEC && !l->ping_out) {
			(void)nghttp2_submit_ping(l->h2, NGHTTP2_FLAG_NONE, NULL);
			l->ping_out = true;
			l->ping_sent = now;
			link_schedule_flush(l);
		} else if (now - l->last_rx >= H2_LINK_PING_USEC * 2) {
			l->ping_out = false; /* ask again */
		}
	}
	if (l->state != LINK_DEAD) {
		(void)sd_event_source_set_time_relative(src, H2_LINK_PING_USEC / 2);
		(void)sd_event_source_set_enabled(src, SD_EVENT_ONESHOT);
	}
	return 0;
}

static int on_notify(sd_event_source *src, void *userdata)
{
	struct h2_link *l = userdata;
	char *reason = TAKE_PTR(l->down_reason);

	if (l->notified) {
		free(reason);
		return 0;
	}
	l->notified = true;
	l->ops->down(l, l->down_error, reason, l->userdata); /* may free l */
	return 0;
}

static void link_fail(struct h2_link *l, int error, const char *fmt, ...)
{
	va_list ap;

	if (l->state == LINK_DEAD)
		return;
	l->state = LINK_DEAD;
	l->down_error = error;
	va_start(ap, fmt);
	if (vasprintf(&l->down_reason, fmt, ap) < 0)
		l->down_reason = NULL;
	va_end(ap);
	(void)sd_event_source_set_enabled(l->io, SD_EVENT_OFF);
	(void)sd_event_source_set_enabled(l->timer, SD_EVENT_OFF);
	(void)sd_event_source_set_enabled(l->flush_src, SD_EVENT_OFF);
	(void)sd_event_source_set_enabled(l->read_src, SD_EVENT_OFF);
	/* every stream fails now; owners free theirs when they like */
	while (l->streams) {
		struct h2s *s = l->streams;

		h2s_link_remove(s);
		if (!s->rerr)
			s->rerr = error == -ETIMEDOUT ? -ETIMEDOUT : -ECONNRESET;
		s->h2_closed = true;
		if (!s->owned)
			h2s_destroy(s);
		else
			stream_wake(&s->st);
	}
	l->rev = NULL;
	(void)sd_event_source_set_enabled(l->notify_src, SD_EVENT_ONESHOT);
}

/* ---- the link ----------------------------------------------------------------------------- */

int h2_link_new(sd_event *e, int fd, SSL_CTX *ctx, bool dialer, const struct h2_link_ops *ops,
		void *userdata, struct h2_link **ret)
{
	union sockaddr_union sa;
	socklen_t salen = sizeof(sa);
	struct h2_link *l;
	int r, one = 1;

	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->event = sd_event_ref(e);
	l->fd = -EBADF;
	l->dialer = dialer;
	l->ops = ops;
	l->userdata = userdata;
	l->state = LINK_HANDSHAKE;
	l->started = now_usec();
	l->next_token = 1;
	if (getpeername(fd, &sa.sa, &salen) == 0)
		sockaddr_format(&sa.sa, salen, l->peer);
	else
		snprintf(l->peer, sizeof(l->peer), "?");
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	l->ssl = SSL_new(ctx);
	if (!l->ssl || !SSL_set_fd(l->ssl, fd)) {
		r = -ENOMEM;
		goto fail;
	}
	if (dialer)
		SSL_set_connect_state(l->ssl);
	else
		SSL_set_accept_state(l->ssl);
	r = sd_event_add_io(e, &l->io, fd, dialer ? EPOLLOUT : EPOLLIN, on_io, l);
	if (r < 0)
		goto fail;
	r = sd_event_add_defer(e, &l->flush_src, on_flush, l);
	if (r < 0)
		goto fail;
	(void)sd_event_source_set_enabled(l->flush_src, SD_EVENT_OFF);
	r = sd_event_add_defer(e, &l->read_src, on_read_more, l);
	if (r < 0)
		goto fail;
	(void)sd_event_source_set_enabled(l->read_src, SD_EVENT_OFF);
	r = sd_event_add_defer(e, &l->notify_src, on_notify, l);
	if (r < 0)
		goto fail;
	(void)sd_event_source_set_enabled(l->notify_src, SD_EVENT_OFF);
	r = sd_event_add_time_relative(e, &l->timer, CLOCK_MONOTONIC, H2_LINK_PING_USEC / 2,
				       100 * 1000, on_timer, l);
	if (r < 0)
		goto fail;
	l->fd = fd;
	*ret = l;
	return 0;
fail:
	l->io = sd_event_source_disable_unref(l->io);
	h2_link_free(l);
	return r;
}

struct h2_link *h2_link_free(struct h2_link *l)
{
	if (!l)
		return NULL;
	if (l->state != LINK_DEAD) {
		link_fail(l, -ECONNABORTED, "closed");
	}
	l->notified = true;
	l->io = sd_event_source_disable_unref(l->io);
	l->flush_src = sd_event_source_disable_unref(l->flush_src);
	l->read_src = sd_event_source_disable_unref(l->read_src);
	l->timer = sd_event_source_disable_unref(l->timer);
	l->notify_src = sd_event_source_disable_unref(l->notify_src);
	if (l->h2)
		nghttp2_session_del(l->h2);
	if (l->ssl)
		SSL_free(l->ssl);
	safe_close(l->fd);
	free(l->out);
	while (l->pool) {
		struct blk *b = l->pool;

		l->pool = b->next;
		free(b);
	}
	free(l->down_reason);
	sd_event_unref(l->event);
	free(l);
	return NULL;
}

int h2_link_open(struct h2_link *l, const char *path, struct stream **ret)
{
	struct h2s *s;
	int r = 0;

	if (!path || path[0] != '/' || strlen(path) > H2_LINK_PATH_MAX || strchr(path, ' ') ||
	    strchr(path, '\n'))
		return -EINVAL;
	if (l->state == LINK_DEAD)
		return -ENOTCONN;
	s = h2s_new(l, path);
	if (!s)
		return -ENOMEM;
	s->owned = true;
	if (!l->dialer) {
		s->token = l->next_token++;
		if (l->next_token == 0)
			l->next_token = 1;
	}
	if (l->state == LINK_UP) {
		if (l->dialer)
			r = h2s_submit(l, s);
		else if (l->rev) {
			r = h2s_ask_reverse(l, s);
			s->asked = true;
		}
	}
	if (r < 0) {
		h2s_destroy(s);
		return r;
	}
	*ret = &s->st;
	return 0;
}

bool h2_link_is_up(const struct h2_link *l)
{
	return l->state == LINK_UP;
}

const char *h2_link_peer(const struct h2_link *l)
{
	return l->peer;
}

void h2_link_get_stats(const struct h2_link *l, struct h2_link_stats *ret)
{
	*ret = l->stats;
}

unsigned h2_link_streams(const struct h2_link *l)
{
	return l->n_streams - (l->rev ? 1 : 0);
}

void h2_link_bytes(const struct h2_link *l, uint64_t *ret_in, uint64_t *ret_out)
{
	*ret_in = l->bytes_in;
	*ret_out = l->bytes_out;
}

SSL *h2_link_ssl(const struct h2_link *l)
{
	return l->ssl;
}

void h2_link_set_userdata(struct h2_link *l, void *userdata)
{
	l->userdata = userdata;
}
