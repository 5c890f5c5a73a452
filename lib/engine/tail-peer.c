/* SPDX-License-Identifier: MIT */
/*
 * tail-peer.c - the peer tail: each connection is a new stream on the link to a peer daemon
 *
 * Opening costs no round trip: the stream exists at once (h2-link.h) and its request goes out
 * with the first bytes; a peer that refuses it (the remote segment is gone) makes the relay end
 * with a reset. The link is one per peer (lib/peer/link-manager.c), dialed when needed. The
 * tail contract wants done() later, never from inside open(): a defer source delivers it.
 *
 * UDP: the UDP head (lib/net/udp-relay.c) wants a connected datagram socket per session. It
 * gets one end of an AF_UNIX datagram socketpair; the other end, seen as a dgram stream
 * (length-prefixed frames, dgram-stream.h), is relayed to a new peer stream by a relay of its
 * own. The peer's head turns the frames back into datagrams (conn.c). Either side's idle
 * timeout ends the stream, and with it the other side's session.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>

#include <systemd/sd-event.h>

#include "cleanup.h"
#include "dgram-stream.h"
#include "errmsg.h"
#include "h2-link.h"
#include "link-manager.h"
#include "list.h"
#include "relay.h"
#include "segment.h"
#include "sockaddr.h"
#include "tail.h"

struct peer_open_op {
	struct stream *st;
	sd_event_source *src;
	tail_opened_fn done;
	void *userdata;
};

static void peer_cancel(void *handle)
{
	struct peer_open_op *o = handle;

	stream_free(o->st);
	sd_event_source_disable_unref(o->src);
	free(o);
}

static int on_deliver(sd_event_source *src, void *userdata)
{
	struct peer_open_op *o = userdata;
	tail_opened_fn done = o->done;
	void *ud = o->userdata;
	struct stream *st = o->st;

	o->st = NULL;
	peer_cancel(o);
	done(ud, 0, RELAY_END_STREAM(st));
	return 0;
}

static int peer_complete(struct segment *s, struct segment_tail *t, char **ret_error)
{
	if (!t->data)
		return errmsg_set_errno(ret_error, -EINVAL, "segment '%s': no peer for the tail",
					s->id);
	return 0;
}

int tail_peer_open_stream(struct segment *s, struct peer *p, const char *path, struct stream **ret)
{
	const struct sockaddr *c = s->d->opening_client;

	if (c && (c->sa_family == AF_INET || c->sa_family == AF_INET6)) {
		/* the client travels with the stream: "/data/<id>?from=198.51.100.7:41234" */
		char from[SOCKADDR_STR_MAX], full[H2_LINK_PATH_MAX];

		sockaddr_format(c, s->d->opening_client_len, from);
		if ((size_t)snprintf(full, sizeof(full), "%s?from=%s", path, from) < sizeof(full))
			return peer_open(p, full, ret);
	}
	return peer_open(p, path, ret);
}

static int peer_open_tail(struct segment *s, const struct segment_tail *t, tail_opened_fn done,
			  void *userdata, void **ret_handle)
{
	const struct tail_peer *tp = t->data;
	struct peer_open_op *o;
	int r;

	o = calloc(1, sizeof(*o));
	if (!o)
		return -ENOMEM;
	o->done = done;
	o->userdata = userdata;
	r = tail_peer_open_stream(s, tp->peer, tp->path, &o->st);
	if (r >= 0)
		r = sd_event_add_defer(s->d->event, &o->src, on_deliver, o);
	if (r < 0) {
		peer_cancel(o);
		return r;
	}
	*ret_handle = o;
	return 0;
}

/* One UDP session's bridge: a socketpair end <-> a peer stream. */
struct peer_dgram {
	struct tail_peer *tp;
	struct relay *relay;
	LIST_FIELDS(struct peer_dgram, dgrams);
};

static void peer_dgram_free(struct peer_dgram *pd)
{
	LIST_REMOVE(dgrams, pd->tp->dgrams, pd);
	relay_free(pd->relay);
	free(pd);
}

static void on_dgram_relay_done(struct relay *r, int error, const char *reason, void *userdata)
{
	peer_dgram_free(userdata);
}

static int peer_open_dgram(struct segment *s, const struct segment_tail *t)
{
	struct tail_peer *tp = t->data;
	_cleanup_close_ int mine = -EBADF, theirs = -EBADF;
	struct stream *st = NULL, *ds = NULL;
	struct peer_dgram *pd;
	int sv[2], r;

	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	theirs = sv[0];
	mine = sv[1];
	pd = calloc(1, sizeof(*pd));
	if (!pd)
		return -ENOMEM;
	pd->tp = tp;
	r = tail_peer_open_stream(s, tp->peer, tp->path, &st);
	if (r >= 0)
		r = dgram_stream_new(s->d->loop, mine, s->d->udp_idle_usec, &ds);
	if (r >= 0) {
		mine = -EBADF; /* the dgram stream's */
		r = relay_new(s->d->loop, s->d->pipes, RELAY_END_STREAM(ds), RELAY_END_STREAM(st),
			      on_dgram_relay_done, pd, &pd->relay);
	}
	if (r < 0) {
		stream_free(ds);
		stream_free(st);
		free(pd);
		return r;
	}
	LIST_PREPEND(dgrams, tp->dgrams, pd);
	return TAKE_FD(theirs);
}

void tail_peer_close_dgrams(struct tail_peer *tp)
{
	while (tp->dgrams)
		peer_dgram_free(tp->dgrams);
}

const struct tail_ops tail_peer_ops = {
	.kind = "peer",
	.complete = peer_complete,
	.open = peer_open_tail,
	.cancel = peer_cancel,
	.open_dgram = peer_open_dgram,
};
