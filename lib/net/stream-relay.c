/* SPDX-License-Identifier: MIT */
/*
 * stream-relay.c - the buffered relay: two ends of which at least one is a user-space stream
 *
 * Theory of operation. Both ends are struct stream (stream.h); a socket end is wrapped in a
 * stream_socket (stream-socket.h), which turns its ioloop edges into wakes. Direction d reads end
 * d and writes end !d (d = 0: client -> backend, "up") through its own buffer of at most
 * SR_BUF_SIZE bytes, malloc'ed when the direction first reads and freed whenever a pump leaves it
 * empty, so an idle relay holds no buffer. A pump of direction d, until it must wait:
 *
 *   - write what the buffer holds to the sink; -EAGAIN from the sink stops the direction, reads
 *     included (backpressure: the source is not read again until the sink wakes the relay);
 *   - at the source's EOF, once the buffer is empty, shutdown_write() the sink: the direction is
 *     finished and the other one keeps flowing;
 *   - once the sink took everything, read from the source into the empty buffer; -EAGAIN stops
 *     the direction until the source wakes the relay.
 *
 * So a direction holds at most SR_BUF_SIZE bytes the sink refused, and a slow sink slows the
 * source down to its own pace instead of filling memory.
 *
 * Zero copy. When the source can peek() (stream.h), the sink writes straight from the source's
 * buffer and the relay buffer is never used; otherwise, when the sink can reserve(), the source
 * reads straight into the sink's send buffer. A peer stream (lib/peer/h2-link.c) does both, so a
 * socket <-> peer relay copies each byte once in user space per direction, not twice.
 *
 * Wakes. Every end's wake callback only puts the relay on the ioloop's deferred list (a stream
 * may wake from inside our own read()/write() call, so nothing runs re-entrantly); the deferred
 * run pumps both directions. A wake carries no detail: both directions retry, and the spurious
 * tries end in -EAGAIN. relay_new() defers one run too, for what arrived before the relay set
 * its wake callbacks, so done is never called from inside relay_new().
 *
 * Fairness: a direction moves at most SR_BUDGET bytes per run, then the relay defers itself.
 *
 * The relay is done (error 0, "done") when both directions are finished, or at the first error
 * ("client reset", "backend error", ... by the end that failed); either way both ends are freed
 * before done is called.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "ioloop.h"
#include "relay.h"
#include "stream-relay.h"
#include "stream-socket.h"
#include "stream.h"

#define SR_BUF_SIZE (16U * 1024)   /* per direction */
#define SR_BUDGET   (1024U * 1024) /* bytes per direction per run */

struct sr_dir {
	char *buf;	/* SR_BUF_SIZE bytes, or NULL while empty */
	uint32_t off;	/* buffered bytes start here */
	uint32_t len;	/* and there are this many */
	uint64_t bytes; /* delivered to the sink */
	bool eof;	/* the source reached EOF */
	bool shut;	/* EOF passed on: direction finished */
	bool again;	/* stopped on its budget */
};

struct stream_relay {
	struct ioloop_watch w; /* first: the watch is the stream relay */
	struct ioloop *loop;
	struct relay *owner;
	struct stream *end[2]; /* client, backend; NULL once freed */
	relay_done_fn done;
	void *userdata;
	struct sr_dir dir[2];
};

static int sr_fail(const char **ret_reason, unsigned side, ssize_t e)
{
	*ret_reason = relay_error_reason(side, (int)-e);
	return (int)e;
}

/* Moves @n bytes' worth of accounting after the sink took them. */
static void sr_took(struct sr_dir *x, size_t n, size_t *budget)
{
	x->bytes += n;
	*budget = n >= *budget ? 0 : *budget - n;
}

/*
 * Zero-copy step when the source can peek: the sink's write() takes straight from the source's
 * buffer. Return: 1 moved something, 0 must wait, <0 failed (*ret_reason set).
 */
static int sr_step_peek(struct stream_relay *sr, unsigned d, size_t *budget,
			const char **ret_reason)
{
	struct sr_dir *x = &sr->dir[d];
	struct stream *src = sr->end[d], *dst = sr->end[!d];
	const void *p;
	ssize_t n, w;

	n = src->ops->peek(src, &p);
	if (n == -EAGAIN)
		return 0; /* the source wakes us */
	if (n < 0)
		return sr_fail(ret_reason, d, n);
	if (n == 0) {
		x->eof = true;
		return 1;
	}
	w = dst->ops->write(dst, p, (size_t)n);
	if (w == -EAGAIN || w == 0)
		return 0; /* backpressure: the bytes stay with the source, the sink wakes us */
	if (w < 0)
		return sr_fail(ret_reason, !d, w);
	src->ops->consume(src, (size_t)w);
	sr_took(x, (size_t)w, budget);
	return 1;
}

/*
 * Zero-copy step when the sink can reserve: the source's read() lands in the sink's own send
 * buffer. Return: as sr_step_peek().
 */
static int sr_step_reserve(struct stream_relay *sr, unsigned d, size_t *budget,
			   const char **ret_reason)
{
	struct sr_dir *x = &sr->dir[d];
	struct stream *src = sr->end[d], *dst = sr->end[!d];
	void *p;
	ssize_t room, n;

	room = dst->ops->reserve(dst, &p);
	if (room == -EAGAIN)
		return 0; /* the sink is full and wakes us */
	if (room < 0)
		return sr_fail(ret_reason, !d, room);
	n = src->ops->read(src, p, (size_t)room);
	dst->ops->commit(dst, n > 0 ? (size_t)n : 0);
	if (n == -EAGAIN)
		return 0;
	if (n < 0)
		return sr_fail(ret_reason, d, n);
	if (n == 0) {
		x->eof = true;
		return 1;
	}
	sr_took(x, (size_t)n, budget);
	return 1;
}

/*
 * Moves what direction @d can move now. Return: 0 when it must wait (sink or source said -EAGAIN,
 * finished, or budget spent: x->again), or a negative errno with *ret_reason set.
 */
static int sr_pump(struct stream_relay *sr, unsigned d, const char **ret_reason)
{
	struct sr_dir *x = &sr->dir[d];
	struct stream *src = sr->end[d], *dst = sr->end[!d];
	size_t budget = SR_BUDGET;
	ssize_t n;
	int k;

	x->again = false;
	while (!x->shut) {
		if (x->len > 0) {
			n = dst->ops->write(dst, x->buf + x->off, x->len);
			if (n == -EAGAIN || n == 0)
				break; /* backpressure: the sink wakes us */
			if (n < 0)
				return sr_fail(ret_reason, !d, n);
			x->bytes += (size_t)n;
			x->off += (uint32_t)n;
			x->len -= (uint32_t)n;
			if (x->len == 0)
				x->off = 0;
			continue;
		}
		if (x->eof) {
			int r = dst->ops->shutdown_write(dst);

			/* ENOTCONN: the sink is gone already; the other direction will notice. */
			if (r < 0 && r != -ENOTCONN)
				return sr_fail(ret_reason, !d, r);
			x->shut = true;
			break;
		}
		if (budget == 0) {
			x->again = true;
			break;
		}
		/* a peer stream's buffers are used in place: no relay buffer, one copy fewer */
		if (src->ops->peek || dst->ops->reserve) {
			k = src->ops->peek ? sr_step_peek(sr, d, &budget, ret_reason)
					   : sr_step_reserve(sr, d, &budget, ret_reason);
			if (k < 0)
				return k;
			if (k == 0)
				break;
			continue;
		}
		if (!x->buf) {
			x->buf = malloc(SR_BUF_SIZE);
			if (!x->buf) {
				*ret_reason = "out of memory";
				return -ENOMEM;
			}
		}
		/* the buffer is empty here: the sink took everything */
		n = src->ops->read(src, x->buf, SR_BUF_SIZE);
		if (n == -EAGAIN)
			break; /* the source wakes us */
		if (n < 0)
			return sr_fail(ret_reason, d, n);
		if (n == 0) {
			x->eof = true;
			continue;
		}
		x->len = (uint32_t)n;
		budget = (size_t)n >= budget ? 0 : budget - (size_t)n;
	}
	if (x->len == 0) {
		free(x->buf);
		x->buf = NULL;
	}
	return 0;
}

static void sr_close_ends(struct stream_relay *sr)
{
	for (unsigned i = 0; i < 2; i++)
		if (sr->end[i]) {
			sr->end[i]->wake = NULL; /* nothing may reach us from its free() */
			sr->end[i] = stream_free(sr->end[i]);
		}
}

static void sr_finish(struct stream_relay *sr, int error, const char *reason)
{
	ioloop_cancel(&sr->w);
	sr_close_ends(sr);
	for (unsigned i = 0; i < 2; i++) {
		sr->dir[i].shut = true;
		free(sr->dir[i].buf);
		sr->dir[i].buf = NULL;
		sr->dir[i].len = 0;
	}
	sr->done(sr->owner, error, reason, sr->userdata); /* may free sr */
}

static void on_run(struct ioloop_watch *w, int fd, uint32_t revents)
{
	struct stream_relay *sr = (struct stream_relay *)w;
	const char *reason = "done";
	int k = 0;

	for (unsigned d = 0; d < 2 && k >= 0; d++)
		k = sr_pump(sr, d, &reason);
	if (k < 0 || (sr->dir[0].shut && sr->dir[1].shut)) {
		sr_finish(sr, k, reason);
		return;
	}
	if (sr->dir[0].again || sr->dir[1].again)
		ioloop_defer(sr->loop, &sr->w);
}

static void on_wake(struct stream *st, void *userdata)
{
	struct stream_relay *sr = userdata;

	ioloop_defer(sr->loop, &sr->w);
}

static bool end_valid(const struct relay_end *e)
{
	return (e->fd >= 0) != (e->stream != NULL);
}

int stream_relay_new(struct ioloop *l, struct relay *owner, struct relay_end client,
		     struct relay_end backend, relay_done_fn done, void *userdata,
		     struct stream_relay **ret)
{
	struct relay_end ends[2] = { client, backend };
	struct stream_relay *sr;
	int r;

	if (!l || !done || !ret || !end_valid(&client) || !end_valid(&backend))
		return -EINVAL;
	if (client.fd >= 0 && backend.fd >= 0)
		return -EINVAL; /* two sockets: relay.c's splice relay */
	sr = calloc(1, sizeof(*sr));
	if (!sr)
		return -ENOMEM;
	sr->w.fn = on_run;
	sr->loop = l;
	sr->owner = owner;
	sr->done = done;
	sr->userdata = userdata;
	/* At most one end is a socket, so wrapping it is the last step that can fail and nothing
	 * has to be unwrapped. */
	for (unsigned i = 0; i < 2; i++) {
		if (ends[i].stream) {
			sr->end[i] = ends[i].stream;
			continue;
		}
		r = stream_socket_new(l, ends[i].fd, &sr->end[i]);
		if (r < 0) {
			free(sr); /* ownership of both ends stays with the caller */
			return r;
		}
		/* as in the splice relay: relayed requests must not wait for Nagle */
		(void)setsockopt(ends[i].fd, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 }, sizeof(int));
	}
	for (unsigned i = 0; i < 2; i++) {
		sr->end[i]->wake = on_wake;
		sr->end[i]->wake_userdata = sr;
	}
	ioloop_defer(l, &sr->w); /* what came before the wake callbacks were set */
	*ret = sr;
	return 0;
}

struct stream_relay *stream_relay_free(struct stream_relay *sr)
{
	if (!sr)
		return NULL;
	ioloop_cancel(&sr->w);
	sr_close_ends(sr);
	for (unsigned i = 0; i < 2; i++)
		free(sr->dir[i].buf);
	free(sr);
	return NULL;
}

void stream_relay_bytes(const struct stream_relay *sr, uint64_t *ret_up, uint64_t *ret_down)
{
	if (ret_up)
		*ret_up = sr->dir[0].bytes;
	if (ret_down)
		*ret_down = sr->dir[1].bytes;
}
