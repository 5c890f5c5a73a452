/* SPDX-License-Identifier: MIT */
/*
 * h2-streams.c - the streams of a peer link: block queues, struct stream ops, the data provider
 *
 * Streams (struct h2s) are the struct stream of h2-link.h. Their send side is a buffer the data
 * provider drains (deferred while empty, resumed by write()); their receive side a buffer filled
 * by on_data_chunk_recv, never larger than the window, which read() empties and gives back with
 * nghttp2_session_consume() (automatic window updates are off). A stream whose owner freed it
 * before HTTP/2 closed it is reset and detached; data still arriving for it is consumed at once.
 * Reverse opens (the server end opening a stream) go through the internal "/rev" stream.
 *
 * Both queues are lists of blocks (struct blk) kept in a small per-link pool, with room for a
 * frame header in front of each block's bytes so DATA leaves without a copy. h2l_h2s_submit()
 * attaches the data provider to a request or response; the reverse opens of the server end go
 * through h2l_h2s_ask_reverse(). Shared with h2-link.c and h2-session.c (h2-link-internal.h).
 */

#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nghttp2/nghttp2.h>
#include <systemd/sd-event.h>

#include "cleanup.h"
#include "h2-link-internal.h"
#include "h2-link.h"
#include "log.h"
#include "stream.h"

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
size_t h2l_bq_peek(struct bq *q, uint8_t **ret)
{
	struct blk *b = q->head;

	if (!b || b->len == 0)
		return 0;
	*ret = blk_data(b) + b->off;
	return b->len;
}

/* @n <= what h2l_bq_peek() returned */
void h2l_bq_consume(struct h2_link *l, struct bq *q, size_t n)
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

int h2l_bq_append(struct h2_link *l, struct bq *q, const void *buf, size_t len)
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

void h2l_h2s_link_remove(struct h2s *s)
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

void h2l_h2s_destroy(struct h2s *s)
{
	struct h2_link *l = s->link;

	h2l_h2s_link_remove(s);
	bq_clear(l, &s->sq);
	bq_clear(l, &s->rq);
	free(s->path);
	free(s->revline);
	free(s);
}

/* The HTTP/2 side is done with @s: free it unless its consumer still holds it. */
void h2l_h2s_h2_gone(struct h2s *s)
{
	s->h2_closed = true;
	if (s->link && s->link->h2 && s->id >= 0)
		nghttp2_session_set_stream_user_data(s->link->h2, s->id, NULL);
	if (!s->owned && !s->rev) {
		h2l_h2s_destroy(s);
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
	size_t n = h2l_bq_peek(&s->rq, &p);

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
	h2l_bq_consume(s->link, &s->rq, n);
	/* the window is given back as the consumer reads: a slow reader stalls only itself */
	if (s->link && s->link->h2 && s->id >= 0 && !s->h2_closed) {
		(void)nghttp2_session_consume(s->link->h2, s->id, n);
		h2l_schedule_flush(s->link);
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
		size_t n = h2l_bq_peek(&s->rq, &p);

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
		h2l_schedule_flush(s->link);
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
	r = h2l_bq_append(s->link, &s->sq, buf, len);
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
		h2l_h2s_destroy(s);
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
		h2l_schedule_flush(l);
		if (!nghttp2_session_find_stream(l->h2, s->id)) {
			/* closed already, or submitted and not sent yet (a reverse-open refused at
			 * once): nghttp2 may still open and reset it, so it must not find us */
			(void)nghttp2_session_set_stream_user_data(l->h2, s->id, NULL);
			h2l_h2s_destroy(s);
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

struct h2s *h2l_h2s_new(struct h2_link *l, const char *path)
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
 * h2l_on_send_data() writes the frame header into the BLK_HEAD room (or over bytes already sent)
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
	n = h2l_bq_peek(&s->sq, &p);
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

int h2l_h2s_submit(struct h2_link *l, struct h2s *s)
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
	h2l_schedule_flush(l);
	return 0;
}

/* Server end: ask the client to open a stream for @s (through /rev). */
int h2l_h2s_ask_reverse(struct h2_link *l, struct h2s *s)
{
	char line[H2_LINK_PATH_MAX + 32];
	int n;

	n = snprintf(line, sizeof(line), "%" PRIu32 " %s\n", s->token, s->path);
	if (n < 0 || (size_t)n >= sizeof(line))
		return -EINVAL;
	if (h2l_bq_append(l, &l->rev->sq, line, (size_t)n) < 0)
		return -ENOMEM;
	return h2s_resume(l->rev);
}

/* Everything opened while the link was not ready goes out now. */
void h2l_send_pending(struct h2_link *l)
{
	for (struct h2s *s = l->streams, *next; s; s = next) {
		int r = 0;

		next = s->next;
		if (s->submitted || s->incoming || s->rev || s->h2_closed)
			continue;
		if (l->dialer)
			r = h2l_h2s_submit(l, s);
		else if (l->rev && !s->asked) {
			r = h2l_h2s_ask_reverse(l, s);
			s->asked = true; /* submitted when the client's request comes */
		}
		if (r < 0) {
			s->rerr = r;
			h2l_h2s_h2_gone(s);
		}
	}
}
