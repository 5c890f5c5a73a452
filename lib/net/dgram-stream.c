/* SPDX-License-Identifier: MIT */
/*
 * dgram-stream.c - datagrams as length-prefixed frames on a byte stream (dgram-stream.h)
 *
 * Theory of operation. The socket is one edge-triggered watch on the ioloop; every edge is a
 * stream_wake(), as in stream-socket.c. Reading: one datagram at a time is received into rbuf
 * behind room for its two-byte length, and handed out as one frame through peek()/consume()
 * (the relay writes it straight from there) or read(); the next datagram is received only once
 * the frame is taken. Writing: a frame that arrives whole in one write() is sent straight from
 * the caller's buffer; one that arrives in pieces is gathered in wbuf first. Both buffers exist
 * only while a datagram is in them.
 *
 * Idle: one sd-event timer per stream, armed for last traffic + idle time; traffic only moves
 * a timestamp, and a timer that fires early re-arms itself for the new deadline.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <systemd/sd-event.h>

#include "dgram-stream.h"
#include "ioloop.h"
#include "stream.h"
#include "time-util.h"

struct dgram_stream {
	struct stream st; /* first: the stream is the dgram stream */
	struct ioloop_watch w;
	struct ioloop *loop;
	sd_event_source *timer;
	int fd;
	uint64_t idle_usec, last;
	bool ended;	   /* idle or shut down: reads return EOF */
	uint8_t *rbuf;	   /* DGRAM_FRAME_HDR + DGRAM_MAX, while a frame is in it */
	size_t roff, rlen; /* the frame's bytes not yet taken */
	uint8_t *wbuf;	   /* a frame gathered from pieces */
	size_t wlen;	   /* bytes of it so far (header included) */
};

static struct dgram_stream *from_stream(struct stream *st)
{
	return (struct dgram_stream *)st;
}

static void on_io(struct ioloop_watch *w, int fd, uint32_t revents)
{
	struct dgram_stream *d =
		(struct dgram_stream *)((char *)w - offsetof(struct dgram_stream, w));

	stream_wake(&d->st);
}

static int on_timer(sd_event_source *src, uint64_t usec, void *userdata)
{
	struct dgram_stream *d = userdata;
	uint64_t now = now_usec();

	if (now - d->last >= d->idle_usec) {
		d->ended = true;
		stream_wake(&d->st);
		return 0;
	}
	(void)sd_event_source_set_time_relative(src, d->last + d->idle_usec - now);
	(void)sd_event_source_set_enabled(src, SD_EVENT_ONESHOT);
	return 0;
}

/* Receive the next datagram as a frame. Return: 0 (a frame is ready), -EAGAIN, -errno */
static int ds_fill(struct dgram_stream *d)
{
	for (;;) {
		ssize_t n;

		if (!d->rbuf) {
			d->rbuf = malloc(DGRAM_FRAME_HDR + DGRAM_MAX);
			if (!d->rbuf)
				return -ENOMEM;
		}
		n = recv(d->fd, d->rbuf + DGRAM_FRAME_HDR, DGRAM_MAX, MSG_DONTWAIT | MSG_TRUNC);
		if (n < 0) {
			if (errno == EINTR || errno == ECONNREFUSED)
				continue; /* an ICMP error for an earlier datagram: UDP goes on */
			free(d->rbuf);
			d->rbuf = NULL;
			return errno == EWOULDBLOCK ? -EAGAIN : -errno;
		}
		if ((size_t)n > DGRAM_MAX)
			continue; /* cannot happen with UDP; never send a truncated datagram */
		d->rbuf[0] = (uint8_t)(n >> 8);
		d->rbuf[1] = (uint8_t)n;
		d->roff = 0;
		d->rlen = DGRAM_FRAME_HDR + (size_t)n;
		d->last = now_usec();
		return 0;
	}
}

static ssize_t ds_peek(struct stream *st, const void **ret_ptr)
{
	struct dgram_stream *d = from_stream(st);

	if (d->ended)
		return 0;
	if (d->rlen == 0) {
		int r = ds_fill(d);

		if (r < 0)
			return r;
	}
	*ret_ptr = d->rbuf + d->roff;
	return (ssize_t)d->rlen;
}

static void ds_consume(struct stream *st, size_t n)
{
	struct dgram_stream *d = from_stream(st);

	d->roff += n;
	d->rlen -= n;
	if (d->rlen == 0) {
		free(d->rbuf);
		d->rbuf = NULL;
	}
}

static ssize_t ds_read(struct stream *st, void *buf, size_t len)
{
	const void *p;
	ssize_t n = ds_peek(st, &p);

	if (n <= 0)
		return n;
	if ((size_t)n > len)
		n = (ssize_t)len;
	memcpy(buf, p, (size_t)n);
	ds_consume(st, (size_t)n);
	return n;
}

static size_t frame_len(const uint8_t *hdr)
{
	return DGRAM_FRAME_HDR + ((size_t)hdr[0] << 8 | hdr[1]);
}

static int ds_send(struct dgram_stream *d, const uint8_t *data, size_t len)
{
	ssize_t n;

	do
		n = send(d->fd, data, len, MSG_DONTWAIT | MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	d->last = now_usec();
	if (n >= 0)
		return 0;
	/* dropped, as a router would: a full socket buffer, no route yet, an ICMP error earlier */
	if (errno == EAGAIN || errno == ENOBUFS || errno == ECONNREFUSED || errno == EHOSTUNREACH ||
	    errno == ENETUNREACH || errno == EMSGSIZE)
		return 0;
	if (errno == ENOTCONN) {
		/* the other end of a socketpair is gone (its UDP session ended): so is this one */
		d->ended = true;
		stream_wake(&d->st);
		return 0;
	}
	return -errno;
}

static ssize_t ds_write(struct stream *st, const void *buf, size_t len)
{
	struct dgram_stream *d = from_stream(st);
	const uint8_t *p = buf;
	size_t left = len;
	int r;

	if (d->ended)
		return -EPIPE;
	while (left > 0 && !d->ended) {
		size_t want, n;

		if (d->wlen == 0 && left >= DGRAM_FRAME_HDR && left >= frame_len(p)) {
			/* a whole frame: straight from the caller's buffer */
			want = frame_len(p);
			r = ds_send(d, p + DGRAM_FRAME_HDR, want - DGRAM_FRAME_HDR);
			if (r < 0)
				return r;
			p += want;
			left -= want;
			continue;
		}
		if (!d->wbuf) {
			/* calloc: a frame split across writes is rare, and the analyzer sees the
			 * header bytes written */
			d->wbuf = calloc(1, DGRAM_FRAME_HDR + DGRAM_MAX);
			if (!d->wbuf)
				return -ENOMEM;
		}
		want = d->wlen < DGRAM_FRAME_HDR ? DGRAM_FRAME_HDR : frame_len(d->wbuf);
		n = want - d->wlen < left ? want - d->wlen : left;
		memcpy(d->wbuf + d->wlen, p, n);
		d->wlen += n;
		p += n;
		left -= n;
		if (d->wlen >= DGRAM_FRAME_HDR && d->wlen == frame_len(d->wbuf)) {
			r = ds_send(d, d->wbuf + DGRAM_FRAME_HDR, d->wlen - DGRAM_FRAME_HDR);
			free(d->wbuf);
			d->wbuf = NULL;
			d->wlen = 0;
			if (r < 0)
				return r;
		}
	}
	return (ssize_t)len;
}

static int ds_shutdown_write(struct stream *st)
{
	struct dgram_stream *d = from_stream(st);

	/* a datagram session has no half-close: the other way ends too */
	d->ended = true;
	stream_wake(&d->st);
	return 0;
}

static void ds_free(struct stream *st)
{
	struct dgram_stream *d = from_stream(st);

	ioloop_cancel(&d->w);
	d->fd = ioloop_close(d->loop, d->fd);
	d->timer = sd_event_source_disable_unref(d->timer);
	free(d->rbuf);
	free(d->wbuf);
	free(d);
}

static const struct stream_ops dgram_stream_ops = {
	.kind = "datagram",
	.read = ds_read,
	.write = ds_write,
	.shutdown_write = ds_shutdown_write,
	.peek = ds_peek,
	.consume = ds_consume,
	.free = ds_free,
};

int dgram_stream_new(struct ioloop *l, int fd, uint64_t idle_usec, struct stream **ret)
{
	struct dgram_stream *d;
	int r;

	if (!l || fd < 0 || !ret)
		return -EINVAL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->st.ops = &dgram_stream_ops;
	d->w.fn = on_io;
	d->loop = l;
	d->fd = -EBADF;
	d->idle_usec = idle_usec;
	d->last = now_usec();
	if (idle_usec > 0) {
		uint64_t acc = idle_usec / 10 < 1000000 ? idle_usec / 10 : 1000000;

		r = sd_event_add_time_relative(ioloop_event(l), &d->timer, CLOCK_MONOTONIC,
					       idle_usec, acc, on_timer, d);
		if (r < 0) {
			free(d);
			return r;
		}
	}
	r = ioloop_add(l, fd, EPOLLIN | EPOLLET, &d->w);
	if (r < 0) {
		d->timer = sd_event_source_disable_unref(d->timer);
		free(d);
		return r; /* ownership of fd stays with the caller */
	}
	d->fd = fd;
	*ret = &d->st;
	return 0;
}
