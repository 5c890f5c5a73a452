/* SPDX-License-Identifier: MIT */
/*
 * stream-socket.c - a connected socket behind the struct stream vtable
 *
 * The adapter is a watch in the ioloop for its one socket, registered for the relay's events
 * (IOLOOP_STREAM_EVENTS, edge-triggered). It keeps no state about readiness: every edge simply
 * becomes stream_wake(), and the consumer finds out what changed by calling read()/write(),
 * which report EAGAIN as -EAGAIN. This is the stream contract's "wake after -EAGAIN" for free:
 * a socket drained to EAGAIN raises a new edge when anything happens on it.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "cleanup.h"
#include "ioloop.h"
#include "stream-socket.h"
#include "stream.h"

struct stream_socket {
	struct stream st; /* first: the stream is the adapter */
	struct ioloop_watch w;
	struct ioloop *loop;
	int fd;
};

static struct stream_socket *from_stream(struct stream *st)
{
	return (struct stream_socket *)st;
}

static void on_io(struct ioloop_watch *w, int fd, uint32_t revents)
{
	struct stream_socket *s =
		(struct stream_socket *)((char *)w - offsetof(struct stream_socket, w));

	stream_wake(&s->st);
}

static ssize_t ss_read(struct stream *st, void *buf, size_t len)
{
	ssize_t n;

	do
		n = recv(from_stream(st)->fd, buf, len, MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	return n;
}

static ssize_t ss_write(struct stream *st, const void *buf, size_t len)
{
	ssize_t n;

	do
		n = send(from_stream(st)->fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	return n;
}

static int ss_shutdown_write(struct stream *st)
{
	if (shutdown(from_stream(st)->fd, SHUT_WR) < 0)
		return -errno;
	return 0;
}

static void ss_free(struct stream *st)
{
	struct stream_socket *s = from_stream(st);

	ioloop_cancel(&s->w);
	s->fd = ioloop_close(s->loop, s->fd);
	free(s);
}

static const struct stream_ops stream_socket_ops = {
	.kind = "socket",
	.read = ss_read,
	.write = ss_write,
	.shutdown_write = ss_shutdown_write,
	.free = ss_free,
};

int stream_socket_new(struct ioloop *l, int fd, struct stream **ret)
{
	struct stream_socket *s;
	int r;

	if (!l || fd < 0 || !ret)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->st.ops = &stream_socket_ops;
	s->w.fn = on_io;
	s->loop = l;
	s->fd = fd;
	/* A socket from a connector is registered already, for the same events: adopted as it is.
	 * Registering reports what is pending already, and the consumer reads first anyway. */
	r = ioloop_adopt(l, fd, IOLOOP_STREAM_EVENTS, &s->w);
	if (r < 0) {
		free(s); /* ownership of fd stays with the caller */
		return r;
	}
	*ret = &s->st;
	return 0;
}
