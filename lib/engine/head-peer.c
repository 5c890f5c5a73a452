/* SPDX-License-Identifier: MIT */
/*
 * head-peer.c - the peer-link head: a segment whose connections arrive as streams on a peer link
 *
 * A segment created by a peer daemon for its `remote` word has no listener: each connection made
 * to the creator's segment becomes a stream "/data/<id>" on the link between the two daemons,
 * and the peer server (wormholed/peer.c) hands it here. From conn_accept() on, it is a
 * connection like any other: trigger, tail, relay (a buffered one, since one end is a stream).
 */
#include <errno.h>
#include <sys/socket.h>

#include "conn.h"
#include "head.h"
#include "log.h"
#include "segment.h"
#include "stream.h"

static int peer_start(struct segment *s, char **ret_error)
{
	s->head_peer_on = true;
	return 0;
}

static void peer_stop(struct segment *s)
{
	s->head_peer_on = false;
}

static bool peer_active(const struct segment *s)
{
	return s->head_peer_on;
}

const struct head_ops head_peer_ops = {
	.kind = "peer",
	.start = peer_start,
	.stop = peer_stop,
	.active = peer_active,
};

int head_peer_accept(struct segment *s, struct stream *st, const char *from,
		     const struct sockaddr *client, unsigned client_len)
{
	if (s->head_ops != &head_peer_ops)
		return -ENOENT;
	if (!s->head_peer_on || s->head.down)
		return -ECONNREFUSED;
	log_debug("segment '%s': a stream from peer %s", s->id, from);
	conn_accept(s, RELAY_END_STREAM(st), client, (socklen_t)client_len);
	return 0;
}
